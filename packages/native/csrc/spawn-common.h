// What runCommand and spawnProcess share: their posix_spawn attributes and their string-array arguments.
// (Kept out of args.cc, which the guest addon links too: a change there would change the guest image.)
#pragma once
#include <napi.h>
#include <signal.h>
#include <spawn.h>

#include <string>
#include <vector>

namespace amber {

// As libuv gives a child_process: default signal dispositions (Node ignores SIGPIPE, and an ignored signal
// stays ignored across exec) and nothing blocked; `flags` adds more (POSIX_SPAWN_SETSID).
class ChildSpawnAttr {
 public:
  explicit ChildSpawnAttr(short flags = 0) {
    posix_spawnattr_init(&attr_);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr_, &all);
    posix_spawnattr_setsigmask(&attr_, &none);
    posix_spawnattr_setflags(&attr_, static_cast<short>(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | flags));
  }
  ~ChildSpawnAttr() { posix_spawnattr_destroy(&attr_); }
  ChildSpawnAttr(const ChildSpawnAttr&) = delete;
  ChildSpawnAttr& operator=(const ChildSpawnAttr&) = delete;
  const posix_spawnattr_t* get() const { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

// argv for posix_spawn: `file`, then `args`, then the null; points into the strings, which must outlive it.
inline std::vector<char*> SpawnArgv(std::string& file, std::vector<std::string>& args) {
  std::vector<char*> argv{file.data()};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Reads info[i] as an array of strings; false (and a pending TypeError) if it is not one.
inline bool ArgStringArray(const Napi::CallbackInfo& info, size_t i, const char* name, std::vector<std::string>* out) {
  bool ok = info.Length() > i && info[i].IsArray();
  if (ok) {
    Napi::Array array = info[i].As<Napi::Array>();
    for (uint32_t k = 0; ok && k < array.Length(); k++) {
      Napi::Value v = array.Get(k);
      ok = v.IsString();
      if (ok) out->push_back(v.As<Napi::String>().Utf8Value());
    }
  }
  if (!ok) Napi::TypeError::New(info.Env(), std::string(name) + " must be an array of strings").ThrowAsJavaScriptException();
  return ok;
}

}  // namespace amber
