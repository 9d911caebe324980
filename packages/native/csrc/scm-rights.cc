// File descriptors over unix sockets (SCM_RIGHTS). libuv reads a socket with plain read(), which drops
// ancillary data, so messages that carry fds are sent and received here (the off-loop accept of a
// handoff is in accept-with-fds.cc). Once the fd has arrived, net.Socket can take the connection.
#include "scm-rights.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "scm-rights-internal.h"
#include "unique-fd.h"

namespace amber {

// One recvmsg; fds arrive close-on-exec. Returns -1 with errno on failure.
ssize_t RecvWithFds(int fd, size_t maxBytes, size_t maxFds, int flags, Received* out) {
  out->data.resize(maxBytes);
  std::vector<char> control(CMSG_SPACE(sizeof(int) * maxFds));
  struct iovec iov = {out->data.data(), maxBytes};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do {
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  out->data.resize(static_cast<size_t>(n));
  out->truncated = (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const int* fds = reinterpret_cast<const int*>(CMSG_DATA(c));
    for (size_t i = 0; i < count; i++) out->fds.push_back(fds[i]);
  }
  return n;
}

Napi::Array FdArray(Napi::Env env, const std::vector<int>& fds) {
  Napi::Array arr = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) arr.Set(i, Napi::Number::New(env, fds[i]));
  return arr;
}

Napi::Object ReceivedToJs(Napi::Env env, Received& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<char>::Copy(env, r.data.data(), r.data.size()));
  out.Set("fds", FdArray(env, r.fds));
  out.Set("truncated", Napi::Boolean::New(env, r.truncated));
  return out;
}

bool PeerCredOf(int fd, struct ucred* cred) {
  socklen_t len = sizeof(*cred);
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == 0;
}

Napi::Object CredToJs(Napi::Env env, const struct ucred& cred, Napi::Object out) {
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

namespace {

constexpr size_t kMaxFds = kMaxFdsPerMessage;


bool FillSockaddr(Napi::Env env, const std::string& path, struct sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) {
    Napi::Error e = Napi::Error::New(env, "unix socket path is empty or longer than 107 bytes: " + path);
    e.Set("code", Napi::String::New(env, "ENAMETOOLONG"));
    e.ThrowAsJavaScriptException();
    return false;
  }
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    ThrowErrno(env, "socketpair", errno);
    return env.Undefined();
  }
  return FdArray(env, {sv[0], sv[1]});
}

// listenUnix(path, backlog = 8) -> non-blocking listening fd. The caller removes stale paths first.
Napi::Value ListenUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  int64_t backlog = 8;
  if (!ArgString(info, 0, "path", &path) || !ArgOptInt(info, 1, "backlog", 8, &backlog)) return env.Undefined();
  struct sockaddr_un addr;
  if (!FillSockaddr(env, path, &addr)) return env.Undefined();
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    ThrowErrno(env, "socket(AF_UNIX)", errno);
    return env.Undefined();
  }
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    ThrowErrno(env, "bind(" + path + ")", errno);
    return env.Undefined();
  }
  if (listen(fd.get(), static_cast<int>(backlog)) != 0) {
    ThrowErrno(env, "listen(" + path + ")", errno);
    return env.Undefined();
  }
  return Napi::Number::New(env, fd.release());
}

// connectUnix(path) -> blocking connected fd (connect on a unix socket completes or fails at once).
Napi::Value ConnectUnix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ArgString(info, 0, "path", &path)) return env.Undefined();
  struct sockaddr_un addr;
  if (!FillSockaddr(env, path, &addr)) return env.Undefined();
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    ThrowErrno(env, "socket(AF_UNIX)", errno);
    return env.Undefined();
  }
  if (connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) != 0) {
    ThrowErrno(env, "connect(" + path + ")", errno);
    return env.Undefined();
  }
  return Napi::Number::New(env, fd.release());
}

// sendWithFds(fd, data, fds) -> bytes sent. One sendmsg; the fds ride on the first byte.
Napi::Value SendWithFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  if (info.Length() < 3 || !info[1].IsTypedArray() || !info[2].IsArray()) {
    Napi::TypeError::New(env, "sendWithFds(fd, data: Uint8Array, fds: number[])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  Napi::Array fdArr = info[2].As<Napi::Array>();
  if (fdArr.Length() > kMaxFds) {
    Napi::RangeError::New(env, "too many fds").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<int> fds;
  for (uint32_t i = 0; i < fdArr.Length(); i++) fds.push_back(fdArr.Get(i).As<Napi::Number>().Int32Value());
  char dummy = 0;
  struct iovec iov = {data.ByteLength() > 0 ? static_cast<void*>(data.Data()) : &dummy,
                      data.ByteLength() > 0 ? data.ByteLength() : 1};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    ThrowErrno(env, "sendmsg", errno);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(data.ByteLength() > 0 ? n : 0));
}

// recvWithFds(fd, maxBytes = 65536, maxFds = 16) -> { data, fds, truncated }; data is empty at EOF.
// MSG_DONTWAIT: throws EAGAIN instead of blocking the event loop.
Napi::Value RecvWithFdsSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  int64_t maxBytes = 0, maxFds = 0;
  if (!ArgFd(info, 0, &fd) || !ArgOptInt(info, 1, "maxBytes", 65536, &maxBytes) ||
      !ArgOptInt(info, 2, "maxFds", 16, &maxFds))
    return env.Undefined();
  if (maxBytes < 1 || maxBytes > (1 << 24) || maxFds < 0 || maxFds > static_cast<int64_t>(kMaxFds)) {
    Napi::RangeError::New(env, "maxBytes/maxFds out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Received r;
  if (RecvWithFds(fd, static_cast<size_t>(maxBytes), static_cast<size_t>(maxFds), MSG_DONTWAIT, &r) < 0) {
    ThrowErrno(env, "recvmsg", errno);
    return env.Undefined();
  }
  return ReceivedToJs(env, r);
}

Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  struct ucred cred = {};
  if (!PeerCredOf(fd, &cred)) {
    ThrowErrno(env, "getsockopt(SO_PEERCRED)", errno);
    return env.Undefined();
  }
  return CredToJs(env, cred, Napi::Object::New(env));
}

Napi::Value EventfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    ThrowErrno(env, "eventfd", errno);
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Value EventfdSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  uint64_t one = 1;
  if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN) ThrowErrno(env, "write(eventfd)", errno);
  return env.Undefined();
}

}  // namespace

void InitScmRights(Napi::Env env, Napi::Object exports) {
  exports.Set("socketPair", Napi::Function::New(env, SocketPair));
  exports.Set("listenUnix", Napi::Function::New(env, ListenUnix));
  exports.Set("connectUnix", Napi::Function::New(env, ConnectUnix));
  exports.Set("sendWithFds", Napi::Function::New(env, SendWithFds));
  exports.Set("recvWithFds", Napi::Function::New(env, RecvWithFdsSync));
  exports.Set("acceptWithFds", Napi::Function::New(env, AcceptWithFds));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred));
  exports.Set("eventfdCreate", Napi::Function::New(env, EventfdCreate));
  exports.Set("eventfdSignal", Napi::Function::New(env, EventfdSignal));
}

}  // namespace amber
