// Process creation for envd without fork(). libuv forks on Linux: the kernel copies the page tables of
// envd's heap, envd then takes a copy-on-write fault on each page it writes until the child has exec'd,
// and the guest copies those pages (which the next snapshot diff must write). vfork shares the memory
// and returns once the child has exec'd; a pidfd watched on libuv's loop reports the exit (libuv reaps
// only its own children). Numbers in the package README.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <string>
#include <vector>

#include "../args.h"
#include "../errors.h"
#include "../spawn-common.h"
#include "guest.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace amber {

namespace {

// Where execvp would look, decided before vfork (the child may not allocate): `file` itself when it has
// a slash, else each directory of the child's own PATH.
std::vector<std::string> Candidates(const std::string& file, const std::vector<std::string>& env) {
  if (file.find('/') != std::string::npos) return {file};
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& entry : env) {
    if (entry.rfind("PATH=", 0) == 0) path = entry.substr(5);
  }
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + file);
    start = end + 1;
  }
  return out;
}

// A child that will never be handed to JS: waited for here, so it leaves no zombie.
void Reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

struct ChildPlan {
  std::vector<std::string> candidates;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int64_t uid;
  int64_t gid;
  int stdio[3];
  bool session;
  bool controllingTty;
};

// Runs in the vfork child, on the parent's memory: system calls only, no allocation, no return.
[[noreturn]] void ExecChild(const ChildPlan& plan, volatile int* childErrno) {
  // Node ignores SIGPIPE and handles others; a new program starts with every signal at its default.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  auto fail = [&](int err) {
    *childErrno = err;
    _exit(127);
  };
  if (plan.session && setsid() < 0) fail(errno);
  for (int fd = 0; fd < 3; fd++) {
    if (dup2(plan.stdio[fd], fd) < 0) fail(errno);
  }
  if (plan.controllingTty && ioctl(0, TIOCSCTTY, 0) < 0) fail(errno);
  // Raw system calls: in a threaded process glibc's setuid/setgid broadcast to every thread in its list
  // (under a lock of its own), and the vfork child shares envd's memory: that list and that lock are envd's.
  if (plan.gid >= 0) {
    if (syscall(SYS_setgroups, 0, nullptr) < 0 || syscall(SYS_setgid, plan.gid) < 0) fail(errno);
  }
  if (plan.uid >= 0 && syscall(SYS_setuid, plan.uid) < 0) fail(errno);
  if (chdir(plan.cwd) < 0) fail(errno);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int err = ENOENT;
  for (const auto& candidate : plan.candidates) {
    execve(candidate.c_str(), plan.argv, plan.envp);
    // As execvp: a permission problem is worth reporting over "not found" in a later directory.
    if (errno != ENOENT && errno != ENOTDIR) err = errno;
    if (errno != ENOENT && errno != ENOTDIR && errno != EACCES) break;
  }
  fail(err);
  _exit(127);
}

// spawnChild(file, args, env, cwd, uid, gid, [stdin, stdout, stderr], session, controllingTty)
//   -> { pid, pidfd }. uid/gid -1 keep envd's. The stdio fds must be >= 3 (dup2 onto 0-2 clears their
//   close-on-exec); every other fd envd holds is close-on-exec already.
Napi::Value SpawnChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file, cwd;
  std::vector<std::string> args, envStrings;
  int64_t uid = -1, gid = -1;
  if (!ArgString(info, 0, "file", &file) || !ArgStringArray(info, 1, "args", &args) ||
      !ArgStringArray(info, 2, "env", &envStrings) || !ArgString(info, 3, "cwd", &cwd) ||
      !ArgOptInt(info, 4, "uid", -1, &uid) || !ArgOptInt(info, 5, "gid", -1, &gid)) {
    return env.Undefined();
  }
  if (info.Length() < 9 || !info[6].IsArray()) {
    Napi::TypeError::New(env, "stdio must be three fds").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ChildPlan plan = {};
  Napi::Array stdio = info[6].As<Napi::Array>();
  for (uint32_t fd = 0; fd < 3; fd++) {
    Napi::Value v = stdio.Get(fd);
    if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 3) {
      Napi::TypeError::New(env, "stdio must be three fds >= 3").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    plan.stdio[fd] = v.As<Napi::Number>().Int32Value();
  }
  plan.session = info[7].ToBoolean();
  plan.controllingTty = info[8].ToBoolean();
  plan.candidates = Candidates(file, envStrings);
  std::vector<char*> argv = SpawnArgv(file, args);
  std::vector<char*> envp;
  for (auto& e : envStrings) envp.push_back(e.data());
  envp.push_back(nullptr);
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = cwd.c_str();
  plan.uid = uid;
  plan.gid = gid;

  // No handler of envd's may run on the child's side of the shared memory.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  volatile int childErrno = 0;
  pid_t pid = vfork();
  if (pid == 0) ExecChild(plan, &childErrno);
  int forkErr = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) {
    ThrowErrno(env, "vfork", forkErr);
    return env.Undefined();
  }
  if (childErrno != 0) {
    Reap(pid);
    ThrowErrno(env, "spawn " + file, childErrno);
    return env.Undefined();
  }
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    int err = errno;
    kill(pid, SIGKILL);
    Reap(pid);
    ThrowErrno(env, "pidfd_open", err);
    return env.Undefined();
  }
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  Napi::Object out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, pid));
  out.Set("pidfd", Napi::Number::New(env, pidfd));
  return out;
}

// openPipe() -> [readFd, writeFd], both close-on-exec.
Napi::Value OpenPipe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ThrowErrno(env, "pipe2", errno);
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, fds[0]));
  out.Set(1u, Napi::Number::New(env, fds[1]));
  return out;
}

struct ExitWatch {
  uv_poll_t poll;
  int pidfd;
  Napi::FunctionReference callback;
  napi_env env;
};

// The pidfd is closed only once libuv has let go of the handle polling it.
void OnWatchClosed(uv_handle_t* handle) {
  auto* watch = static_cast<ExitWatch*>(handle->data);
  close(watch->pidfd);
  delete watch;
}

void OnPidfdReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* watch = static_cast<ExitWatch*>(handle->data);
  siginfo_t si = {};
  int rc = -1;
  if (status == 0) {
    do {
      rc = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(watch->pidfd), &si, WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0 && si.si_pid == 0) return;  // woken before the exit was reapable
  }
  int err = rc < 0 ? (status < 0 ? -status : errno) : 0;
  uv_poll_stop(handle);
  Napi::Env env(watch->env);
  Napi::HandleScope scope(env);
  Napi::Value code = env.Null(), signal = env.Null();
  if (err == 0 && si.si_code == CLD_EXITED) code = Napi::Number::New(env, si.si_status);
  if (err == 0 && (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)) signal = Napi::Number::New(env, si.si_status);
  Napi::Value error = err == 0 ? env.Null() : Napi::String::New(env, std::string(ErrnoName(err)));
  Napi::Value coreDumped = Napi::Boolean::New(env, err == 0 && si.si_code == CLD_DUMPED);
  Napi::FunctionReference callback = std::move(watch->callback);
  uv_close(reinterpret_cast<uv_handle_t*>(handle), OnWatchClosed);
  Napi::AsyncContext context(env, "amberChildExit");
  callback.MakeCallback(env.Global(), {code, signal, error, coreDumped}, context);
}

// watchExit(pidfd, (code, signal, error, coreDumped) => void): reaps the child once it exits; the pidfd is the
// watch's from here on, closed when it ends (or at once if it cannot start).
// The watch keeps the loop alive, as libuv's own child handles do.
Napi::Value WatchExit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pidfd = -1;
  if (!ArgFd(info, 0, &pidfd)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "callback must be a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* watch = new ExitWatch();
  watch->pidfd = pidfd;
  watch->env = env;
  watch->callback = Napi::Persistent(info[1].As<Napi::Function>());
  watch->poll.data = watch;
  int rc = uv_poll_init(loop, &watch->poll, pidfd);
  if (rc != 0) {
    close(pidfd);
    delete watch;
    ThrowErrno(env, "uv_poll_init", -rc);
    return env.Undefined();
  }
  rc = uv_poll_start(&watch->poll, UV_READABLE, OnPidfdReadable);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), OnWatchClosed);
    ThrowErrno(env, "uv_poll_start", -rc);
  }
  return env.Undefined();
}

}  // namespace

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnChild", Napi::Function::New(env, SpawnChild));
  exports.Set("openPipe", Napi::Function::New(env, OpenPipe));
  exports.Set("watchExit", Napi::Function::New(env, WatchExit));
}

}  // namespace amber
