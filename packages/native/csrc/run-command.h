#pragma once
#include <napi.h>

namespace amber {
// Registers runCommand on `exports`.
void InitRunCommand(Napi::Env env, Napi::Object exports);
}
