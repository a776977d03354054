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
// Checked for 12.8.0 (the Debian testing root) on the binary: virStateInitialize@@
// LIBVIRT_PRIVATE_12.8.0 keeps the six arguments in the same registers as 9.0's (dil, esi, rdx,
// cl = monolithic, r8, r9) and passes monolithic on to each stateInitialize. The wrapper is
// unversioned, which satisfies libvirtd's versioned reference from a preloaded object, and
// dlsym(RTLD_NEXT) finds the default version in libvirt.so.0 of either release.
//
// No C++ runtime is used (the library links against libc only; its newest symbol version is
// GLIBC_2.34, for dlsym), so the host's build loads in the 12.x root too, whose glibc (2.43) is
// newer.
#include <dlfcn.h>
#include <stdio.h>

extern "C" {

typedef void (*vs_inhibit_cb)(bool inhibit, void* opaque);
typedef int (*vs_state_init)(bool privileged, bool mandatory, const char* root, bool monolithic,
                             vs_inhibit_cb callback, void* opaque);

__attribute__((visibility("default"))) int virStateInitialize(bool privileged, bool mandatory,
                                                              const char* root, bool monolithic,
                                                              vs_inhibit_cb callback, void* opaque) {
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
