// The guest's wall clock (Node cannot set it): after a restore it is behind by the length of the pause,
// and envd sets it from the host's time in /init, in its own process rather than in a helper process
// whose wake-up, pipe and interpreter a restored guest would run through emulation's cold translator.
#include <time.h>

#include <cstdint>

#include "../args.h"
#include "../errors.h"
#include "guest.h"

namespace amber {

// setRealtimeClock(epochUs): CLOCK_REALTIME to `epochUs` microseconds since 1970 (a safe integer).
static Napi::Value SetRealtimeClock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint64_t epoch_us;
  if (!ArgU64(info, 0, "epochUs", &epoch_us)) return env.Undefined();
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(epoch_us / 1000000);
  ts.tv_nsec = static_cast<long>(epoch_us % 1000000) * 1000;
  if (clock_settime(CLOCK_REALTIME, &ts) != 0) ThrowErrno(env, "clock_settime(CLOCK_REALTIME)", errno);
  return env.Undefined();
}

void InitClock(Napi::Env env, Napi::Object exports) {
  exports.Set("setRealtimeClock", Napi::Function::New(env, SetRealtimeClock, "setRealtimeClock"));
}

}  // namespace amber
