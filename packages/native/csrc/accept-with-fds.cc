// acceptWithFds: poll + accept + SO_PEERCRED + recvmsg on a libuv worker thread, so waiting for a
// handoff never blocks the event loop and the SCM_RIGHTS fds are not lost to libuv's plain read().
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "args.h"
#include "errors.h"
#include "scm-rights-internal.h"
#include "unique-fd.h"

namespace amber {

namespace {

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Waits until `fd` is readable, the cancel eventfd fires, or the deadline passes. 0 or an errno.
int WaitReadable(int fd, int cancelFd, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - NowMs();
    if (left <= 0) return ETIMEDOUT;
    struct pollfd pfds[2] = {{fd, POLLIN, 0}, {cancelFd, POLLIN, 0}};
    int r = poll(pfds, cancelFd >= 0 ? 2 : 1, static_cast<int>(left > 60000 ? 60000 : left));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (cancelFd >= 0 && (pfds[1].revents & POLLIN)) return ECANCELED;
    if (pfds[0].revents != 0) return 0;
  }
}

class AcceptWorker : public Napi::AsyncWorker {
 public:
  AcceptWorker(Napi::Env env, int listenFd, int64_t timeoutMs, int cancelFd, size_t maxBytes, size_t maxFds)
      : Napi::AsyncWorker(env, "amber.acceptWithFds"),
        deferred_(Napi::Promise::Deferred::New(env)),
        listenFd_(listenFd),
        timeoutMs_(timeoutMs),
        cancelFd_(cancelFd),
        maxBytes_(maxBytes),
        maxFds_(maxFds) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    int64_t deadline = NowMs() + timeoutMs_;
    for (;;) {
      err_ = WaitReadable(listenFd_, cancelFd_, deadline);
      if (err_ != 0) {
        what_ = "accept";
        return;
      }
      int fd = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        conn_.reset(fd);
        break;
      }
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        err_ = errno;
        what_ = "accept4";
        return;
      }
    }
    if (!PeerCredOf(conn_.get(), &cred_)) {
      err_ = errno;
      what_ = "getsockopt(SO_PEERCRED)";
      return;
    }
    err_ = WaitReadable(conn_.get(), cancelFd_, deadline);
    if (err_ != 0) {
      what_ = "recvmsg (waiting for the handoff message)";
      return;
    }
    if (RecvWithFds(conn_.get(), maxBytes_, maxFds_, MSG_DONTWAIT, &received_) < 0) {
      err_ = errno;
      what_ = "recvmsg";
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      for (int fd : received_.fds) close(fd);
      ThrowErrno(env, what_, err_);
      deferred_.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    Napi::Object out = ReceivedToJs(env, received_);
    out.Set("fd", Napi::Number::New(env, conn_.release()));
    CredToJs(env, cred_, out);
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int listenFd_;
  int64_t timeoutMs_;
  int cancelFd_;
  size_t maxBytes_;
  size_t maxFds_;
  int err_ = 0;
  std::string what_;
  UniqueFd conn_;
  struct ucred cred_ = {};
  Received received_;
};

// acceptWithFds(listenFd, timeoutMs, cancelFd = -1, maxBytes = 65536, maxFds = 16)
//   -> Promise<{ fd, data, fds, truncated, pid, uid, gid }>; rejects ETIMEDOUT / ECANCELED.
}  // namespace

Napi::Value AcceptWithFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int listenFd = 0;
  int64_t timeoutMs = 0, cancelFd = -1, maxBytes = 0, maxFds = 0;
  if (!ArgFd(info, 0, &listenFd) || !ArgInt(info, 1, "timeoutMs", &timeoutMs) ||
      !ArgOptInt(info, 2, "cancelFd", -1, &cancelFd) || !ArgOptInt(info, 3, "maxBytes", 65536, &maxBytes) ||
      !ArgOptInt(info, 4, "maxFds", 16, &maxFds))
    return env.Undefined();
  if (maxBytes < 1 || maxBytes > (1 << 24) || maxFds < 0 || maxFds > static_cast<int64_t>(kMaxFdsPerMessage)) {
    Napi::RangeError::New(env, "maxBytes/maxFds out of range").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new AcceptWorker(env, listenFd, timeoutMs, static_cast<int>(cancelFd),
                                  static_cast<size_t>(maxBytes), static_cast<size_t>(maxFds));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace amber
