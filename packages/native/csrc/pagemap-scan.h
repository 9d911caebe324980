#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

#include "uapi.h"

namespace amber {

struct ScanRequest {
  uint64_t start = 0, end = 0, flags = 0, maxPages = 0;
  uint64_t categoryInverted = 0, categoryMask = 0, categoryAnyofMask = 0, returnMask = 0;
};

// Runs PAGEMAP_SCAN over [start, end) until walk_end reaches end (the kernel stops early when its
// output vector fills). Appends to `out`; returns 0 or an errno.
int PagemapScan(int pagemapFd, const ScanRequest& req, std::vector<struct page_region>* out);

// Registers pagemapScan(fd, start, end, opts) on `exports`.
void InitPagemapScan(Napi::Env env, Napi::Object exports);

}  // namespace amber
