// Pieces of scm-rights.cc that accept-with-fds.cc shares.
#pragma once
#include <napi.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <vector>

namespace amber {

struct Received {
  std::vector<char> data;
  std::vector<int> fds;
  bool truncated = false;
};

constexpr size_t kMaxFdsPerMessage = 64;

// One recvmsg; fds arrive close-on-exec. Returns -1 with errno on failure.
ssize_t RecvWithFds(int fd, size_t maxBytes, size_t maxFds, int flags, Received* out);
Napi::Array FdArray(Napi::Env env, const std::vector<int>& fds);
Napi::Object ReceivedToJs(Napi::Env env, Received& r);
bool PeerCredOf(int fd, struct ucred* cred);
Napi::Object CredToJs(Napi::Env env, const struct ucred& cred, Napi::Object out);

// acceptWithFds(listenFd, timeoutMs, cancelFd = -1, maxBytes = 65536, maxFds = 16)
Napi::Value AcceptWithFds(const Napi::CallbackInfo& info);

}  // namespace amber
