// A TCP socket that lives in another network namespace. setns() switches only the calling thread, and a
// socket keeps the namespace it was created in, so we hop in, create the socket, and hop straight back;
// no JavaScript runs in between. The caller connects it with Node's own (non-blocking) machinery.
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errors.h"
#include "netns.h"

namespace amber {

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

Napi::Value SocketInNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "socketInNetns(nsPath: string, family?: 4|6)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>();
  int family = info.Length() > 1 && info[1].IsNumber() && info[1].As<Napi::Number>().Int32Value() == 6
                   ? AF_INET6
                   : AF_INET;

  Fd self(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (self.get() < 0) {
    ThrowErrno(env, "open(/proc/thread-self/ns/net)", errno);
    return env.Undefined();
  }
  Fd target(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (target.get() < 0) {
    ThrowErrno(env, "open(" + path + ")", errno);
    return env.Undefined();
  }
  if (setns(target.get(), CLONE_NEWNET) != 0) {
    ThrowErrno(env, "setns(" + path + ")", errno);
    return env.Undefined();
  }
  Fd sock(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  int socketErr = errno;
  if (setns(self.get(), CLONE_NEWNET) != 0) {
    // The thread is stranded in the sandbox's namespace; nothing sane can continue on it.
    perror("amber-native: setns back to the host namespace failed");
    abort();
  }
  if (sock.get() < 0) {
    ThrowErrno(env, "socket in " + path, socketErr);
    return env.Undefined();
  }
  return Napi::Number::New(env, sock.release());
}

}  // namespace amber
