#pragma once
#include <napi.h>

namespace amber {
// Registers unix-socket helpers: socketPair, listenUnix, connectUnix, sendWithFds, recvWithFds,
// acceptWithFds (async), peerCred, eventfdCreate, eventfdSignal.
void InitScmRights(Napi::Env env, Napi::Object exports);
}
