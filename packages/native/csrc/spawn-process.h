#pragma once
#include <napi.h>

namespace amber {
// Registers spawnProcess on `exports`.
void InitSpawnProcess(Napi::Env env, Napi::Object exports);
}
