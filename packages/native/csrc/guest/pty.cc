// Pseudo-terminals for the guest agent: Node can open /dev/ptmx but cannot unlock it, name its slave or
// set its window size (all ioctls), so openpty and TIOCSWINSZ live here.
#include "guest.h"

#include <fcntl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "../args.h"
#include "../errors.h"

namespace amber {

static bool WinsizeArgs(const Napi::CallbackInfo& info, size_t i, struct winsize* ws) {
  int64_t cols = 0, rows = 0;
  if (!ArgInt(info, i, "cols", &cols) || !ArgInt(info, i + 1, "rows", &rows)) return false;
  if (cols < 1 || cols > 0xffff || rows < 1 || rows > 0xffff) {
    Napi::RangeError::New(info.Env(), "cols and rows must be between 1 and 65535").ThrowAsJavaScriptException();
    return false;
  }
  *ws = {};
  ws->ws_col = static_cast<unsigned short>(cols);
  ws->ws_row = static_cast<unsigned short>(rows);
  return true;
}

// openPty(cols, rows) -> { master, slave, name }. Both fds are close-on-exec: the child gets the slave
// through spawn's stdio (dup2 clears the flag), and no other child inherits either end.
static Napi::Value OpenPty(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct winsize ws;
  if (!WinsizeArgs(info, 0, &ws)) return env.Undefined();
  int master = -1, slave = -1;
  char name[128] = {0};
  if (openpty(&master, &slave, name, nullptr, &ws) != 0) {
    ThrowErrno(env, "openpty", errno);
    return env.Undefined();
  }
  fcntl(master, F_SETFD, FD_CLOEXEC);
  fcntl(slave, F_SETFD, FD_CLOEXEC);
  Napi::Object out = Napi::Object::New(env);
  out.Set("master", Napi::Number::New(env, master));
  out.Set("slave", Napi::Number::New(env, slave));
  out.Set("name", Napi::String::New(env, name));
  return out;
}

// setWinsize(fd, cols, rows): the kernel sends SIGWINCH to the terminal's foreground process group.
static Napi::Value SetWinsize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  struct winsize ws;
  if (!ArgFd(info, 0, &fd) || !WinsizeArgs(info, 1, &ws)) return env.Undefined();
  if (ioctl(fd, TIOCSWINSZ, &ws) != 0) ThrowErrno(env, "ioctl(TIOCSWINSZ)", errno);
  return env.Undefined();
}

static Napi::Value GetWinsize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  struct winsize ws = {};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0) {
    ThrowErrno(env, "ioctl(TIOCGWINSZ)", errno);
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("cols", Napi::Number::New(env, ws.ws_col));
  out.Set("rows", Napi::Number::New(env, ws.ws_row));
  return out;
}

void InitPty(Napi::Env env, Napi::Object exports) {
  exports.Set("openPty", Napi::Function::New(env, OpenPty));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize));
  exports.Set("getWinsize", Napi::Function::New(env, GetWinsize));
}

}  // namespace amber
