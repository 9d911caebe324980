// Extended attributes (Node has no API for them): envd keeps E2B's per-file metadata as `user.e2b.*`.
// The l* calls act on a symlink itself, so a dangling link lists as having no metadata.
#include <sys/xattr.h>

#include <string>
#include <vector>

#include "../args.h"
#include "../errors.h"
#include "guest.h"

namespace amber {

// listXattrs(path, prefix) -> { name-without-prefix: value } for the attributes under `prefix`.
// Filesystems without xattr support (ENOTSUP) list nothing.
static Napi::Value ListXattrs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, prefix;
  if (!ArgString(info, 0, "path", &path) || !ArgString(info, 1, "prefix", &prefix)) return env.Undefined();
  Napi::Object out = Napi::Object::New(env);
  std::vector<char> names(1024);
  ssize_t len;
  for (;;) {
    len = llistxattr(path.c_str(), names.data(), names.size());
    if (len >= 0) break;
    if (errno == ERANGE) {
      names.resize(names.size() * 4);
      continue;
    }
    if (errno == ENOTSUP) return out;
    ThrowErrno(env, "llistxattr(" + path + ")", errno);
    return env.Undefined();
  }
  std::vector<char> value(4096);
  for (ssize_t at = 0; at < len;) {
    std::string name(names.data() + at);
    at += static_cast<ssize_t>(name.size()) + 1;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    ssize_t n = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (n < 0 && errno == ERANGE) {
      value.resize(65536);
      n = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    }
    if (n < 0) {
      if (errno == ENODATA) continue;  // removed between the list and the read
      ThrowErrno(env, "lgetxattr(" + path + ")", errno);
      return env.Undefined();
    }
    out.Set(name.substr(prefix.size()), Napi::String::New(env, value.data(), static_cast<size_t>(n)));
  }
  return out;
}

static Napi::Value SetXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, name, value;
  if (!ArgString(info, 0, "path", &path) || !ArgString(info, 1, "name", &name) ||
      !ArgString(info, 2, "value", &value))
    return env.Undefined();
  if (lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0) != 0)
    ThrowErrno(env, "lsetxattr(" + path + ", " + name + ")", errno);
  return env.Undefined();
}

static Napi::Value RemoveXattr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path, name;
  if (!ArgString(info, 0, "path", &path) || !ArgString(info, 1, "name", &name)) return env.Undefined();
  if (lremovexattr(path.c_str(), name.c_str()) != 0 && errno != ENODATA)
    ThrowErrno(env, "lremovexattr(" + path + ", " + name + ")", errno);
  return env.Undefined();
}

void InitXattr(Napi::Env env, Napi::Object exports) {
  exports.Set("listXattrs", Napi::Function::New(env, ListXattrs));
  exports.Set("setXattr", Napi::Function::New(env, SetXattr));
  exports.Set("removeXattr", Napi::Function::New(env, RemoveXattr));
}

}  // namespace amber
