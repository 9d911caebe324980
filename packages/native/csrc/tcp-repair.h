#pragma once
#include <napi.h>

namespace amber {
void InitTcpRepair(Napi::Env env, Napi::Object exports);
}
