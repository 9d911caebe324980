#pragma once
#include <napi.h>

namespace amber {
// Registers the FaultServer class on `exports`.
void InitFaultServer(Napi::Env env, Napi::Object exports);
}
