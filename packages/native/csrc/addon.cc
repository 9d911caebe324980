#include <napi.h>

#include "netns.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socketInNetns", Napi::Function::New(env, amber::SocketInNetns));
  return exports;
}

NODE_API_MODULE(amber_native, Init)
