// The page-fault server: one thread per guest that polls a userfaultfd (plus a control eventfd), reads
// events in batches and answers each missing-page fault from the block table with UFFDIO_COPY (or
// UFFDIO_ZEROPAGE). Idle time goes to prefetching. No N-API here: fault-server-binding.cc wraps it.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "block-table.h"
#include "page-bitmap.h"

namespace amber {

enum class WpMode { kNone, kAsync, kSync };
enum class PrefetchPolicy { kNone, kAll, kOrder };

struct RegionSpec {
  uint64_t base;    // host virtual address in the faulting process
  uint64_t size;    // bytes
  uint64_t offset;  // guest-RAM (file) offset of base
};

struct ServerConfig {
  int uffd = -1;  // duplicated by the server
  std::vector<RegionSpec> regions;
  BlockTable table;  // its fds are duplicated by the server
  uint64_t pageSize = 4096;
  uint32_t pagesPerFault = 1;
  uint32_t prefetchChunkPages = 64;
  WpMode wp = WpMode::kNone;
  PrefetchPolicy prefetch = PrefetchPolicy::kNone;
  std::vector<uint64_t> order;  // guest offsets, for kOrder
  bool thenAll = false;         // after kOrder's list, continue with kAll
  bool recordWorkingSet = false;
  // Faults install only their own page until EndExactFaults, so a recording holds exactly the pages the
  // guest touched (a window also installs neighbours it may never read).
  bool exactFaults = false;
  // Guest byte ranges [start, end) already installed by an earlier pager of the same VM (adoption after an
  // agent restart). They count as populated, and as written: what that pager saw written is unknown.
  std::vector<std::pair<uint64_t, uint64_t>> present;
  int64_t spinUs = 50;  // busy-read this long after an event before sleeping in poll (0: never)
};

struct ServerEvent {
  std::string type;  // storage-error | storage-recovered | prefetch-done | remove | unmap | remap | fork |
                     // stray-fault | uffd-error | gone
  std::string code;  // errno name when relevant
  std::string message;
  uint64_t guestOffset = 0;
  uint64_t start = 0, end = 0, to = 0;
  uint32_t attempts = 0;
};

constexpr int kLatencyBuckets = 32;

struct ServerStats {
  std::atomic<uint64_t> faults{0};         // missing-page faults answered
  std::atomic<uint64_t> pages{0};          // pages installed for faults (incl. the extra N-1 per fault)
  std::atomic<uint64_t> bytes{0};          // bytes installed for faults and prefetch
  std::atomic<uint64_t> zeroPages{0};      // pages installed from zero entries or removed ranges
  std::atomic<uint64_t> eexist{0};         // UFFDIO_COPY/ZEROPAGE said the page was already there
  std::atomic<uint64_t> eagain{0};         // mm was changing; fault retried
  std::atomic<uint64_t> alreadyPresent{0}; // faults for pages already installed (woken only)
  std::atomic<uint64_t> prefetchedPages{0};
  std::atomic<uint64_t> populatedPages{0};
  std::atomic<uint64_t> removedPages{0};
  std::atomic<uint64_t> wpFaults{0};       // synchronous write-protect faults (fallback mode)
  std::atomic<uint64_t> storageErrors{0};
  std::atomic<uint64_t> failedInstalls{0};  // UFFDIO_COPY/ZEROPAGE failed for another reason
  std::atomic<uint64_t> events{0};         // uffd messages read
  std::atomic<uint64_t> latencyUs[kLatencyBuckets] = {};  // bucket i: [2^i, 2^(i+1)) µs, 0 also < 1 µs
};

class FaultServer {
 public:
  using EventSink = std::function<void(ServerEvent)>;

  // Returns nullptr and sets *err (an errno) if the fds cannot be duplicated or memory allocated.
  static FaultServer* Create(const ServerConfig& config, EventSink sink, int* err);
  ~FaultServer();

  void Start();
  // Signals the thread and joins it. Idempotent; safe from any thread but the server's.
  void Stop();

  const ServerStats& stats() const { return stats_; }
  uint64_t totalPages() const { return totalPages_; }

  // Guest byte ranges [start, end) written or removed since the last call, re-arming tracking: in async
  // mode PAGEMAP_SCAN over `pagemapFd` (the faulting process's /proc/<pid>/pagemap; -1 to skip), in
  // sync mode the pages whose WP faults we served (re-protected here); removed pages in both.
  std::vector<std::pair<uint64_t, uint64_t>> TakeDirty(int pagemapFd, int* err);
  std::vector<uint64_t> WorkingSet();
  void SetPrefetch(PrefetchPolicy policy, std::vector<uint64_t> order, bool thenAll);
  void EndExactFaults() { exactFaults_.store(false, std::memory_order_relaxed); }

 private:
  struct Region {
    RegionSpec spec;
    uint64_t pages;
    bool unmapped = false;
    PageBitmap populated;  // installed by us (or found present)
    PageBitmap removed;    // must read as zero on the next fault
    PageBitmap dirty;      // removed / sync-WP-written pages not yet reported
    // populated, removed and dirty change under dirtyMu_ (TakeDirty reads them from the JS thread).
  };
  struct Retry {
    size_t region;
    uint64_t page;
    uint32_t attempts;
    int64_t dueUs;
  };
  enum class Outcome { kDone, kStorageError, kRetryLater, kGone, kFailed };

  FaultServer() = default;
  void Run();
  void HandleBatch(const void* msgs, size_t count, int64_t t0);
  void ServeFault(uint64_t address, uint64_t flags, int64_t t0);
  Outcome ServeWindow(size_t ri, uint64_t ws, uint64_t we, int* storageErr);
  // Copies from `src` (the window's bytes: buf_, or a data file's mapping), or zero-fills.
  Outcome Install(Region& r, uint64_t ws, uint64_t we, bool zero, const uint8_t* src);
  void MarkPopulated(Region& r, uint64_t a, uint64_t b);
  void Unmark(Region& r, uint64_t a, uint64_t b, const std::vector<uint64_t>& wasRemoved);
  void OnRemove(uint64_t start, uint64_t end, bool unmap);
  void OnRemap(uint64_t from, uint64_t to, uint64_t len);
  bool PrefetchPending() const;
  void PrefetchStep();
  void RunDueRetries();
  void Wake(uint64_t addr, uint64_t len);
  int FindRegion(uint64_t address) const;
  void Emit(ServerEvent e);
  void ApplyPrefetchChange();

  int uffd_ = -1;
  int controlFd_ = -1;
  BlockTable table_;
  std::vector<int> ownedFds_;
  std::vector<FileMap> maps_;  // of ownedFds_, unmapped with the server
  std::vector<Region> regions_;
  uint64_t pageSize_ = 4096;
  uint32_t pagesPerFault_ = 1;
  uint32_t prefetchChunk_ = 64;
  WpMode wp_ = WpMode::kNone;
  bool recordWorkingSet_ = false;
  std::atomic<bool> exactFaults_{false};
  int64_t spinUs_ = 0;
  uint64_t totalPages_ = 0;
  uint8_t* buf_ = nullptr;
  size_t bufLen_ = 0;

  // Prefetch state (server thread only); changes arrive through pendingMu_.
  PrefetchPolicy prefetch_ = PrefetchPolicy::kNone;
  std::vector<uint64_t> order_;
  size_t orderPos_ = 0;
  bool thenAll_ = false;
  size_t cursorRegion_ = 0;
  uint64_t cursorPage_ = 0;
  bool prefetchGone_ = false;

  std::mutex pendingMu_;
  bool pendingChange_ = false;
  PrefetchPolicy pendingPolicy_ = PrefetchPolicy::kNone;
  std::vector<uint64_t> pendingOrder_;
  bool pendingThenAll_ = false;

  std::vector<Retry> retries_;
  std::mutex dirtyMu_;
  // Held while a batch read from the userfaultfd is handled; TakeDirty waits on it (see there).
  std::mutex batchMu_;
  std::mutex wsMu_;
  std::vector<uint64_t> workingSet_;
  EventSink sink_;
  ServerStats stats_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::once_flag stopOnce_;
  bool reportedStray_ = false;
  bool installHitExisting_ = false;
  bool reportedInstallError_ = false;
  int lastInstallErrno_ = 0;
};

}  // namespace amber
