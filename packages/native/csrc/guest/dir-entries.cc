// statEntries: lstat, readlink and the prefixed xattrs of many entries of one directory in one call.
// envd runs in V8's interpreter under an emulating hypervisor, where each JS-side lstat (a Stats object
// with dates) and each addon crossing costs more than the syscalls themselves: a ListDir of thousands
// of entries makes one crossing instead of two per entry.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "../args.h"
#include "../errors.h"
#include "guest.h"

namespace amber {

// Fields per entry in the returned Float64Array.
static constexpr size_t kFields = 5;

// The entry's `prefix`ed xattrs (prefix stripped) into `out`; false when it has none.
static bool ReadXattrs(Napi::Env env, const std::string& path, const std::string& prefix, Napi::Object* out) {
  char small[1024];
  std::vector<char> big;
  char* names = small;
  ssize_t len = llistxattr(path.c_str(), small, sizeof(small));
  if (len < 0 && errno == ERANGE) {
    ssize_t need = llistxattr(path.c_str(), nullptr, 0);
    if (need <= 0) return false;
    big.resize(static_cast<size_t>(need) * 2);
    len = llistxattr(path.c_str(), big.data(), big.size());
    names = big.data();
  }
  // No xattrs, no support (ENOTSUP) or gone meanwhile: no metadata, the stat already succeeded.
  if (len <= 0) return false;
  bool any = false;
  std::vector<char> value(4096);
  for (ssize_t at = 0; at < len;) {
    std::string name(names + at);
    at += static_cast<ssize_t>(name.size()) + 1;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    ssize_t n = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (n < 0 && errno == ERANGE) {
      value.resize(65536);
      n = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    }
    if (n < 0) continue;  // removed between the list and the read
    if (!any) *out = Napi::Object::New(env);
    any = true;
    out->Set(name.substr(prefix.size()), Napi::String::New(env, value.data(), static_cast<size_t>(n)));
  }
  return any;
}

// statEntries(dir, names, prefix) -> { stats: Float64Array(names.length * 5) of [mode, uid, gid, size,
// mtimeMs] (mode -1: the entry is gone), targets: { index: symlink target }, metadata: { index: {k: v} } }.
static Napi::Value StatEntries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir, prefix;
  if (!ArgString(info, 0, "dir", &dir) || !ArgString(info, 2, "prefix", &prefix)) return env.Undefined();
  if (!info[1].IsArray()) {
    Napi::TypeError::New(env, "names must be an array of strings").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array names = info[1].As<Napi::Array>();
  uint32_t count = names.Length();
  Napi::Float64Array stats = Napi::Float64Array::New(env, static_cast<size_t>(count) * kFields);
  Napi::Object targets = Napi::Object::New(env);
  Napi::Object metadata = Napi::Object::New(env);
  std::string path = dir;
  if (path.empty() || path.back() != '/') path.push_back('/');
  const size_t base = path.size();
  std::vector<char> link(4096);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value name = names.Get(i);
    if (!name.IsString()) {
      Napi::TypeError::New(env, "names must be an array of strings").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    path.resize(base);
    path += name.As<Napi::String>().Utf8Value();
    double* row = stats.Data() + static_cast<size_t>(i) * kFields;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      row[0] = -1;  // removed while listing
      continue;
    }
    row[0] = st.st_mode;
    row[1] = st.st_uid;
    row[2] = st.st_gid;
    row[3] = static_cast<double>(st.st_size);
    row[4] = static_cast<double>(st.st_mtim.tv_sec) * 1000 + static_cast<double>(st.st_mtim.tv_nsec) / 1e6;
    if (S_ISLNK(st.st_mode)) {
      ssize_t n = readlink(path.c_str(), link.data(), link.size());
      if (n >= 0 && static_cast<size_t>(n) == link.size()) {
        link.resize(65536);
        n = readlink(path.c_str(), link.data(), link.size());
      }
      if (n >= 0) targets.Set(i, Napi::String::New(env, link.data(), static_cast<size_t>(n)));
    }
    Napi::Object attrs;
    if (ReadXattrs(env, path, prefix, &attrs)) metadata.Set(i, attrs);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("stats", stats);
  out.Set("targets", targets);
  out.Set("metadata", metadata);
  return out;
}

void InitDirEntries(Napi::Env env, Napi::Object exports) {
  exports.Set("statEntries", Napi::Function::New(env, StatEntries));
}

}  // namespace amber
