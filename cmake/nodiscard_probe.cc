// Configure-time probe (cmake/check_nodiscard.cmake): compiled twice with -Werror=unused-result.
// With VSECRET_PROBE_DISCARD a Result is dropped and the build must fail; without it the same file
// must build, so that a failure is known to come from the dropped Result and nothing else.
#include "vsecret/error.h"

namespace {

vsecret::Result<int> MayFail(bool fail) {
  if (fail) return vsecret::Fail(vsecret::ErrorCode::kInternalError, vsecret::ErrorDomain::kNone, "x");
  return 1;
}

vsecret::Result<void> MayFailVoid() { return {}; }

}  // namespace

int main() {
#ifdef VSECRET_PROBE_DISCARD
  MayFail(true);
  MayFailVoid();
#else
  (void)MayFail(true);
  (void)MayFailVoid();
#endif
  return 0;
}
