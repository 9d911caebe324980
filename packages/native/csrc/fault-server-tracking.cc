// FaultServer's view of the guest's memory as it changes: REMOVE/UNMAP/REMAP events, dirty pages
// (PAGEMAP_SCAN, or the synchronous write-protect fallback) and the working-set record.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "errors.h"
#include "fault-server-internal.h"
#include "fault-server.h"
#include "pagemap-scan.h"
#include "uapi.h"

namespace amber {

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

std::vector<std::pair<uint64_t, uint64_t>> FaultServer::TakeDirty(int pagemapFd, int* err) {
  *err = 0;
  std::vector<std::pair<uint64_t, uint64_t>> out;
  // The kernel lets an madvise(REMOVE) return as soon as its event is read, before we record it: wait
  // for the batch in hand, so a removal that already returned is always in this report.
  std::lock_guard<std::mutex> batch(batchMu_);
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
