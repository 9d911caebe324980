#pragma once
#include <napi.h>

namespace amber {
Napi::Value SocketInNetns(const Napi::CallbackInfo& info);
}
