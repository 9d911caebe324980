#pragma once
#include <napi.h>

#include <string>

namespace amber {

// A new non-blocking stream socket of `family` created inside the network namespace at `nsPath`; -errno on
// failure, with the failed step in *what.
int SocketInNamespace(const std::string& nsPath, int family, std::string* what);

Napi::Value SocketInNetns(const Napi::CallbackInfo& info);

}  // namespace amber
