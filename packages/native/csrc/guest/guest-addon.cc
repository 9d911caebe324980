#include <napi.h>

#include "guest.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  amber::InitPty(env, exports);
  amber::InitXattr(env, exports);
  amber::InitInotify(env, exports);
  amber::InitDirEntries(env, exports);
  amber::InitClock(env, exports);
  amber::InitControl(env, exports);
  amber::InitSpawn(env, exports);
  return exports;
}

NODE_API_MODULE(amber_guest, Init)
