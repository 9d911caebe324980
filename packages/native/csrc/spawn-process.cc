// spawnProcess: starts a long-lived program (QEMU) without forking the caller, and reports its exit.
// Node's child_process forks: the copy of the agent's page tables costs ~15-30 ms of its CPU per launch,
// and marks all of its memory copy-on-write, so the agent's next writes fault again. posix_spawn shares
// the caller's memory until the exec (CLONE_VM | CLONE_VFORK). A thread per child waits for it; the exit
// comes back through a thread-safe function, which keeps Node's loop alive until then (as a ChildProcess).
#include "spawn-process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "errors.h"
#include "spawn-common.h"

namespace amber {

namespace {

struct Exit {
  int status;
};

// spawnProcess(file, args, env, outputPath, fds, onExit(code|null, signal|null)) -> pid. The child gets
// /dev/null as stdin, outputPath (truncated) as stdout and stderr, fds[i] as descriptor 3 + i, a session of
// its own (a Ctrl-C aimed at the caller does not reach it), default signal dispositions, nothing blocked.
Napi::Value SpawnProcess(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file, output;
  std::vector<std::string> args, envs;
  if (!ArgString(info, 0, "file", &file)) return env.Undefined();
  if (!ArgStringArray(info, 1, "args", &args)) return env.Undefined();
  if (!ArgStringArray(info, 2, "env", &envs)) return env.Undefined();
  if (!ArgString(info, 3, "outputPath", &output)) return env.Undefined();
  if (info.Length() < 6 || !info[4].IsArray() || !info[5].IsFunction()) {
    Napi::TypeError::New(env, "spawnProcess(file, args, env, outputPath, fds, onExit)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<int> fds;
  Napi::Array fdArray = info[4].As<Napi::Array>();
  for (uint32_t i = 0; i < fdArray.Length(); i++) {
    Napi::Value v = fdArray.Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 0) {
      Napi::TypeError::New(env, "fds must be descriptors").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    fds.push_back(v.As<Napi::Number>().Int32Value());
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  // dup2 onto 3 + i clears close-on-exec there (glibc also for a descriptor already in place).
  for (size_t i = 0; i < fds.size(); i++) posix_spawn_file_actions_adddup2(&actions, fds[i], 3 + static_cast<int>(i));
  ChildSpawnAttr attr(POSIX_SPAWN_SETSID);
  std::vector<char*> argv = SpawnArgv(file, args);
  std::vector<char*> envp;
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid;
  int err = posix_spawnp(&pid, file.c_str(), &actions, attr.get(), argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    ThrowErrno(env, "spawn " + file, err);
    return env.Undefined();
  }

  auto onExit = Napi::ThreadSafeFunction::New(env, info[5].As<Napi::Function>(), "spawnProcess exit", 0, 1);
  std::thread([pid, onExit]() mutable {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    auto* exit = new Exit{status};
    napi_status queued = onExit.BlockingCall(exit, [](Napi::Env env, Napi::Function callback, Exit* exit) {
      int s = exit->status;
      delete exit;
      callback.Call({WIFEXITED(s) ? Napi::Number::New(env, WEXITSTATUS(s)) : env.Null(),
                     WIFSIGNALED(s) ? Napi::Number::New(env, WTERMSIG(s)) : env.Null()});
    });
    if (queued != napi_ok) delete exit;  // Node is shutting down: nobody to tell.
    onExit.Release();
  }).detach();
  return Napi::Number::New(env, pid);
}

}  // namespace

void InitSpawnProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnProcess", Napi::Function::New(env, SpawnProcess));
}

}  // namespace amber
