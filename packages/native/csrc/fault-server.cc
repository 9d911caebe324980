#include "fault-server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "errors.h"
#include "pagemap-scan.h"
#include "uapi.h"

namespace amber {

namespace {

constexpr size_t kBatch = 64;
constexpr int64_t kMaxBackoffUs = 1000000;

int64_t NowUs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int LatencyBucket(int64_t us) {
  if (us <= 1) return 0;
  int b = 63 - __builtin_clzll(static_cast<unsigned long long>(us));
  return b < kLatencyBuckets ? b : kLatencyBuckets - 1;
}

}  // namespace

FaultServer* FaultServer::Create(const ServerConfig& c, EventSink sink, int* err) {
  auto* s = new FaultServer();
  s->sink_ = std::move(sink);
  s->pageSize_ = c.pageSize;
  s->pagesPerFault_ = std::max<uint32_t>(1, c.pagesPerFault);
  s->prefetchChunk_ = std::max<uint32_t>(1, c.prefetchChunkPages);
  s->wp_ = c.wp;
  s->recordWorkingSet_ = c.recordWorkingSet;
  s->spinUs_ = c.spinUs;
  s->prefetch_ = c.prefetch;
  s->order_ = c.order;
  s->thenAll_ = c.thenAll;
  // Own duplicates so the JS side may close its copies whenever it likes.
  s->uffd_ = fcntl(c.uffd, F_DUPFD_CLOEXEC, 0);
  s->controlFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::vector<int> fds;
  bool ok = s->uffd_ >= 0 && s->controlFd_ >= 0;
  for (int fd : c.table.fds()) {
    int d = ok ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (d < 0) ok = false;
    fds.push_back(d);
    if (d >= 0) s->ownedFds_.push_back(d);
  }
  if (!ok) {
    *err = errno != 0 ? errno : EBADF;
    delete s;
    return nullptr;
  }
  // Rebuild the table around our own fds (same entries, new descriptors).
  s->table_ = c.table.WithFds(fds);
  for (const RegionSpec& spec : c.regions) {
    uint64_t pages = spec.size / c.pageSize;
    s->regions_.push_back(Region{spec, pages, false, PageBitmap(pages), PageBitmap(pages), PageBitmap(pages)});
    s->totalPages_ += pages;
  }
  s->bufLen_ = static_cast<size_t>(std::max(s->pagesPerFault_, s->prefetchChunk_)) * c.pageSize;
  if (posix_memalign(reinterpret_cast<void**>(&s->buf_), c.pageSize, s->bufLen_) != 0) {
    *err = ENOMEM;
    delete s;
    return nullptr;
  }
  return s;
}

FaultServer::~FaultServer() {
  Stop();
  if (uffd_ >= 0) close(uffd_);
  if (controlFd_ >= 0) close(controlFd_);
  for (int fd : ownedFds_) close(fd);
  free(buf_);
}

void FaultServer::Start() { thread_ = std::thread([this] { Run(); }); }

void FaultServer::Stop() {
  std::call_once(stopOnce_, [this] {
    stopping_.store(true);
    uint64_t one = 1;
    if (controlFd_ >= 0 && write(controlFd_, &one, sizeof(one)) < 0) {
      // An eventfd write only fails on counter overflow; the flag alone still stops the loop.
    }
  });
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void FaultServer::Emit(ServerEvent e) {
  if (sink_) sink_(std::move(e));
}

int FaultServer::FindRegion(uint64_t address) const {
  for (size_t i = 0; i < regions_.size(); i++) {
    const Region& r = regions_[i];
    if (!r.unmapped && address >= r.spec.base && address < r.spec.base + r.spec.size) return static_cast<int>(i);
  }
  return -1;
}

void FaultServer::Wake(uint64_t addr, uint64_t len) {
  struct uffdio_range range = {addr, len};
  ioctl(uffd_, UFFDIO_WAKE, &range);  // ENOENT etc. only mean nobody is waiting there any more
}

void FaultServer::Run() {
  struct uffd_msg msgs[kBatch];
  int64_t lastEventUs = 0;
  while (!stopping_.load()) {
    // Faults come in bursts and a sleeping server pays a wake-up for each one; right after an event,
    // keep reading for a few microseconds instead of going back to poll().
    if (spinUs_ > 0 && NowUs() - lastEventUs < spinUs_) {
      int64_t t0 = NowUs();
      ssize_t got = read(uffd_, msgs, sizeof(msgs));
      if (got > 0) {
        HandleBatch(msgs, static_cast<size_t>(got) / sizeof(struct uffd_msg), t0);
        lastEventUs = NowUs();
      } else if (got < 0 && errno != EAGAIN && errno != EINTR) {
        lastEventUs = 0;  // let poll() report it
      }
      continue;
    }
    int timeout = -1;
    if (!retries_.empty()) {
      int64_t due = retries_.front().dueUs;
      for (const Retry& r : retries_) due = std::min(due, r.dueUs);
      int64_t waitUs = due - NowUs();
      timeout = waitUs <= 0 ? 0 : static_cast<int>((waitUs + 999) / 1000);
    }
    if (PrefetchPending()) timeout = 0;
    struct pollfd pfds[2] = {{uffd_, POLLIN, 0}, {controlFd_, POLLIN, 0}};
    int n = poll(pfds, 2, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      Emit({"uffd-error", ErrnoName(errno), "poll failed; the pager stopped serving faults"});
      return;
    }
    if (pfds[1].revents & POLLIN) {
      uint64_t v;
      while (read(controlFd_, &v, sizeof(v)) > 0) {
      }
      if (stopping_.load()) return;
      ApplyPrefetchChange();
    }
    if (pfds[0].revents & POLLIN) {
      int64_t t0 = NowUs();
      ssize_t got = read(uffd_, msgs, sizeof(msgs));
      if (got < 0 && errno != EAGAIN && errno != EINTR) {
        Emit({"uffd-error", ErrnoName(errno), "read(userfaultfd) failed; the pager stopped serving faults"});
        return;
      }
      if (got > 0) {
        HandleBatch(msgs, static_cast<size_t>(got) / sizeof(struct uffd_msg), t0);
        lastEventUs = NowUs();
      }
    } else if (pfds[0].revents & (POLLERR | POLLHUP)) {
      Emit({"uffd-error", "EPIPE", "userfaultfd reported an error condition; the pager stopped serving faults"});
      return;
    }
    if (!retries_.empty()) RunDueRetries();
    if (n == 0 && PrefetchPending()) PrefetchStep();
  }
}

void FaultServer::HandleBatch(const void* raw, size_t count, int64_t t0) {
  const auto* msgs = static_cast<const struct uffd_msg*>(raw);
  stats_.events.fetch_add(count, std::memory_order_relaxed);
  for (size_t i = 0; i < count; i++) {
    const struct uffd_msg& m = msgs[i];
    switch (m.event) {
      case UFFD_EVENT_PAGEFAULT:
        ServeFault(m.arg.pagefault.address, m.arg.pagefault.flags, t0);
        break;
      case UFFD_EVENT_REMOVE:
        OnRemove(m.arg.remove.start, m.arg.remove.end, false);
        break;
      case UFFD_EVENT_UNMAP:
        OnRemove(m.arg.remove.start, m.arg.remove.end, true);
        break;
      case UFFD_EVENT_REMAP:
        OnRemap(m.arg.remap.from, m.arg.remap.to, m.arg.remap.len);
        break;
      case UFFD_EVENT_FORK:
        // A forked child's copy is not ours to serve; closing it unregisters the child's ranges.
        close(static_cast<int>(m.arg.fork.ufd));
        Emit({"fork", "", "the faulting process forked; the child's userfaultfd was closed"});
        break;
      default:
        break;
    }
  }
}

void FaultServer::ServeFault(uint64_t address, uint64_t flags, int64_t t0) {
  const uint64_t page0 = address & ~(pageSize_ - 1);
  int ri = FindRegion(address);
  if (ri < 0) {
    // Not a range we know (e.g. after an unmap we missed): wake it rather than leave a thread stuck.
    Wake(page0, pageSize_);
    if (!reportedStray_) {
      reportedStray_ = true;
      Emit({"stray-fault", "EFAULT", "fault outside every registered region", 0, address});
    }
    return;
  }
  Region& r = regions_[static_cast<size_t>(ri)];
  const uint64_t page = (page0 - r.spec.base) / pageSize_;
  if (flags & UFFD_PAGEFAULT_FLAG_WP) {
    // Synchronous write-protect fallback: remember the page, then un-protect it (which wakes the writer).
    // Holding dirtyMu_ across both keeps TakeDirty's "clear + re-protect" atomic with respect to us.
    std::lock_guard<std::mutex> lock(dirtyMu_);
    r.dirty.SetRange(page, page + 1);
    struct uffdio_writeprotect wp = {};
    wp.range.start = page0;
    wp.range.len = pageSize_;
    wp.mode = 0;
    ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp);
    stats_.wpFaults.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (r.populated.Get(page)) {
    stats_.alreadyPresent.fetch_add(1, std::memory_order_relaxed);
    Wake(page0, pageSize_);
    return;
  }
  for (const Retry& rt : retries_) {
    if (rt.region == static_cast<size_t>(ri) && rt.page == page) return;  // its retry will wake it
  }
  // An aligned window of pagesPerFault pages around the fault, shrunk to the run of missing pages that
  // contains it, so one UFFDIO_COPY never trips over a page that is already there.
  const uint64_t w = pagesPerFault_;
  uint64_t ws = page - page % w;
  uint64_t we = std::min(ws + w, r.pages);
  uint64_t s = page;
  while (s > ws && !r.populated.Get(s - 1)) s--;
  uint64_t e = page + 1;
  while (e < we && !r.populated.Get(e)) e++;
  int storageErr = 0;
  Outcome out = ServeWindow(static_cast<size_t>(ri), s, e, &storageErr);
  switch (out) {
    case Outcome::kDone: {
      stats_.faults.fetch_add(1, std::memory_order_relaxed);
      stats_.pages.fetch_add(e - s, std::memory_order_relaxed);
      int64_t us = NowUs() - t0;
      stats_.latencyUs[LatencyBucket(us)].fetch_add(1, std::memory_order_relaxed);
      if (recordWorkingSet_) {
        std::lock_guard<std::mutex> lock(wsMu_);
        workingSet_.push_back(r.spec.offset + page * pageSize_);
      }
      // If some page turned out present (EEXIST), the copies may not have covered the fault's page.
      if (installHitExisting_) Wake(page0, pageSize_);
      break;
    }
    case Outcome::kStorageError: {
      stats_.storageErrors.fetch_add(1, std::memory_order_relaxed);
      retries_.push_back(Retry{static_cast<size_t>(ri), page, 1, NowUs() + 1000});
      Emit({"storage-error", ErrnoName(storageErr), std::strerror(storageErr), r.spec.offset + page * pageSize_, 0, 0,
            0, 1});
      break;
    }
    case Outcome::kFailed:
      stats_.failedInstalls.fetch_add(1, std::memory_order_relaxed);
      if (!reportedInstallError_) {
        reportedInstallError_ = true;
        Emit({"uffd-error", ErrnoName(lastInstallErrno_), "installing a page failed", r.spec.offset + page * pageSize_});
      }
      Wake(page0, pageSize_);
      break;
    case Outcome::kRetryLater:
    case Outcome::kGone:
      // Let the thread re-fault; by then the event that made the mm busy has been read.
      Wake(page0, pageSize_);
      break;
  }
}

FaultServer::Outcome FaultServer::ServeWindow(size_t ri, uint64_t ws, uint64_t we, int* storageErr) {
  Region& r = regions_[ri];
  const uint64_t len = (we - ws) * pageSize_;
  bool allZero = true;
  uint64_t zeroBytes = 0;
  int err = table_.Fill(r.spec.offset + ws * pageSize_, len, buf_, &allZero, &zeroBytes);
  if (err != 0) {
    *storageErr = err;
    return Outcome::kStorageError;
  }
  // A removed range reads as zero, never as the snapshot's old content.
  for (uint64_t p = r.removed.FindNext(ws, true); p < we; p = r.removed.FindNext(p + 1, true)) {
    std::memset(buf_ + (p - ws) * pageSize_, 0, pageSize_);
    zeroBytes += pageSize_;
  }
  if (zeroBytes >= len) allZero = true;
  stats_.zeroPages.fetch_add(std::min(zeroBytes, len) / pageSize_, std::memory_order_relaxed);
  // UFFDIO_ZEROPAGE cannot install a write-protected page, so with WP tracking zeros go through COPY
  // (otherwise every zero page would look written at the first scan).
  return Install(r, ws, we, allZero && wp_ == WpMode::kNone);
}

FaultServer::Outcome FaultServer::Install(Region& r, uint64_t ws, uint64_t we, bool zero) {
  const uint64_t total = (we - ws) * pageSize_;
  const uint64_t dst = r.spec.base + ws * pageSize_;
  uint64_t done = 0;
  installHitExisting_ = false;
  while (done < total) {
    int64_t result;
    int rc;
    if (zero) {
      struct uffdio_zeropage zp = {};
      zp.range.start = dst + done;
      zp.range.len = total - done;
      rc = ioctl(uffd_, UFFDIO_ZEROPAGE, &zp);
      result = zp.zeropage;
    } else {
      struct uffdio_copy copy = {};
      copy.dst = dst + done;
      copy.src = reinterpret_cast<uint64_t>(buf_ + done);
      copy.len = total - done;
      copy.mode = wp_ != WpMode::kNone ? UFFDIO_COPY_MODE_WP : 0;
      rc = ioctl(uffd_, UFFDIO_COPY, &copy);
      result = copy.copy;
    }
    if (rc == 0) {
      MarkPopulated(r, ws + done / pageSize_, we);
      break;
    }
    int err = errno;
    if (result > 0) {  // partial progress, then EAGAIN: keep going from there
      MarkPopulated(r, ws + done / pageSize_, ws + (done + static_cast<uint64_t>(result)) / pageSize_);
      done += static_cast<uint64_t>(result);
      continue;
    }
    if (err == EEXIST) {
      installHitExisting_ = true;
      stats_.eexist.fetch_add(1, std::memory_order_relaxed);
      uint64_t p = ws + done / pageSize_;
      MarkPopulated(r, p, p + 1);
      done += pageSize_;
      continue;
    }
    if (err == EAGAIN) {
      stats_.eagain.fetch_add(1, std::memory_order_relaxed);
      return Outcome::kRetryLater;
    }
    if (err == ESRCH) return Outcome::kGone;  // the faulting process has exited
    lastInstallErrno_ = err;
    return Outcome::kFailed;
  }
  stats_.bytes.fetch_add(total, std::memory_order_relaxed);
  return Outcome::kDone;
}

void FaultServer::MarkPopulated(Region& r, uint64_t a, uint64_t b) {
  std::lock_guard<std::mutex> lock(dirtyMu_);  // TakeDirty reads `populated` from the JS thread
  uint64_t added = r.populated.SetRange(a, b);
  stats_.populatedPages.fetch_add(added, std::memory_order_relaxed);
  r.removed.ClearRange(a, b);
}

void FaultServer::OnRemove(uint64_t start, uint64_t end, bool unmap) {
  for (Region& r : regions_) {
    uint64_t lo = std::max(start, r.spec.base), hi = std::min(end, r.spec.base + r.spec.size);
    if (lo >= hi) continue;
    uint64_t a = (lo - r.spec.base) / pageSize_, b = (hi - r.spec.base + pageSize_ - 1) / pageSize_;
    {
      std::lock_guard<std::mutex> lock(dirtyMu_);
      uint64_t cleared = r.populated.ClearRange(a, b);
      stats_.populatedPages.fetch_sub(cleared, std::memory_order_relaxed);
      if (unmap) {
        if (a == 0 && b == r.pages) r.unmapped = true;
      } else {
        r.removed.SetRange(a, b);
        r.dirty.SetRange(a, b);
        stats_.removedPages.fetch_add(b - a, std::memory_order_relaxed);
      }
    }
    Emit({unmap ? "unmap" : "remove", "", "", r.spec.offset + a * pageSize_, start, end});
  }
}

void FaultServer::OnRemap(uint64_t from, uint64_t to, uint64_t len) {
  for (Region& r : regions_) {
    if (from == r.spec.base && len == r.spec.size) r.spec.base = to;
  }
  Emit({"remap", "", "", 0, from, from + len, to});
}

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
        uint64_t ws = page - page % pagesPerFault_, we = std::min(ws + pagesPerFault_, r.pages);
        uint64_t s = page, e = page + 1;
        while (s > ws && !r.populated.Get(s - 1)) s--;
        while (e < we && !r.populated.Get(e)) e++;
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
    uint64_t e = std::min(r.populated.FindNext(p, true), limit);
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

std::vector<std::pair<uint64_t, uint64_t>> FaultServer::TakeDirty(int pagemapFd, int* err) {
  *err = 0;
  std::vector<std::pair<uint64_t, uint64_t>> out;
  std::lock_guard<std::mutex> lock(dirtyMu_);
  for (Region& r : regions_) {
    PageBitmap dirty = r.dirty;
    r.dirty.ClearRange(0, r.pages);
    if (wp_ == WpMode::kSync && !r.unmapped) {
      // Re-protect what was written (the fallback's faults un-protected it page by page).
      for (uint64_t a = dirty.FindNext(0, true); a < r.pages;) {
        uint64_t b = dirty.FindNext(a, false);
        struct uffdio_writeprotect wp = {};
        wp.range.start = r.spec.base + a * pageSize_;
        wp.range.len = (b - a) * pageSize_;
        wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
        if (ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp) != 0 && *err == 0) *err = errno;
        a = b < r.pages ? dirty.FindNext(b, true) : r.pages;
      }
    }
    if (wp_ == WpMode::kAsync && pagemapFd >= 0 && !r.unmapped) {
      ScanRequest req;
      req.start = r.spec.base;
      req.end = r.spec.base + r.spec.size;
      req.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
      req.categoryMask = PAGE_IS_WRITTEN;
      req.returnMask = PAGE_IS_WRITTEN;
      std::vector<struct page_region> written;
      int e = PagemapScan(pagemapFd, req, &written);
      if (e != 0 && *err == 0) *err = e;
      // The kernel counts a page with no PTE as written (it cannot prove otherwise once a page may have
      // been reclaimed). A page we never installed cannot have been written — the write would have
      // faulted to us first — so only installed pages count; removed ones are already in `dirty`.
      for (const struct page_region& w : written) {
        uint64_t a = (w.start - r.spec.base) / pageSize_, b = (w.end - r.spec.base) / pageSize_;
        for (uint64_t p = a; p < b && p < r.pages; p++) {
          if (r.populated.Get(p)) dirty.SetRange(p, p + 1);
        }
      }
    }
    for (uint64_t a = dirty.FindNext(0, true); a < r.pages;) {
      uint64_t b = dirty.FindNext(a, false);
      out.emplace_back(r.spec.offset + a * pageSize_, r.spec.offset + b * pageSize_);
      a = b < r.pages ? dirty.FindNext(b, true) : r.pages;
    }
  }
  return out;
}

std::vector<uint64_t> FaultServer::WorkingSet() {
  std::lock_guard<std::mutex> lock(wsMu_);
  return workingSet_;
}

}  // namespace amber
