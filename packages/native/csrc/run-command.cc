// runCommand: runs a short helper program (ip, nft, sh) to completion on a worker thread, with its stdin
// fed from a buffer and its stdout and stderr collected. Node's child_process forks, and a fork copies
// the page tables of the whole agent: ~10 ms of the agent's CPU for each `ip` at ~200 MiB (more as it
// grows), plus the child's teardown of that copy. glibc's posix_spawn shares the parent's memory until
// the exec (CLONE_VM | CLONE_VFORK), so the cost does not depend on the agent's size.
#include "run-command.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "spawn-common.h"

extern char** environ;

namespace amber {

namespace {

struct Pipe {
  int read = -1;
  int write = -1;
  ~Pipe() {
    Close(read);
    Close(write);
  }
  int Open() { return pipe2(&read, O_CLOEXEC) == 0 ? 0 : -errno; }
  static void Close(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

class CommandWorker : public Napi::AsyncWorker {
 public:
  CommandWorker(Napi::Env env, std::string file, std::vector<std::string> args, std::string input)
      : Napi::AsyncWorker(env, "runCommand"),
        deferred_(Napi::Promise::Deferred::New(env)),
        file_(std::move(file)),
        args_(std::move(args)),
        input_(std::move(input)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { err_ = Run(); }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      ThrowErrno(env, "spawn " + file_, err_);
      deferred_.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("code", WIFEXITED(status_) ? Napi::Number::New(env, WEXITSTATUS(status_)) : env.Null());
    result.Set("signal", WIFSIGNALED(status_) ? Napi::Number::New(env, WTERMSIG(status_)) : env.Null());
    result.Set("stdout", Napi::String::New(env, out_));
    result.Set("stderr", Napi::String::New(env, err_text_));
    deferred_.Resolve(result);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  // 0, or the errno that kept the program from starting or being waited for.
  int Run() {
    Pipe in, out, err;
    if (int e = in.Open(); e < 0) return -e;
    if (int e = out.Open(); e < 0) return -e;
    if (int e = err.Open(); e < 0) return -e;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in.read, 0);
    posix_spawn_file_actions_adddup2(&actions, out.write, 1);
    posix_spawn_file_actions_adddup2(&actions, err.write, 2);
    ChildSpawnAttr attr;
    std::vector<char*> argv = SpawnArgv(file_, args_);
    pid_t pid;
    int spawned = posix_spawnp(&pid, file_.c_str(), &actions, attr.get(), argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) return spawned;
    Pipe::Close(in.read);
    Pipe::Close(out.write);
    Pipe::Close(err.write);
    Pump(in.write, out.read, err.read);
    while (waitpid(pid, &status_, 0) < 0) {
      if (errno != EINTR) return errno;
    }
    return 0;
  }

  // Feeds stdin and drains stdout and stderr together, so a child that writes a lot before it reads all
  // its input cannot deadlock against us. A child that exits without reading gets no EPIPE here: we stop
  // writing when the pipe reports an error.
  void Pump(int& in, int& out, int& err) {
    size_t written = 0;
    if (input_.empty()) Pipe::Close(in);
    if (in >= 0) fcntl(in, F_SETFL, O_NONBLOCK);
    char buf[16384];
    while (in >= 0 || out >= 0 || err >= 0) {
      pollfd fds[3] = {{in, POLLOUT, 0}, {out, POLLIN, 0}, {err, POLLIN, 0}};
      if (poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (in >= 0 && fds[0].revents) {
        ssize_t n = write(in, input_.data() + written, input_.size() - written);
        if (n > 0) written += static_cast<size_t>(n);
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input_.size()) Pipe::Close(in);
      }
      Drain(out, fds[1].revents, buf, sizeof buf, out_);
      Drain(err, fds[2].revents, buf, sizeof buf, err_text_);
    }
  }

  static void Drain(int& fd, short revents, char* buf, size_t size, std::string& into) {
    if (fd < 0 || revents == 0) return;
    ssize_t n = read(fd, buf, size);
    if (n > 0) into.append(buf, static_cast<size_t>(n));
    else if (n == 0 || (errno != EINTR && errno != EAGAIN)) Pipe::Close(fd);
  }

  Napi::Promise::Deferred deferred_;
  std::string file_;
  std::vector<std::string> args_;
  std::string input_;
  int err_ = 0;
  int status_ = 0;
  std::string out_;
  std::string err_text_;
};

// runCommand(file, args: string[], input: string) -> Promise<{code, signal, stdout, stderr}>
Napi::Value RunCommand(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string file, input;
  if (!ArgString(info, 0, "file", &file)) return env.Undefined();
  std::vector<std::string> args;
  if (!ArgStringArray(info, 1, "args", &args)) return env.Undefined();
  if (!ArgString(info, 2, "input", &input)) return env.Undefined();
  auto* worker = new CommandWorker(env, std::move(file), std::move(args), std::move(input));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitRunCommand(Napi::Env env, Napi::Object exports) {
  exports.Set("runCommand", Napi::Function::New(env, RunCommand));
}

}  // namespace amber
