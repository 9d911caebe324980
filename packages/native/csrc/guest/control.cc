// envd's control channel served by a thread of its own. A restore's first request is `init` with the host's
// time on the connection the snapshot kept open; answered by this thread, the guest runs no Node on its way
// to ready nor after it: Node's loop, streams and promises were ~19,600 of the ~42,900 guest instructions a
// restored guest translated before answering, and ~2,500 of the ~5,700 just after. A capture's `sync` is
// answered here too, so a capture does not wake Node either. Any other request is handed to JS (`forward`)
// and its answer written here, in order.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../args.h"
#include "../errors.h"
#include "guest.h"

namespace amber {

namespace {

// A line longer than this is not a request of the protocol: the channel is closed.
constexpr size_t kMaxLine = 1 << 20;

// Clock settings under way on any channel; envd's clock gate waits while it is not 0.
std::atomic<int> g_clock_pending{0};

int64_t MonotonicUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

// The descriptor is non-blocking (it shares its file description with Node's handle): wait, then retry.
bool Await(int fd, short events) {
  pollfd p{fd, events, 0};
  int ready;
  do {
    ready = poll(&p, 1, -1);
  } while (ready < 0 && errno == EINTR);
  return ready > 0;
}

bool WriteAll(int fd, const std::string& text) {
  size_t at = 0;
  while (at < text.size()) {
    ssize_t n = send(fd, text.data() + at, text.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && Await(fd, POLLOUT)) continue;
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

// The access token, once /init set one (envd's JS sets it here too: setControlToken).
std::mutex g_token_mu;
bool g_token_set = false;
std::string g_token;

bool TokenMatches(bool given, const std::string& token) {
  std::lock_guard<std::mutex> lock(g_token_mu);
  if (!g_token_set) return true;
  if (!given || token.size() != g_token.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); i++) diff |= static_cast<unsigned char>(token[i] ^ g_token[i]);
  return diff == 0;
}

// A request this thread answers itself: the lines a capture and a restore send, as JSON.stringify writes
// them. `init` with at most a numeric `timestamp` (epoch ms; a clock reset needs no token: a restore never
// waits on a secret), and `sync` with the right token. Anything else, or anything unusual in these, is JS's.
struct FastRequest {
  enum Op { kNone, kInit, kSync } op = kNone;
  int64_t timestamp_ms = -1;
  bool has_token = false;
  std::string token;
};

bool ParseFast(const std::string& line, FastRequest* req) {
  size_t i = 0;
  const size_t n = line.size();
  bool seen_op = false;
  auto str = [&](std::string* out) {
    if (i >= n || line[i] != '"') return false;
    size_t end = line.find('"', i + 1);
    if (end == std::string::npos) return false;
    std::string s = line.substr(i + 1, end - i - 1);
    if (s.find('\\') != std::string::npos) return false;
    *out = std::move(s);
    i = end + 1;
    return true;
  };
  if (i >= n || line[i++] != '{') return false;
  for (;;) {
    std::string key;
    if (!str(&key) || i >= n || line[i++] != ':') return false;
    if (key == "op" && !seen_op) {
      std::string op;
      if (!str(&op)) return false;
      seen_op = true;
      req->op = op == "init" ? FastRequest::kInit : op == "sync" ? FastRequest::kSync : FastRequest::kNone;
    } else if (key == "token" && !req->has_token) {
      if (!str(&req->token)) return false;
      req->has_token = true;
    } else if (key == "timestamp" && req->timestamp_ms < 0) {
      size_t start = i;
      int64_t value = 0;
      while (i < n && line[i] >= '0' && line[i] <= '9' && i - start < 15) value = value * 10 + (line[i++] - '0');
      if (i == start || (i < n && line[i] >= '0' && line[i] <= '9')) return false;
      req->timestamp_ms = value;
    } else {
      return false;
    }
    if (i < n && line[i] == ',') {
      i++;
      continue;
    }
    if (i + 1 != n || line[i] != '}') return false;
    if (req->op == FastRequest::kInit) return true;
    return req->op == FastRequest::kSync && req->timestamp_ms < 0 && TokenMatches(req->has_token, req->token);
  }
}

struct Channel {
  int fd = -1;
  bool set_clock = false;
  Napi::ThreadSafeFunction forward;
  std::mutex mu;
  std::condition_variable replied;
  bool has_reply = false;
  std::string reply;
};

// Sets the clock once the answer is out: the kernel's side of a clock change (~1,150 guest instructions)
// is not something readiness needs to wait for; envd's clock gate holds back whatever could observe it.
void AnswerClockInit(Channel* ch, int64_t timestamp_ms) {
  const int64_t received = MonotonicUs();
  const bool setting = timestamp_ms >= 0 && ch->set_clock;
  if (setting) g_clock_pending.fetch_add(1);
  WriteAll(ch->fd, "{\"ok\":true}\n");
  if (!setting) return;
  const int64_t epoch_us = timestamp_ms * 1000 + (MonotonicUs() - received);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(epoch_us / 1000000);
  ts.tv_nsec = static_cast<long>(epoch_us % 1000000) * 1000;
  if (clock_settime(CLOCK_REALTIME, &ts) != 0) {
    std::fprintf(stderr, "envd: setting the clock failed: %s\n", std::strerror(errno));
  }
  g_clock_pending.fetch_sub(1);
}

void Deliver(Channel* ch, std::string reply) {
  {
    std::lock_guard<std::mutex> lock(ch->mu);
    ch->reply = std::move(reply);
    ch->has_reply = true;
  }
  ch->replied.notify_one();
}

// The `send` a forwarded line's JS gets: its one answer.
napi_value SendAnswer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value arg = nullptr;
  void* data = nullptr;
  std::string reply;
  if (napi_get_cb_info(env, info, &argc, &arg, nullptr, &data) != napi_ok || data == nullptr) return nullptr;
  size_t len = 0;
  if (argc >= 1 && napi_get_value_string_utf8(env, arg, nullptr, 0, &len) == napi_ok) {
    reply.resize(len + 1);
    napi_get_value_string_utf8(env, arg, reply.data(), len + 1, &len);
    reply.resize(len);
  }
  Deliver(static_cast<Channel*>(data), std::move(reply));
  return nullptr;
}

// Raw N-API calls, not node-addon-api's: while Node tears down at exit, a call into JS fails, and
// node-addon-api would turn that failure into a fatal error.
bool CallJs(napi_env env, napi_value js, napi_value line, napi_value send) {
  napi_value undefined, result;
  napi_value argv[2] = {line, send};
  return env != nullptr && js != nullptr && napi_get_undefined(env, &undefined) == napi_ok &&
         napi_call_function(env, undefined, js, 2, argv, &result) == napi_ok;
}

// JS answers a forwarded line by calling the function it is given, once.
void Forward(Channel* ch, std::string line) {
  {
    std::lock_guard<std::mutex> lock(ch->mu);
    ch->has_reply = false;
  }
  auto* data = new std::string(std::move(line));
  napi_status status = ch->forward.BlockingCall(data, [ch](Napi::Env env, Napi::Function js, std::string* text) {
    napi_value line = nullptr, send = nullptr;
    const bool called =
        env != nullptr && napi_create_string_utf8(env, text->data(), text->size(), &line) == napi_ok &&
        napi_create_function(env, "send", NAPI_AUTO_LENGTH, SendAnswer, ch, &send) == napi_ok &&
        CallJs(env, js, line, send);
    delete text;
    // No JS will answer (Node is exiting): the thread must not wait for it.
    if (!called) Deliver(ch, std::string());
  });
  if (status != napi_ok) {
    delete data;
    return;
  }
  std::unique_lock<std::mutex> lock(ch->mu);
  ch->replied.wait(lock, [ch] { return ch->has_reply; });
  WriteAll(ch->fd, ch->reply);
}

// `owner` keeps the channel alive while this thread runs: at exit Node finalizes the function (and its
// hold on the channel) without waiting for the thread.
void Serve(std::shared_ptr<Channel> owner, std::string output, std::string input) {
  Channel* ch = owner.get();
  bool open = WriteAll(ch->fd, output);
  char buf[4096];
  while (open) {
    for (size_t end = input.find('\n'); end != std::string::npos; end = input.find('\n')) {
      std::string line = input.substr(0, end);
      input.erase(0, end + 1);
      FastRequest req;
      if (!ParseFast(line, &req)) {
        Forward(ch, std::move(line));
      } else if (req.op == FastRequest::kInit) {
        AnswerClockInit(ch, req.timestamp_ms);
      } else {
        // What a capture asks first: the guest's filesystems on its disk.
        sync();
        WriteAll(ch->fd, "{\"ok\":true}\n");
      }
    }
    if (input.size() > kMaxLine) break;
    ssize_t n = read(ch->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && Await(ch->fd, POLLIN)) continue;
    if (n <= 0) break;
    input.append(buf, static_cast<size_t>(n));
  }
  close(ch->fd);
  // A null line tells JS the channel is closed; then the function is released and the channel freed.
  ch->forward.BlockingCall(static_cast<std::string*>(nullptr), [](Napi::Env env, Napi::Function js, std::string*) {
    napi_value null = nullptr;
    if (env != nullptr && napi_get_null(env, &null) == napi_ok) CallJs(env, js, null, null);
  });
  ch->forward.Release();
}

// serveControl(fd, output, input, setClock, forward): serves the channel on a duplicate of `fd` (the caller
// stops reading its own) in a new thread: writes `output`, then answers the lines of `input` and of what
// follows. `forward(line, send)` gets the requests it does not answer itself, and `forward(null)` once the
// peer closed. `setClock`: a clock init sets CLOCK_REALTIME (in the guest only).
Napi::Value ServeControl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  std::string output;
  if (!ArgString(info, 1, "output", &output)) return env.Undefined();
  if (!info[2].IsBuffer() || !info[3].IsBoolean() || !info[4].IsFunction()) {
    Napi::TypeError::New(env, "serveControl(fd, output, input, setClock, forward)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) {
    ThrowErrno(env, "fcntl(F_DUPFD_CLOEXEC)", errno);
    return env.Undefined();
  }
  auto ch = std::make_shared<Channel>();
  ch->fd = own;
  ch->set_clock = info[3].As<Napi::Boolean>().Value();
  // The finalizer's hold: a forwarded line's `send` may still be called until then.
  auto* held = new std::shared_ptr<Channel>(ch);
  ch->forward = Napi::ThreadSafeFunction::New(env, info[4].As<Napi::Function>(), "envd-control", 0, 1,
                                              [held](Napi::Env) { delete held; });
  // A channel left open must not keep envd's loop (or a test's) alive.
  ch->forward.Unref(env);
  auto input = info[2].As<Napi::Buffer<char>>();
  std::thread(Serve, ch, std::move(output), std::string(input.Data(), input.Length())).detach();
  return env.Undefined();
}

// setControlToken(token | undefined): the token a sync must carry (undefined: none is set).
Napi::Value SetControlToken(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_token_mu);
  g_token_set = info[0].IsString();
  g_token = g_token_set ? info[0].As<Napi::String>().Utf8Value() : std::string();
  return info.Env().Undefined();
}

Napi::Value ClockPending(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), g_clock_pending.load() != 0);
}

}  // namespace

void InitControl(Napi::Env env, Napi::Object exports) {
  exports.Set("serveControl", Napi::Function::New(env, ServeControl, "serveControl"));
  exports.Set("setControlToken", Napi::Function::New(env, SetControlToken, "setControlToken"));
  exports.Set("clockPending", Napi::Function::New(env, ClockPending, "clockPending"));
}

}  // namespace amber
