#include "errors.h"

namespace amber {

const char* ErrnoName(int err) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32
  return name != nullptr ? name : "EUNKNOWN";
}

void ThrowErrno(Napi::Env env, const std::string& what, int err) {
  Napi::Error error =
      Napi::Error::New(env, what + ": " + ErrnoName(err) + " (" + std::strerror(err) + ")");
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("syscall", Napi::String::New(env, what));
  error.ThrowAsJavaScriptException();
}

}  // namespace amber
