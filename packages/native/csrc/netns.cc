// A TCP socket that lives in another network namespace. setns() switches only the calling thread, and a
// socket keeps the namespace it was created in, so we hop in, create the socket, and hop straight back;
// no JavaScript runs in between. The caller connects it with Node's own (non-blocking) machinery.
#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "errors.h"
#include "unique-fd.h"

namespace amber {

int SocketInNamespace(const std::string& nsPath, int family, std::string* what) {
  UniqueFd self(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (self.get() < 0) {
    *what = "open(/proc/thread-self/ns/net)";
    return -errno;
  }
  UniqueFd target(open(nsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (target.get() < 0) {
    *what = "open(" + nsPath + ")";
    return -errno;
  }
  if (setns(target.get(), CLONE_NEWNET) != 0) {
    *what = "setns(" + nsPath + ")";
    return -errno;
  }
  int sock = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int socketErr = errno;
  if (setns(self.get(), CLONE_NEWNET) != 0) {
    // The thread is stranded in the sandbox's namespace; nothing sane can continue on it.
    perror("amber-native: setns back to the host namespace failed");
    abort();
  }
  if (sock < 0) {
    *what = "socket in " + nsPath;
    return -socketErr;
  }
  return sock;
}

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
  std::string what;
  int sock = SocketInNamespace(path, family, &what);
  if (sock < 0) {
    ThrowErrno(env, what, -sock);
    return env.Undefined();
  }
  return Napi::Number::New(env, sock);
}

}  // namespace amber
