// Shared helpers to turn a failed syscall into a JS Error whose `code` is the errno name.
#pragma once
#include <napi.h>
#include <cerrno>
#include <cstring>
#include <string>

namespace amber {

const char* ErrnoName(int err);

// Throws (as a pending JS exception) an Error like "setns(/run/netns/x): EPERM (Operation not permitted)".
void ThrowErrno(Napi::Env env, const std::string& what, int err);

}  // namespace amber
