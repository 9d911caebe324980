// A promise-returning N-API worker for one blocking system-call sequence: `op` runs on a libuv worker
// thread and returns a non-negative result or -errno; the promise rejects with the errno's name.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <utility>

#include "errors.h"

namespace amber {

class ErrnoWorker : public Napi::AsyncWorker {
 public:
  ErrnoWorker(Napi::Env env, const char* what, std::function<int64_t()> op)
      : Napi::AsyncWorker(env, what), deferred_(Napi::Promise::Deferred::New(env)), what_(what), op_(std::move(op)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  static Napi::Value Queue(Napi::Env env, const char* what, std::function<int64_t()> op) {
    auto* worker = new ErrnoWorker(env, what, std::move(op));
    Napi::Promise promise = worker->Promise();
    worker->Napi::AsyncWorker::Queue();
    return promise;
  }

 protected:
  void Execute() override { result_ = op_(); }
  void OnOK() override {
    Napi::Env env = Env();
    if (result_ < 0) {
      ThrowErrno(env, what_, static_cast<int>(-result_));
      deferred_.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    deferred_.Resolve(Napi::Number::New(env, static_cast<double>(result_)));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  const char* what_;
  std::function<int64_t()> op_;
  int64_t result_ = 0;
};

}  // namespace amber
