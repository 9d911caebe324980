#pragma once
#include <napi.h>

namespace amber {
// Registers seekDataRanges, copyFileRange and copyFileRangeAsync on `exports`.
void InitFileRanges(Napi::Env env, Napi::Object exports);
}
