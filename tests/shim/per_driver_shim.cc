// LD_PRELOAD shim for the hypervisor chain tests: makes a libvirtd that loads a single driver
// module (LIBVIRT_DRIVER_DIR holding only libvirt_driver_qemu.so or libvirt_driver_storage.so)
// behave as that driver's per-driver daemon (virtqemud, virtstoraged).
//
// libvirtd tells its state drivers it is monolithic, and a monolithic daemon's remote driver
// declines secret:///system when no local secret driver is loaded. The only input of that
// decision is the `monolithic` argument of virStateInitialize (libvirt's private ABI, the same
// in 9.0 and 12.x: privileged, mandatory, root, monolithic, inhibit callback, opaque). This
// wrapper passes false and forwards everything else to the real function, so the remote driver
// picks mode=direct and the per-driver socket /run/libvirt/virtsecretd-sock.
//
// No C++ runtime is used (the library links against libc only), so a build on the host loads
// in the libvirt 12.x root too, whose glibc is newer.
#include <dlfcn.h>
#include <stdio.h>

extern "C" {

typedef void (*vs_inhibit_cb)(bool inhibit, void* opaque);
typedef int (*vs_state_init)(bool privileged, bool mandatory, const char* root, bool monolithic,
                             vs_inhibit_cb callback, void* opaque);

__attribute__((visibility("default"))) int virStateInitialize(bool privileged, bool mandatory,
                                                              const char* root, bool monolithic,
                                                              vs_inhibit_cb callback,
                                                              void* opaque) {
  static vs_state_init real = nullptr;
  if (real == nullptr) real = reinterpret_cast<vs_state_init>(dlsym(RTLD_NEXT, "virStateInitialize"));
  if (real == nullptr) {
    fprintf(stderr, "per_driver_shim: virStateInitialize not found\n");
    return -1;
  }
  fprintf(stderr, "per_driver_shim: virStateInitialize monolithic=%d -> 0\n", monolithic ? 1 : 0);
  return real(privileged, mandatory, root, false, callback, opaque);
}

}  // extern "C"
