// Helpers shared by the fault-server-*.cc files.
#pragma once
#include <time.h>

#include <cstddef>
#include <cstdint>

#include "fault-server.h"

namespace amber {

constexpr size_t kFaultBatch = 64;            // uffd messages per read()
constexpr int64_t kMaxBackoffUs = 1000000;   // storage retry backoff cap
constexpr int64_t kStormGapSpins = 4;        // an event this many spin windows after the last is in its burst

inline int64_t NowUs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Latency histogram bucket: floor(log2(us)), < 2 µs in bucket 0.
inline int LatencyBucket(int64_t us) {
  if (us <= 1) return 0;
  int b = 63 - __builtin_clzll(static_cast<unsigned long long>(us));
  return b < kLatencyBuckets ? b : kLatencyBuckets - 1;
}

}  // namespace amber
