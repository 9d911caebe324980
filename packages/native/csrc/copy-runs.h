#pragma once
#include <napi.h>

namespace amber {
// Registers copyRunsAsync on `exports`.
void InitCopyRuns(Napi::Env env, Napi::Object exports);
}
