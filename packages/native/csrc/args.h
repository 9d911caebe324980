// Argument checks shared by the bindings. Each returns false after throwing a TypeError, so a binding
// can `if (!ArgInt(...)) return env.Undefined();` without C++ exceptions (they are disabled).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace amber {

bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out);
bool ArgFd(const Napi::CallbackInfo& info, size_t i, int* out);
// Addresses and lengths arrive as JS numbers; anything above 2^53 or negative is rejected.
bool ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t* out);
bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out);
// Optional number: `fallback` when absent or undefined.
bool ArgOptInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t fallback, int64_t* out);

// Reads obj[key] as a non-negative safe integer; false (and a pending TypeError) if not.
bool PropU64(Napi::Env env, const Napi::Object& obj, const char* key, uint64_t* out);

}  // namespace amber
