// JS face of FaultServer. Events from the server thread reach JS through a ThreadSafeFunction
// (non-blocking calls: the fault loop never waits for the event loop); stats are plain atomics read on
// demand; stop() joins the thread on a worker so a slow pread cannot stall the event loop.
#include "fault-server-binding.h"

#include <memory>

#include "args.h"
#include "errors.h"
#include "fault-server.h"

namespace amber {

namespace {

bool ReadTable(Napi::Env env, const Napi::Object& o, uint64_t regionEnd, ServerConfig* c) {
  Napi::Value tv = o.Get("table");
  Napi::Value fv = o.Get("fds");
  if (!tv.IsTypedArray() || tv.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array || !fv.IsArray()) {
    Napi::TypeError::New(env, "table must be a Float64Array of [offset, length, file, storage] and fds an array")
        .ThrowAsJavaScriptException();
    return false;
  }
  Napi::Float64Array t = tv.As<Napi::Float64Array>();
  Napi::Array f = fv.As<Napi::Array>();
  std::vector<int> fds;
  for (uint32_t i = 0; i < f.Length(); i++) fds.push_back(f.Get(i).As<Napi::Number>().Int32Value());
  if (t.ElementLength() % 4 != 0) {
    Napi::TypeError::New(env, "table length must be a multiple of 4").ThrowAsJavaScriptException();
    return false;
  }
  std::vector<TableEntry> entries;
  uint64_t expect = 0;
  for (size_t i = 0; i < t.ElementLength(); i += 4) {
    TableEntry e{static_cast<uint64_t>(t[i]), static_cast<uint64_t>(t[i + 1]), static_cast<int>(t[i + 2]),
                 static_cast<uint64_t>(t[i + 3])};
    if (e.offset != expect || e.length == 0 || e.file < -1 || e.file >= static_cast<int>(fds.size())) {
      Napi::RangeError::New(env, "table entries must be contiguous from 0, non-empty, with valid file indices")
          .ThrowAsJavaScriptException();
      return false;
    }
    expect = e.offset + e.length;
    entries.push_back(e);
  }
  if (expect < regionEnd) {
    Napi::RangeError::New(env, "table does not cover every region").ThrowAsJavaScriptException();
    return false;
  }
  c->table = BlockTable(std::move(entries), std::move(fds));
  return true;
}

bool ReadConfig(Napi::Env env, const Napi::Object& o, ServerConfig* c) {
  uint64_t uffd = 0, pageSize = 4096, ppf = 1, chunk = 64;
  if (!PropU64(env, o, "uffd", &uffd)) return false;
  c->uffd = static_cast<int>(uffd);
  if (o.Has("pageSize") && !PropU64(env, o, "pageSize", &pageSize)) return false;
  if (o.Has("pagesPerFault") && !PropU64(env, o, "pagesPerFault", &ppf)) return false;
  if (o.Has("prefetchChunkPages") && !PropU64(env, o, "prefetchChunkPages", &chunk)) return false;
  uint64_t spin = 50;
  if (o.Has("spinUs") && !o.Get("spinUs").IsUndefined() && !PropU64(env, o, "spinUs", &spin)) return false;
  c->spinUs = static_cast<int64_t>(std::min<uint64_t>(spin, 100000));
  if (pageSize != 4096 || ppf < 1 || ppf > 512 || chunk < 1 || chunk > 4096) {
    Napi::RangeError::New(env, "pageSize must be 4096, pagesPerFault 1..512, prefetchChunkPages 1..4096")
        .ThrowAsJavaScriptException();
    return false;
  }
  c->pageSize = pageSize;
  c->pagesPerFault = static_cast<uint32_t>(ppf);
  c->prefetchChunkPages = static_cast<uint32_t>(chunk);
  std::string wp = o.Has("wp") ? o.Get("wp").ToString().Utf8Value() : "none";
  c->wp = wp == "async" ? WpMode::kAsync : wp == "sync" ? WpMode::kSync : WpMode::kNone;
  c->recordWorkingSet = o.Has("recordWorkingSet") && o.Get("recordWorkingSet").ToBoolean().Value();
  c->exactFaults = o.Has("exactFaults") && o.Get("exactFaults").ToBoolean().Value();
  Napi::Value rv = o.Get("regions");
  if (!rv.IsArray() || rv.As<Napi::Array>().Length() == 0) {
    Napi::TypeError::New(env, "regions must be a non-empty array").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Array regions = rv.As<Napi::Array>();
  uint64_t regionEnd = 0;
  for (uint32_t i = 0; i < regions.Length(); i++) {
    Napi::Object r = regions.Get(i).As<Napi::Object>();
    RegionSpec spec{};
    if (!PropU64(env, r, "base", &spec.base) || !PropU64(env, r, "size", &spec.size) ||
        !PropU64(env, r, "offset", &spec.offset))
      return false;
    if (spec.base % pageSize || spec.size % pageSize || spec.offset % pageSize || spec.size == 0) {
      Napi::RangeError::New(env, "regions must be page aligned and non-empty").ThrowAsJavaScriptException();
      return false;
    }
    regionEnd = std::max(regionEnd, spec.offset + spec.size);
    c->regions.push_back(spec);
  }
  return ReadTable(env, o, regionEnd, c);
}

bool ReadPrefetch(Napi::Env env, const Napi::Value& policyV, const Napi::Value& orderV, PrefetchPolicy* policy,
                  std::vector<uint64_t>* order) {
  std::string p = policyV.IsString() ? policyV.As<Napi::String>().Utf8Value() : "none";
  if (p == "none") {
    *policy = PrefetchPolicy::kNone;
  } else if (p == "all") {
    *policy = PrefetchPolicy::kAll;
  } else if (p == "order") {
    *policy = PrefetchPolicy::kOrder;
    if (!orderV.IsTypedArray() || orderV.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
      Napi::TypeError::New(env, "prefetch 'order' needs a Float64Array of guest offsets").ThrowAsJavaScriptException();
      return false;
    }
    Napi::Float64Array a = orderV.As<Napi::Float64Array>();
    for (size_t i = 0; i < a.ElementLength(); i++) order->push_back(static_cast<uint64_t>(a[i]));
  } else {
    Napi::TypeError::New(env, "prefetch must be none | all | order").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

Napi::Object EventToJs(Napi::Env env, const ServerEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", e.type);
  if (!e.code.empty()) o.Set("code", e.code);
  if (!e.message.empty()) o.Set("message", e.message);
  o.Set("guestOffset", Napi::Number::New(env, static_cast<double>(e.guestOffset)));
  if (e.start != 0 || e.end != 0) {
    o.Set("start", Napi::Number::New(env, static_cast<double>(e.start)));
    o.Set("end", Napi::Number::New(env, static_cast<double>(e.end)));
  }
  if (e.to != 0) o.Set("to", Napi::Number::New(env, static_cast<double>(e.to)));
  if (e.attempts != 0) o.Set("attempts", Napi::Number::New(env, e.attempts));
  return o;
}

class StopWorker : public Napi::AsyncWorker {
 public:
  StopWorker(Napi::Env env, std::shared_ptr<FaultServer> server, Napi::ThreadSafeFunction tsf)
      : Napi::AsyncWorker(env, "amber.faultServer.stop"),
        deferred_(Napi::Promise::Deferred::New(env)),
        server_(std::move(server)),
        tsf_(tsf) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { server_->Stop(); }
  void OnOK() override {
    tsf_.Release();
    deferred_.Resolve(Env().Undefined());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<FaultServer> server_;
  Napi::ThreadSafeFunction tsf_;
};

class FaultServerWrap : public Napi::ObjectWrap<FaultServerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FaultServer",
                       {
                           InstanceMethod("start", &FaultServerWrap::Start),
                           InstanceMethod("stop", &FaultServerWrap::Stop),
                           InstanceMethod("stats", &FaultServerWrap::Stats),
                           InstanceMethod("takeDirty", &FaultServerWrap::TakeDirty),
                           InstanceMethod("workingSet", &FaultServerWrap::WorkingSet),
                           InstanceMethod("setPrefetch", &FaultServerWrap::SetPrefetch),
                           InstanceMethod("endExactFaults", &FaultServerWrap::EndExactFaults),
                       });
  }

  // new FaultServer({ uffd, regions, table, fds, pageSize?, pagesPerFault?, prefetchChunkPages?, wp?,
  //   prefetch?, order?, thenAll?, recordWorkingSet?, exactFaults?, present? }, onEvent)
  explicit FaultServerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FaultServerWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "new FaultServer(options, onEvent)").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    ServerConfig config;
    if (!ReadConfig(env, o, &config)) return;
    if (!ReadPrefetch(env, o.Get("prefetch"), o.Get("order"), &config.prefetch, &config.order)) return;
    config.thenAll = o.Has("thenAll") && o.Get("thenAll").ToBoolean().Value();
    if (o.Has("present") && !o.Get("present").IsUndefined()) {
      Napi::Value v = o.Get("present");
      if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
          v.As<Napi::Float64Array>().ElementLength() % 2 != 0) {
        Napi::TypeError::New(env, "present needs a Float64Array of [start, end) pairs").ThrowAsJavaScriptException();
        return;
      }
      Napi::Float64Array a = v.As<Napi::Float64Array>();
      for (size_t i = 0; i + 1 < a.ElementLength(); i += 2)
        config.present.emplace_back(static_cast<uint64_t>(a[i]), static_cast<uint64_t>(a[i + 1]));
    }
    tsf_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "amber.faultServer.events", 0, 1);
    tsf_.Unref(env);  // events alone must not keep the process alive
    Napi::ThreadSafeFunction tsf = tsf_;
    int err = 0;
    FaultServer* s = FaultServer::Create(
        config,
        [tsf](ServerEvent e) mutable {
          auto* heap = new ServerEvent(std::move(e));
          napi_status st = tsf.NonBlockingCall(heap, [](Napi::Env env, Napi::Function cb, ServerEvent* ev) {
            if (env != nullptr && cb != nullptr) cb.Call({EventToJs(env, *ev)});
            delete ev;
          });
          if (st != napi_ok) delete heap;
        },
        &err);
    if (s == nullptr) {
      tsf_.Release();
      ThrowErrno(env, "FaultServer", err);
      return;
    }
    server_.reset(s);
  }

  ~FaultServerWrap() override {
    // Garbage collected while running (no stop() call): stop synchronously rather than leak a thread
    // that touches freed memory.
    if (server_ && !stopped_) {
      if (started_) server_->Stop();
      tsf_.Release();
    }
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!started_) {
      started_ = true;
      Ref();  // keep this object (and the server) alive while the thread runs
      server_->Start();
    }
    return info.Env().Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (stopped_ || !started_) {
      if (!stopped_ && !started_) {
        stopped_ = true;
        tsf_.Release();
      }
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Undefined());
      return d.Promise();
    }
    stopped_ = true;
    auto* w = new StopWorker(env, server_, tsf_);
    Napi::Promise p = w->Promise();
    w->Queue();
    Unref();
    return p;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const ServerStats& s = server_->stats();
    Napi::Object o = Napi::Object::New(env);
    auto num = [&](const char* k, const std::atomic<uint64_t>& v) {
      o.Set(k, Napi::Number::New(env, static_cast<double>(v.load(std::memory_order_relaxed))));
    };
    num("faults", s.faults);
    num("pages", s.pages);
    num("bytes", s.bytes);
    num("zeroPages", s.zeroPages);
    num("eexist", s.eexist);
    num("eagain", s.eagain);
    num("alreadyPresent", s.alreadyPresent);
    num("prefetchedPages", s.prefetchedPages);
    num("populatedPages", s.populatedPages);
    num("removedPages", s.removedPages);
    num("wpFaults", s.wpFaults);
    num("storageErrors", s.storageErrors);
    num("failedInstalls", s.failedInstalls);
    num("events", s.events);
    o.Set("totalPages", Napi::Number::New(env, static_cast<double>(server_->totalPages())));
    Napi::Array hist = Napi::Array::New(env, kLatencyBuckets);
    for (int i = 0; i < kLatencyBuckets; i++) {
      hist.Set(static_cast<uint32_t>(i),
               Napi::Number::New(env, static_cast<double>(s.latencyUs[i].load(std::memory_order_relaxed))));
    }
    o.Set("latencyUs", hist);
    return o;
  }

  // takeDirty(pagemapFd = -1) -> Float64Array of [start, end) guest byte pairs.
  Napi::Value TakeDirty(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t pagemapFd = -1;
    if (!ArgOptInt(info, 0, "pagemapFd", -1, &pagemapFd)) return env.Undefined();
    int err = 0;
    auto ranges = server_->TakeDirty(static_cast<int>(pagemapFd), &err);
    if (err != 0) {
      ThrowErrno(env, "takeDirty (PAGEMAP_SCAN or UFFDIO_WRITEPROTECT)", err);
      return env.Undefined();
    }
    Napi::Float64Array out = Napi::Float64Array::New(env, ranges.size() * 2);
    for (size_t i = 0; i < ranges.size(); i++) {
      out[i * 2] = static_cast<double>(ranges[i].first);
      out[i * 2 + 1] = static_cast<double>(ranges[i].second);
    }
    return out;
  }

  Napi::Value WorkingSet(const Napi::CallbackInfo& info) {
    auto ws = server_->WorkingSet();
    Napi::Float64Array out = Napi::Float64Array::New(info.Env(), ws.size());
    for (size_t i = 0; i < ws.size(); i++) out[i] = static_cast<double>(ws[i]);
    return out;
  }

  Napi::Value EndExactFaults(const Napi::CallbackInfo& info) {
    server_->EndExactFaults();
    return info.Env().Undefined();
  }

  // setPrefetch(policy, order?: Float64Array, thenAll?: boolean)
  Napi::Value SetPrefetch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    PrefetchPolicy policy;
    std::vector<uint64_t> order;
    if (!ReadPrefetch(env, info[0], info[1], &policy, &order)) return env.Undefined();
    server_->SetPrefetch(policy, std::move(order), info.Length() > 2 && info[2].ToBoolean().Value());
    return env.Undefined();
  }

  std::shared_ptr<FaultServer> server_;
  Napi::ThreadSafeFunction tsf_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace

void InitFaultServer(Napi::Env env, Napi::Object exports) {
  exports.Set("FaultServer", FaultServerWrap::Define(env));
}

}  // namespace amber
