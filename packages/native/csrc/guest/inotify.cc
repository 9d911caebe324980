// inotify for envd's directory watches. Node's fs.watch folds create, delete and both halves of a rename
// into one "rename" kind and is not recursive on Linux in Node 20, so a burst of changes could not be
// reported exactly; the raw events keep their kind, their order and the rename cookie.
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "../args.h"
#include "../errors.h"
#include "guest.h"

namespace amber {

namespace {

struct RawEvent {
  int wd;
  uint32_t mask;
  uint32_t cookie;
  std::string name;
};

// One blocking read on a worker thread: the fd stays blocking so no JS polling is needed; removing the
// last watch makes the kernel queue IN_IGNORED, which ends the read.
class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, int fd)
      : Napi::AsyncWorker(env, "inotifyRead"), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    alignas(struct inotify_event) char buf[64 * 1024];
    ssize_t n;
    do {
      n = read(fd_, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      err_ = errno;
      return;
    }
    for (ssize_t at = 0; at < n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(buf + at);
      events_.push_back({ev->wd, ev->mask, ev->cookie, ev->len > 0 ? std::string(ev->name) : std::string()});
      at += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      ThrowErrno(env, "read(inotify)", err_);
      deferred_.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    Napi::Array out = Napi::Array::New(env, events_.size());
    for (size_t i = 0; i < events_.size(); i++) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("wd", Napi::Number::New(env, events_[i].wd));
      o.Set("mask", Napi::Number::New(env, events_[i].mask));
      o.Set("cookie", Napi::Number::New(env, events_[i].cookie));
      o.Set("name", Napi::String::New(env, events_[i].name));
      out.Set(static_cast<uint32_t>(i), o);
    }
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  int err_ = 0;
  std::vector<RawEvent> events_;
};

Napi::Value Init(const Napi::CallbackInfo& info) {
  int fd = inotify_init1(IN_CLOEXEC);
  if (fd < 0) {
    ThrowErrno(info.Env(), "inotify_init1", errno);
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value AddWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  std::string path;
  int64_t mask = 0;
  if (!ArgFd(info, 0, &fd) || !ArgString(info, 1, "path", &path) || !ArgInt(info, 2, "mask", &mask))
    return env.Undefined();
  int wd = inotify_add_watch(fd, path.c_str(), static_cast<uint32_t>(mask));
  if (wd < 0) {
    ThrowErrno(env, "inotify_add_watch(" + path + ")", errno);
    return env.Undefined();
  }
  return Napi::Number::New(env, wd);
}

Napi::Value RmWatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  int64_t wd = 0;
  if (!ArgFd(info, 0, &fd) || !ArgInt(info, 1, "wd", &wd)) return env.Undefined();
  // EINVAL: the kernel already dropped it (its directory is gone); that is what the caller wanted.
  if (inotify_rm_watch(fd, static_cast<int>(wd)) != 0 && errno != EINVAL)
    ThrowErrno(env, "inotify_rm_watch", errno);
  return env.Undefined();
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = -1;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  auto* worker = new ReadWorker(info.Env(), fd);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitInotify(Napi::Env env, Napi::Object exports) {
  exports.Set("inotifyInit", Napi::Function::New(env, Init));
  exports.Set("inotifyAddWatch", Napi::Function::New(env, AddWatch));
  exports.Set("inotifyRmWatch", Napi::Function::New(env, RmWatch));
  exports.Set("inotifyRead", Napi::Function::New(env, Read));
}

}  // namespace amber
