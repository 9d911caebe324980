// FaultServer's idle-time work: prefetch (all pages, or a recorded order) and the retries of storage
// reads that failed.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "errors.h"
#include "fault-server-internal.h"
#include "fault-server.h"
#include "uapi.h"

namespace amber {

void FaultServer::SetPrefetch(PrefetchPolicy policy, std::vector<uint64_t> order, bool thenAll) {
  {
    std::lock_guard<std::mutex> lock(pendingMu_);
    pendingChange_ = true;
    pendingPolicy_ = policy;
    pendingOrder_ = std::move(order);
    pendingThenAll_ = thenAll;
  }
  uint64_t one = 1;
  if (write(controlFd_, &one, sizeof(one)) < 0) {
    // Counter overflow only; the loop sees the change on its next wake-up anyway.
  }
}

void FaultServer::ApplyPrefetchChange() {
  std::lock_guard<std::mutex> lock(pendingMu_);
  if (!pendingChange_) return;
  pendingChange_ = false;
  prefetch_ = pendingPolicy_;
  order_ = std::move(pendingOrder_);
  thenAll_ = pendingThenAll_;
  orderPos_ = 0;
  cursorRegion_ = 0;
  cursorPage_ = 0;
}

bool FaultServer::PrefetchPending() const { return prefetch_ != PrefetchPolicy::kNone && !prefetchGone_; }

void FaultServer::PrefetchStep() {
  int storageErr = 0;
  if (prefetch_ == PrefetchPolicy::kOrder) {
    while (orderPos_ < order_.size()) {
      uint64_t g = order_[orderPos_++];
      for (size_t ri = 0; ri < regions_.size(); ri++) {
        Region& r = regions_[ri];
        if (r.unmapped || g < r.spec.offset || g >= r.spec.offset + r.spec.size) continue;
        uint64_t page = (g - r.spec.offset) / pageSize_;
        if (r.populated.Get(page)) break;
        // Exactly the recorded pages; a run of consecutive ones (a fault's window) in one copy.
        uint64_t s = page, e = page + 1;
        while (e < r.pages && e - s < prefetchChunk_ && orderPos_ < order_.size() &&
               order_[orderPos_] == r.spec.offset + e * pageSize_ && !r.populated.Get(e)) {
          e++;
          orderPos_++;
        }
        Outcome out = ServeWindow(ri, s, e, &storageErr);
        if (out == Outcome::kDone) stats_.prefetchedPages.fetch_add(e - s, std::memory_order_relaxed);
        if (out == Outcome::kGone) prefetchGone_ = true;
        return;  // one window per idle step, so faults keep priority
      }
    }
    prefetch_ = thenAll_ ? PrefetchPolicy::kAll : PrefetchPolicy::kNone;
    if (prefetch_ == PrefetchPolicy::kNone) Emit({"prefetch-done", "", "working set prefetched"});
    return;
  }
  // kAll: walk regions in address order from the cursor, one chunk of missing pages per step.
  while (cursorRegion_ < regions_.size()) {
    Region& r = regions_[cursorRegion_];
    uint64_t p = r.unmapped ? r.pages : r.populated.FindNext(cursorPage_, false);
    if (p >= r.pages) {
      cursorRegion_++;
      cursorPage_ = 0;
      continue;
    }
    uint64_t limit = std::min(p + prefetchChunk_, r.pages);
    uint64_t e = r.populated.FindNext(p, true, limit);
    Outcome out = ServeWindow(cursorRegion_, p, e, &storageErr);
    if (out == Outcome::kDone) {
      stats_.prefetchedPages.fetch_add(e - p, std::memory_order_relaxed);
      cursorPage_ = e;
    } else if (out == Outcome::kGone) {
      prefetchGone_ = true;
      Emit({"gone", "ESRCH", "the faulting process has exited; prefetch stopped"});
    } else if (out == Outcome::kStorageError) {
      // Leave the cursor: faults will hit the same block and go through the retry path.
      stats_.storageErrors.fetch_add(1, std::memory_order_relaxed);
      cursorPage_ = e;
    } else if (out == Outcome::kFailed) {
      cursorPage_ = e;
    }
    return;
  }
  prefetch_ = PrefetchPolicy::kNone;
  Emit({"prefetch-done", "", "all pages populated"});
}

void FaultServer::RunDueRetries() {
  int64_t now = NowUs();
  for (size_t i = 0; i < retries_.size();) {
    Retry& rt = retries_[i];
    if (rt.dueUs > now) {
      i++;
      continue;
    }
    Region& r = regions_[rt.region];
    const uint64_t page0 = r.spec.base + rt.page * pageSize_;
    if (r.unmapped || r.populated.Get(rt.page)) {
      Wake(page0, pageSize_);
      retries_.erase(retries_.begin() + static_cast<long>(i));
      continue;
    }
    int storageErr = 0;
    Outcome out = ServeWindow(rt.region, rt.page, rt.page + 1, &storageErr);
    if (out == Outcome::kStorageError) {
      rt.attempts++;
      int64_t backoff = std::min<int64_t>(kMaxBackoffUs, int64_t{1000} << std::min<uint32_t>(rt.attempts, 10));
      rt.dueUs = now + backoff;
      // Wake the waiter so it is not parked in the kernel for the whole outage; it re-faults and its
      // event is absorbed by this retry entry.
      Wake(page0, pageSize_);
      if ((rt.attempts & (rt.attempts - 1)) == 0) {
        Emit({"storage-error", ErrnoName(storageErr), std::strerror(storageErr), r.spec.offset + rt.page * pageSize_,
              0, 0, 0, rt.attempts});
      }
      i++;
      continue;
    }
    if (out == Outcome::kDone) {
      stats_.faults.fetch_add(1, std::memory_order_relaxed);
      stats_.pages.fetch_add(1, std::memory_order_relaxed);
      Emit({"storage-recovered", "", "", r.spec.offset + rt.page * pageSize_, 0, 0, 0, rt.attempts});
    }
    Wake(page0, pageSize_);
    retries_.erase(retries_.begin() + static_cast<long>(i));
  }
}

}  // namespace amber
