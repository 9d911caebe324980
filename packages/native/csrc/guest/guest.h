// The guest agent's small addon (amber_guest.node): only what envd needs inside the VM, so the guest
// image does not carry the host's userfaultfd and fault-server code.
#pragma once
#include <napi.h>

namespace amber {

void InitPty(Napi::Env env, Napi::Object exports);
void InitXattr(Napi::Env env, Napi::Object exports);
void InitInotify(Napi::Env env, Napi::Object exports);
void InitDirEntries(Napi::Env env, Napi::Object exports);
void InitClock(Napi::Env env, Napi::Object exports);
void InitControl(Napi::Env env, Napi::Object exports);
void InitSpawn(Napi::Env env, Napi::Object exports);

}  // namespace amber
