#include "fault-server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "errors.h"
#include "fault-server-internal.h"
#include "uapi.h"

namespace amber {

namespace {

// Whole file, read-only: pages are copied into the guest from the page cache in one step (pread into a
// buffer and then UFFDIO_COPY from it was two copies). A file that cannot be mapped is served by pread.
FileMap MapReadOnly(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return {};
  void* base = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return {};
  return {static_cast<const uint8_t*>(base), static_cast<uint64_t>(st.st_size)};
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
  s->exactFaults_.store(c.exactFaults, std::memory_order_relaxed);
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
  for (int d : fds) s->maps_.push_back(MapReadOnly(d));
  // Rebuild the table around our own fds (same entries, new descriptors) and their mappings.
  s->table_ = c.table.WithFds(fds, s->maps_);
  for (const RegionSpec& spec : c.regions) {
    uint64_t pages = spec.size / c.pageSize;
    s->regions_.push_back(Region{spec, pages, false, PageBitmap(pages), PageBitmap(pages), PageBitmap(pages)});
    s->totalPages_ += pages;
    Region& r = s->regions_.back();
    for (const auto& [start, end] : c.present) {
      uint64_t a = std::max(start, spec.offset), b = std::min(end, spec.offset + spec.size);
      if (a >= b) continue;
      uint64_t first = (a - spec.offset) / c.pageSize, last = (b - spec.offset + c.pageSize - 1) / c.pageSize;
      s->stats_.populatedPages.fetch_add(r.populated.SetRange(first, last), std::memory_order_relaxed);
      r.dirty.SetRange(first, last);
    }
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
  for (const FileMap& m : maps_) {
    if (m.base != nullptr) munmap(const_cast<uint8_t*>(m.base), m.size);
  }
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
  struct uffd_msg msgs[kFaultBatch];
  int64_t lastEventUs = 0;
  bool storm = false;
  while (!stopping_.load()) {
    // Faults come in bursts and a sleeping server pays a wake-up for each one; right after an event,
    // keep reading for a few microseconds instead of going back to poll(). Only within a burst (this
    // event came soon after the last): after a lone fault the spin found nothing and took CPU from the
    // guests (~2.5 ms of a 2-core host's CPU per template spawn, most of it after the guest was ready).
    if (spinUs_ > 0 && storm && NowUs() - lastEventUs < spinUs_) {
      int64_t t0 = NowUs();
      std::unique_lock<std::mutex> batch(batchMu_);
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
      std::unique_lock<std::mutex> batch(batchMu_);
      ssize_t got = read(uffd_, msgs, sizeof(msgs));
      if (got < 0 && errno != EAGAIN && errno != EINTR) {
        Emit({"uffd-error", ErrnoName(errno), "read(userfaultfd) failed; the pager stopped serving faults"});
        return;
      }
      if (got > 0) {
        storm = t0 - lastEventUs < kStormGapSpins * spinUs_;
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
  const uint64_t w = exactFaults_.load(std::memory_order_relaxed) ? 1 : pagesPerFault_;
  uint64_t ws = page - page % w;
  uint64_t we = std::min(ws + w, r.pages);
  uint64_t s = page;
  while (s > ws && !r.populated.Get(s - 1)) s--;
  uint64_t e = page + 1;
  while (e < we && !r.populated.Get(e)) e++;
  int storageErr = 0;
  // Counted before the copy: it wakes the faulting thread, which may look at our numbers right away.
  stats_.faults.fetch_add(1, std::memory_order_relaxed);
  stats_.pages.fetch_add(e - s, std::memory_order_relaxed);
  if (recordWorkingSet_) {
    // Every page installed, not only the faulting one: a replay installs exactly these (PrefetchStep).
    std::lock_guard<std::mutex> lock(wsMu_);
    for (uint64_t p = s; p < e; p++) workingSet_.push_back(r.spec.offset + p * pageSize_);
  }
  Outcome out = ServeWindow(static_cast<size_t>(ri), s, e, &storageErr);
  if (out != Outcome::kDone) {
    stats_.faults.fetch_sub(1, std::memory_order_relaxed);
    stats_.pages.fetch_sub(e - s, std::memory_order_relaxed);
  }
  switch (out) {
    case Outcome::kDone: {
      int64_t us = NowUs() - t0;
      stats_.latencyUs[LatencyBucket(us)].fetch_add(1, std::memory_order_relaxed);
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
  if (r.removed.FindNext(ws, true, we) >= we) {
    if (const uint8_t* src = table_.Mapped(r.spec.offset + ws * pageSize_, len)) {
      // The source's page-table entries in one walk, not one fault inside the copy per 16 pages (a faulting
      // copy drops and retakes the guest's mm lock). Failing costs only that: the copy faults them itself.
      if (len > pageSize_) (void)madvise(const_cast<uint8_t*>(src), len, MADV_POPULATE_READ);
      Outcome out = Install(r, ws, we, false, src);
      // EFAULT: the file lost those pages since it was mapped (truncated); pread below says why.
      if (out != Outcome::kFailed || lastInstallErrno_ != EFAULT) return out;
    }
  }
  bool allZero = true;
  uint64_t zeroBytes = 0;
  int err = table_.Fill(r.spec.offset + ws * pageSize_, len, buf_, &allZero, &zeroBytes);
  if (err != 0) {
    *storageErr = err;
    return Outcome::kStorageError;
  }
  // A removed range reads as zero, never as the snapshot's old content.
  for (uint64_t p = r.removed.FindNext(ws, true, we); p < we; p = r.removed.FindNext(p + 1, true, we)) {
    std::memset(buf_ + (p - ws) * pageSize_, 0, pageSize_);
    zeroBytes += pageSize_;
  }
  if (zeroBytes >= len) allZero = true;
  stats_.zeroPages.fetch_add(std::min(zeroBytes, len) / pageSize_, std::memory_order_relaxed);
  // UFFDIO_ZEROPAGE cannot install a write-protected page, so with WP tracking zeros go through COPY
  // (otherwise every zero page would look written at the first scan).
  return Install(r, ws, we, allZero && wp_ == WpMode::kNone, buf_);
}

FaultServer::Outcome FaultServer::Install(Region& r, uint64_t ws, uint64_t we, bool zero, const uint8_t* src) {
  const uint64_t total = (we - ws) * pageSize_;
  const uint64_t dst = r.spec.base + ws * pageSize_;
  uint64_t done = 0;
  installHitExisting_ = false;
  // Marked before the copy wakes anyone (see ServeFault); undone below if the copy fails.
  std::vector<uint64_t> wasRemoved;
  for (uint64_t p = r.removed.FindNext(ws, true, we); p < we; p = r.removed.FindNext(p + 1, true, we))
    wasRemoved.push_back(p);
  MarkPopulated(r, ws, we);
  stats_.bytes.fetch_add(total, std::memory_order_relaxed);
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
      copy.src = reinterpret_cast<uint64_t>(src + done);
      copy.len = total - done;
      copy.mode = wp_ != WpMode::kNone ? UFFDIO_COPY_MODE_WP : 0;
      rc = ioctl(uffd_, UFFDIO_COPY, &copy);
      result = copy.copy;
    }
    if (rc == 0) return Outcome::kDone;
    int err = errno;
    if (result > 0) {  // partial progress, then EAGAIN: keep going from there
      done += static_cast<uint64_t>(result);
      continue;
    }
    if (err == EEXIST) {  // that page is present already: skip it
      installHitExisting_ = true;
      stats_.eexist.fetch_add(1, std::memory_order_relaxed);
      done += pageSize_;
      continue;
    }
    Unmark(r, ws + done / pageSize_, we, wasRemoved);
    stats_.bytes.fetch_sub(total - done, std::memory_order_relaxed);
    if (err == EAGAIN) {
      stats_.eagain.fetch_add(1, std::memory_order_relaxed);
      return Outcome::kRetryLater;
    }
    if (err == ESRCH) return Outcome::kGone;  // the faulting process has exited
    lastInstallErrno_ = err;
    return Outcome::kFailed;
  }
  return Outcome::kDone;
}

void FaultServer::Unmark(Region& r, uint64_t a, uint64_t b, const std::vector<uint64_t>& wasRemoved) {
  std::lock_guard<std::mutex> lock(dirtyMu_);
  stats_.populatedPages.fetch_sub(r.populated.ClearRange(a, b), std::memory_order_relaxed);
  for (uint64_t p : wasRemoved) {
    if (p >= a && p < b) r.removed.SetRange(p, p + 1);
  }
}

void FaultServer::MarkPopulated(Region& r, uint64_t a, uint64_t b) {
  std::lock_guard<std::mutex> lock(dirtyMu_);  // TakeDirty reads `populated` from the JS thread
  uint64_t added = r.populated.SetRange(a, b);
  stats_.populatedPages.fetch_add(added, std::memory_order_relaxed);
  r.removed.ClearRange(a, b);
}

}  // namespace amber
