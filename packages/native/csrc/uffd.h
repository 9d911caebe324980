#pragma once
#include <napi.h>

namespace amber {
// Registers the userfaultfd bindings (uffdCreate, uffdApi, uffdRegister, ...) on `exports`.
void InitUffd(Napi::Env env, Napi::Object exports);
}
