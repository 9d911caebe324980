// Thin, synchronous wrappers over the userfaultfd ioctls. Each is one non-blocking syscall, so calling
// them on the JS thread is fine; the fault-serving hot loop lives in fault-server.cc instead. Addresses
// are JS numbers (user-space addresses on x86-64 are < 2^47, exactly representable).
#include "uffd.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "args.h"
#include "errors.h"
#include "uapi.h"

namespace amber {

namespace {

Napi::Value U64ToBigInt(Napi::Env env, uint64_t v) { return Napi::BigInt::New(env, v); }

// uffdCreate(flags?: number) -> fd. Default O_CLOEXEC|O_NONBLOCK: the reader polls, it never blocks.
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t flags = 0;
  if (!ArgOptInt(info, 0, "flags", O_CLOEXEC | O_NONBLOCK, &flags)) return env.Undefined();
  long fd = syscall(SYS_userfaultfd, static_cast<int>(flags));
  if (fd < 0) {
    ThrowErrno(env, "userfaultfd", errno);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(fd));
}

// uffdApi(fd, features) -> { features, ioctls }. The kernel answers with every feature it supports
// when asked for 0, and with the granted set otherwise; ioctls is a bigint (bit 63 is _UFFDIO_API).
Napi::Value Api(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t features = 0;
  if (!ArgFd(info, 0, &fd) || !ArgU64(info, 1, "features", &features)) return env.Undefined();
  struct uffdio_api api = {};
  api.api = UFFD_API;
  api.features = features;
  if (ioctl(fd, UFFDIO_API, &api) != 0) {
    ThrowErrno(env, "UFFDIO_API", errno);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("features", Napi::Number::New(env, static_cast<double>(api.features)));
  out.Set("ioctls", U64ToBigInt(env, api.ioctls));
  return out;
}

bool Range(const Napi::CallbackInfo& info, int* fd, uint64_t* start, uint64_t* len) {
  return ArgFd(info, 0, fd) && ArgU64(info, 1, "start", start) && ArgU64(info, 2, "length", len);
}

// uffdRegister(fd, start, length, mode) -> ioctls (bigint) available on the range.
Napi::Value Register(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t start = 0, len = 0, mode = 0;
  if (!Range(info, &fd, &start, &len) || !ArgU64(info, 3, "mode", &mode)) return env.Undefined();
  struct uffdio_register reg = {};
  reg.range.start = start;
  reg.range.len = len;
  reg.mode = mode;
  if (ioctl(fd, UFFDIO_REGISTER, &reg) != 0) {
    ThrowErrno(env, "UFFDIO_REGISTER", errno);
    return env.Undefined();
  }
  return U64ToBigInt(env, reg.ioctls);
}

Napi::Value Unregister(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t start = 0, len = 0;
  if (!Range(info, &fd, &start, &len)) return env.Undefined();
  struct uffdio_range range = {start, len};
  if (ioctl(fd, UFFDIO_UNREGISTER, &range) != 0) ThrowErrno(env, "UFFDIO_UNREGISTER", errno);
  return env.Undefined();
}

// Throws with `copied` set when the kernel made partial progress before failing (EAGAIN/EEXIST).
void ThrowPartial(Napi::Env env, const char* what, int err, int64_t result) {
  ThrowErrno(env, what, err);
  Napi::Error pending = env.GetAndClearPendingException();
  pending.Set("copied", Napi::Number::New(env, result > 0 ? static_cast<double>(result) : 0));
  pending.ThrowAsJavaScriptException();
}

// uffdCopy(fd, dst, src: Uint8Array, mode) -> bytes copied. src length is the copy length.
Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t dst = 0, mode = 0;
  if (!ArgFd(info, 0, &fd) || !ArgU64(info, 1, "dst", &dst)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsTypedArray()) {
    Napi::TypeError::New(env, "src must be a Uint8Array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!ArgU64(info, 3, "mode", &mode)) return env.Undefined();
  Napi::Uint8Array src = info[2].As<Napi::Uint8Array>();
  struct uffdio_copy copy = {};
  copy.dst = dst;
  copy.src = reinterpret_cast<uint64_t>(src.Data());
  copy.len = src.ByteLength();
  copy.mode = mode;
  if (ioctl(fd, UFFDIO_COPY, &copy) != 0) {
    ThrowPartial(env, "UFFDIO_COPY", errno, copy.copy);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(copy.copy));
}

// uffdZeropage(fd, start, length, mode) -> bytes zeroed.
Napi::Value Zeropage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t start = 0, len = 0, mode = 0;
  if (!Range(info, &fd, &start, &len) || !ArgU64(info, 3, "mode", &mode)) return env.Undefined();
  struct uffdio_zeropage zp = {};
  zp.range.start = start;
  zp.range.len = len;
  zp.mode = mode;
  if (ioctl(fd, UFFDIO_ZEROPAGE, &zp) != 0) {
    ThrowPartial(env, "UFFDIO_ZEROPAGE", errno, zp.zeropage);
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(zp.zeropage));
}

Napi::Value Wake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t start = 0, len = 0;
  if (!Range(info, &fd, &start, &len)) return env.Undefined();
  struct uffdio_range range = {start, len};
  if (ioctl(fd, UFFDIO_WAKE, &range) != 0) ThrowErrno(env, "UFFDIO_WAKE", errno);
  return env.Undefined();
}

// uffdWriteprotect(fd, start, length, mode): mode WP protects, 0 un-protects (and wakes unless DONTWAKE).
Napi::Value Writeprotect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t start = 0, len = 0, mode = 0;
  if (!Range(info, &fd, &start, &len) || !ArgU64(info, 3, "mode", &mode)) return env.Undefined();
  struct uffdio_writeprotect wp = {};
  wp.range.start = start;
  wp.range.len = len;
  wp.mode = mode;
  if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp) != 0) ThrowErrno(env, "UFFDIO_WRITEPROTECT", errno);
  return env.Undefined();
}

Napi::Object EventToJs(Napi::Env env, const struct uffd_msg& msg) {
  Napi::Object e = Napi::Object::New(env);
  auto num = [&](const char* k, uint64_t v) { e.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  switch (msg.event) {
    case UFFD_EVENT_PAGEFAULT:
      e.Set("type", "pagefault");
      num("address", msg.arg.pagefault.address);
      num("flags", msg.arg.pagefault.flags);
      e.Set("write", Napi::Boolean::New(env, msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE));
      e.Set("wp", Napi::Boolean::New(env, msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP));
      e.Set("minor", Napi::Boolean::New(env, msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_MINOR));
      break;
    case UFFD_EVENT_FORK:
      e.Set("type", "fork");
      num("ufd", msg.arg.fork.ufd);
      break;
    case UFFD_EVENT_REMAP:
      e.Set("type", "remap");
      num("from", msg.arg.remap.from);
      num("to", msg.arg.remap.to);
      num("length", msg.arg.remap.len);
      break;
    case UFFD_EVENT_REMOVE:
    case UFFD_EVENT_UNMAP:
      e.Set("type", msg.event == UFFD_EVENT_REMOVE ? "remove" : "unmap");
      num("start", msg.arg.remove.start);
      num("end", msg.arg.remove.end);
      break;
    default:
      e.Set("type", "unknown");
      num("event", msg.event);
  }
  return e;
}

// uffdReadEvents(fd, max = 64) -> events; [] when none are queued (the fd is non-blocking).
Napi::Value ReadEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  int64_t max = 0;
  if (!ArgFd(info, 0, &fd) || !ArgOptInt(info, 1, "max", 64, &max)) return env.Undefined();
  if (max < 1 || max > 1024) max = 64;
  struct uffd_msg msgs[1024];
  ssize_t n = read(fd, msgs, sizeof(struct uffd_msg) * static_cast<size_t>(max));
  Napi::Array out = Napi::Array::New(env);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return out;
    ThrowErrno(env, "read(userfaultfd)", errno);
    return env.Undefined();
  }
  size_t count = static_cast<size_t>(n) / sizeof(struct uffd_msg);
  for (size_t i = 0; i < count; i++) out.Set(i, EventToJs(env, msgs[i]));
  return out;
}

}  // namespace

void InitUffd(Napi::Env env, Napi::Object exports) {
  exports.Set("uffdCreate", Napi::Function::New(env, Create));
  exports.Set("uffdApi", Napi::Function::New(env, Api));
  exports.Set("uffdRegister", Napi::Function::New(env, Register));
  exports.Set("uffdUnregister", Napi::Function::New(env, Unregister));
  exports.Set("uffdCopy", Napi::Function::New(env, Copy));
  exports.Set("uffdZeropage", Napi::Function::New(env, Zeropage));
  exports.Set("uffdWake", Napi::Function::New(env, Wake));
  exports.Set("uffdWriteprotect", Napi::Function::New(env, Writeprotect));
  exports.Set("uffdReadEvents", Napi::Function::New(env, ReadEvents));
}

}  // namespace amber
