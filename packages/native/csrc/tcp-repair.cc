// TCP_REPAIR, the mechanism CRIU migrates connections with: the state of an established connection is read
// from one socket and written into a new one, in another network namespace, without a packet on the wire.
// The host agent uses it to keep its connection to a guest's envd across pause and resume: the guest's end
// lives on in the snapshot's memory, the host's end is rebuilt in the fresh namespace of the resumed VM.
#include "tcp-repair.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "args.h"
#include "errors.h"
#include "netns.h"
#include "unique-fd.h"

namespace amber {

namespace {

struct Endpoint {
  std::string address;
  uint16_t port = 0;
};

bool SetInt(int fd, int opt, int value) { return setsockopt(fd, SOL_TCP, opt, &value, sizeof(value)) == 0; }

bool GetU32(int fd, int opt, uint32_t* out) {
  socklen_t len = sizeof(*out);
  return getsockopt(fd, SOL_TCP, opt, out, &len) == 0;
}

bool QueueSeq(int fd, int queue, uint32_t* seq, bool set) {
  if (!SetInt(fd, TCP_REPAIR_QUEUE, queue)) return false;
  if (set) return setsockopt(fd, SOL_TCP, TCP_QUEUE_SEQ, seq, sizeof(*seq)) == 0;
  return GetU32(fd, TCP_QUEUE_SEQ, seq);
}

Napi::Object EndpointObject(Napi::Env env, const sockaddr_in& addr) {
  char text[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", text);
  o.Set("port", ntohs(addr.sin_port));
  return o;
}

bool ReadEndpoint(Napi::Env env, const Napi::Object& state, const char* key, sockaddr_in* out) {
  Napi::Value v = state.Get(key);
  if (!v.IsObject()) {
    Napi::TypeError::New(env, std::string(key) + " must be an object").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value address = o.Get("address");
  uint64_t port = 0;
  if (!address.IsString() || !PropU64(env, o, "port", &port) || port > 65535) {
    if (!env.IsExceptionPending())
      Napi::TypeError::New(env, std::string(key) + " needs address and port").ThrowAsJavaScriptException();
    return false;
  }
  *out = sockaddr_in{};
  out->sin_family = AF_INET;
  out->sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.As<Napi::String>().Utf8Value().c_str(), &out->sin_addr) != 1) {
    Napi::TypeError::New(env, std::string(key) + ".address must be an IPv4 address").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

bool ReadU32(Napi::Env env, const Napi::Object& o, const char* key, uint32_t* out) {
  uint64_t v = 0;
  if (!PropU64(env, o, key, &v)) return false;
  if (v > UINT32_MAX) {
    Napi::TypeError::New(env, std::string(key) + " must fit in 32 bits").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

// tcpRepairSave(fd): the state of an idle, established IPv4 connection. The socket is left in repair
// mode, so closing it afterwards sends neither FIN nor RST: the peer's end stays established.
Napi::Value TcpRepairSave(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = -1;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  sockaddr_in local{}, remote{};
  socklen_t len = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0 || local.sin_family != AF_INET) {
    ThrowErrno(env, "getsockname (an IPv4 TCP socket is needed)", errno ? errno : EAFNOSUPPORT);
    return env.Undefined();
  }
  len = sizeof(remote);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &len) != 0) {
    ThrowErrno(env, "getpeername", errno);
    return env.Undefined();
  }
  // Bytes still queued either way would need replaying; an idle connection has none.
  int outq = 0, inq = 0;
  if (ioctl(fd, SIOCOUTQ, &outq) != 0 || ioctl(fd, SIOCINQ, &inq) != 0) {
    ThrowErrno(env, "ioctl(SIOCOUTQ/SIOCINQ)", errno);
    return env.Undefined();
  }
  if (outq != 0 || inq != 0) {
    ThrowErrno(env, "connection has queued data (" + std::to_string(outq) + " out, " + std::to_string(inq) + " in)",
               EBUSY);
    return env.Undefined();
  }
  if (!SetInt(fd, TCP_REPAIR, TCP_REPAIR_ON)) {
    ThrowErrno(env, "setsockopt(TCP_REPAIR)", errno);
    return env.Undefined();
  }
  uint32_t sendSeq = 0, recvSeq = 0, mss = 0, timestamp = 0;
  tcp_info tcpInfo{};
  tcp_repair_window window{};
  socklen_t infoLen = sizeof(tcpInfo), windowLen = sizeof(window);
  if (!QueueSeq(fd, TCP_SEND_QUEUE, &sendSeq, false) || !QueueSeq(fd, TCP_RECV_QUEUE, &recvSeq, false) ||
      !SetInt(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE) || !GetU32(fd, TCP_MAXSEG, &mss) ||
      !GetU32(fd, TCP_TIMESTAMP, &timestamp) ||
      getsockopt(fd, SOL_TCP, TCP_INFO, &tcpInfo, &infoLen) != 0 ||
      getsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &window, &windowLen) != 0) {
    ThrowErrno(env, "reading the TCP state", errno);
    return env.Undefined();
  }
  Napi::Object state = Napi::Object::New(env);
  state.Set("local", EndpointObject(env, local));
  state.Set("remote", EndpointObject(env, remote));
  state.Set("sendSeq", sendSeq);
  state.Set("recvSeq", recvSeq);
  state.Set("mss", mss);
  state.Set("options", static_cast<uint32_t>(tcpInfo.tcpi_options));
  state.Set("sendWscale", static_cast<uint32_t>(tcpInfo.tcpi_snd_wscale));
  state.Set("recvWscale", static_cast<uint32_t>(tcpInfo.tcpi_rcv_wscale));
  state.Set("timestamp", timestamp);
  Napi::Object w = Napi::Object::New(env);
  w.Set("sndWl1", window.snd_wl1);
  w.Set("sndWnd", window.snd_wnd);
  w.Set("maxWindow", window.max_window);
  w.Set("rcvWnd", window.rcv_wnd);
  w.Set("rcvWup", window.rcv_wup);
  state.Set("window", w);
  return state;
}

// tcpRepairRestore(nsPath, state): a connected, non-blocking socket in the namespace at nsPath carrying
// the saved connection on; nothing is sent until the caller writes.
Napi::Value TcpRepairRestore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string nsPath;
  if (!ArgString(info, 0, "nsPath", &nsPath)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsObject()) {
    Napi::TypeError::New(env, "state must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object state = info[1].As<Napi::Object>();
  sockaddr_in local{}, remote{};
  uint32_t sendSeq = 0, recvSeq = 0, mss = 0, options = 0, sendWscale = 0, recvWscale = 0, timestamp = 0;
  tcp_repair_window window{};
  if (!ReadEndpoint(env, state, "local", &local) || !ReadEndpoint(env, state, "remote", &remote) ||
      !ReadU32(env, state, "sendSeq", &sendSeq) || !ReadU32(env, state, "recvSeq", &recvSeq) ||
      !ReadU32(env, state, "mss", &mss) || !ReadU32(env, state, "options", &options) ||
      !ReadU32(env, state, "sendWscale", &sendWscale) || !ReadU32(env, state, "recvWscale", &recvWscale) ||
      !ReadU32(env, state, "timestamp", &timestamp)) {
    return env.Undefined();
  }
  Napi::Value wv = state.Get("window");
  if (!wv.IsObject()) {
    Napi::TypeError::New(env, "window must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object w = wv.As<Napi::Object>();
  if (!ReadU32(env, w, "sndWl1", &window.snd_wl1) || !ReadU32(env, w, "sndWnd", &window.snd_wnd) ||
      !ReadU32(env, w, "maxWindow", &window.max_window) || !ReadU32(env, w, "rcvWnd", &window.rcv_wnd) ||
      !ReadU32(env, w, "rcvWup", &window.rcv_wup)) {
    return env.Undefined();
  }

  std::string what;
  int raw = SocketInNamespace(nsPath, AF_INET, &what);
  if (raw < 0) {
    ThrowErrno(env, what, -raw);
    return env.Undefined();
  }
  UniqueFd sock(raw);
  int fd = sock.get();
  auto fail = [&](const char* step) {
    ThrowErrno(env, step, errno);
    return env.Undefined();
  };
  int one = 1;
  if (!SetInt(fd, TCP_REPAIR, TCP_REPAIR_ON)) return fail("setsockopt(TCP_REPAIR)");
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) return fail("setsockopt(SO_REUSEADDR)");
  // Sequence numbers are set while the socket is still closed; connect() in repair mode sends no SYN.
  if (!QueueSeq(fd, TCP_SEND_QUEUE, &sendSeq, true) || !QueueSeq(fd, TCP_RECV_QUEUE, &recvSeq, true) ||
      !SetInt(fd, TCP_REPAIR_QUEUE, TCP_NO_QUEUE)) {
    return fail("setsockopt(TCP_QUEUE_SEQ)");
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) return fail("bind");
  if (connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) return fail("connect (repair)");
  tcp_repair_opt opts[4];
  int count = 0;
  opts[count++] = {TCPOPT_MAXSEG, mss};
  if (options & TCPI_OPT_WSCALE) opts[count++] = {TCPOPT_WINDOW, sendWscale | (recvWscale << 16)};
  if (options & TCPI_OPT_SACK) opts[count++] = {TCPOPT_SACK_PERMITTED, 0};
  if (options & TCPI_OPT_TIMESTAMPS) opts[count++] = {TCPOPT_TIMESTAMP, 0};
  if (setsockopt(fd, SOL_TCP, TCP_REPAIR_OPTIONS, opts, sizeof(opts[0]) * count) != 0)
    return fail("setsockopt(TCP_REPAIR_OPTIONS)");
  // The peer discards segments whose timestamp goes backwards (PAWS): continue from the saved clock.
  if ((options & TCPI_OPT_TIMESTAMPS) && !SetInt(fd, TCP_TIMESTAMP, static_cast<int>(timestamp)))
    return fail("setsockopt(TCP_TIMESTAMP)");
  if (setsockopt(fd, SOL_TCP, TCP_REPAIR_WINDOW, &window, sizeof(window)) != 0)
    return fail("setsockopt(TCP_REPAIR_WINDOW)");
  // No window probe: it carries an old sequence number, so the peer would answer it with a duplicate ACK
  // (on a restored guest, more code to translate before its first answer). The first data segment
  // acknowledges whatever the peer sent before the save.
  if (!SetInt(fd, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP)) return fail("setsockopt(TCP_REPAIR off)");
  return Napi::Number::New(env, sock.release());
}

}  // namespace

void InitTcpRepair(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpRepairSave", Napi::Function::New(env, TcpRepairSave));
  exports.Set("tcpRepairRestore", Napi::Function::New(env, TcpRepairRestore));
}

}  // namespace amber
