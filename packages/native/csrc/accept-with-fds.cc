// acceptWithFds: poll + accept + SO_PEERCRED + recvmsg on a thread of its own, so waiting for a
// handoff never blocks the event loop and the SCM_RIGHTS fds are not lost to libuv's plain read().
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <thread>

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

// One handoff wait. It runs on a thread of its own, not libuv's pool: a pager may wait many seconds for
// QEMU, and a few waiting at once (a fork of 4) would otherwise take every pool thread and stall the fs
// calls that start the very QEMUs they wait for.
struct AcceptJob {
  AcceptJob(Napi::Env env, int listenFd, int64_t timeoutMs, int cancelFd, size_t maxBytes, size_t maxFds)
      : deferred(Napi::Promise::Deferred::New(env)),
        listenFd(listenFd),
        timeoutMs(timeoutMs),
        cancelFd(cancelFd),
        maxBytes(maxBytes),
        maxFds(maxFds) {}

  void Run() {
    int64_t deadline = NowMs() + timeoutMs;
    for (;;) {
      err = WaitReadable(listenFd, cancelFd, deadline);
      if (err != 0) {
        what = "accept";
        return;
      }
      int fd = accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        conn.reset(fd);
        break;
      }
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        err = errno;
        what = "accept4";
        return;
      }
    }
    if (!PeerCredOf(conn.get(), &cred)) {
      err = errno;
      what = "getsockopt(SO_PEERCRED)";
      return;
    }
    err = WaitReadable(conn.get(), cancelFd, deadline);
    if (err != 0) {
      what = "recvmsg (waiting for the handoff message)";
      return;
    }
    if (RecvWithFds(conn.get(), maxBytes, maxFds, MSG_DONTWAIT, &received) < 0) {
      err = errno;
      what = "recvmsg";
    }
  }

  void Settle(Napi::Env env) {
    Napi::HandleScope scope(env);
    if (err != 0) {
      for (int fd : received.fds) close(fd);
      ThrowErrno(env, what, err);
      deferred.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    Napi::Object out = ReceivedToJs(env, received);
    out.Set("fd", Napi::Number::New(env, conn.release()));
    CredToJs(env, cred, out);
    deferred.Resolve(out);
  }

  Napi::Promise::Deferred deferred;
  int listenFd;
  int64_t timeoutMs;
  int cancelFd;
  size_t maxBytes;
  size_t maxFds;
  int err = 0;
  std::string what;
  UniqueFd conn;
  struct ucred cred = {};
  Received received;
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
  auto* job = new AcceptJob(env, listenFd, timeoutMs, static_cast<int>(cancelFd), static_cast<size_t>(maxBytes),
                            static_cast<size_t>(maxFds));
  Napi::Promise promise = job->deferred.Promise();
  auto done = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                            "amber.acceptWithFds", 0, 1);
  std::thread([job, done]() mutable {
    job->Run();
    napi_status status = done.BlockingCall(job, [](Napi::Env env, Napi::Function, AcceptJob* settled) {
      settled->Settle(env);
      delete settled;
    });
    if (status != napi_ok) delete job;  // the environment is going away; nobody waits for the promise
    done.Release();
  }).detach();
  return promise;
}

}  // namespace amber
