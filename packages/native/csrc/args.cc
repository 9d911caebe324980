#include "args.h"

#include <cmath>

namespace amber {

namespace {

constexpr double kMaxSafe = 9007199254740991.0;

bool Fail(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return false;
}

bool ToU64(Napi::Env env, const Napi::Value& v, const std::string& name, uint64_t* out) {
  if (!v.IsNumber()) return Fail(env, name + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > kMaxSafe || std::floor(d) != d) return Fail(env, name + " must be a non-negative integer");
  *out = static_cast<uint64_t>(d);
  return true;
}

}  // namespace

bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return Fail(info.Env(), std::string(name) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (std::floor(d) != d || std::fabs(d) > kMaxSafe) return Fail(info.Env(), std::string(name) + " must be an integer");
  *out = static_cast<int64_t>(d);
  return true;
}

bool ArgFd(const Napi::CallbackInfo& info, size_t i, int* out) {
  int64_t v = 0;
  if (!ArgInt(info, i, "fd", &v)) return false;
  if (v < 0 || v > INT32_MAX) return Fail(info.Env(), "fd must be a non-negative integer");
  *out = static_cast<int>(v);
  return true;
}

bool ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t* out) {
  if (info.Length() <= i) return Fail(info.Env(), std::string(name) + " is required");
  return ToU64(info.Env(), info[i], name, out);
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (info.Length() <= i || !info[i].IsString()) return Fail(info.Env(), std::string(name) + " must be a string");
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

bool ArgOptInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t fallback, int64_t* out) {
  if (info.Length() <= i || info[i].IsUndefined()) {
    *out = fallback;
    return true;
  }
  return ArgInt(info, i, name, out);
}

bool PropU64(Napi::Env env, const Napi::Object& obj, const char* key, uint64_t* out) {
  return ToU64(env, obj.Get(key), key, out);
}

}  // namespace amber
