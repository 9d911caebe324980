// PAGEMAP_SCAN (Linux >= 6.7) on /proc/<pid>/pagemap: with PM_SCAN_WP_MATCHING it reports the pages
// written since they were last write-protected and re-protects them in the same walk, which is how the
// pager learns a guest's dirty pages without stopping to diff memory.
#include "pagemap-scan.h"

#include <cerrno>

#include "args.h"
#include "errors.h"

namespace amber {

int PagemapScan(int pagemapFd, const ScanRequest& req, std::vector<struct page_region>* out) {
  std::vector<struct page_region> vec(1024);
  uint64_t start = req.start;
  uint64_t found = 0;
  while (start < req.end) {
    struct pm_scan_arg arg = {};
    arg.size = sizeof(arg);
    arg.flags = req.flags;
    arg.start = start;
    arg.end = req.end;
    arg.vec = reinterpret_cast<uint64_t>(vec.data());
    arg.vec_len = vec.size();
    arg.max_pages = req.maxPages == 0 ? 0 : req.maxPages - found;
    arg.category_inverted = req.categoryInverted;
    arg.category_mask = req.categoryMask;
    arg.category_anyof_mask = req.categoryAnyofMask;
    arg.return_mask = req.returnMask;
    long n = ioctl(pagemapFd, PAGEMAP_SCAN, &arg);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    for (long i = 0; i < n; i++) {
      const struct page_region& r = vec[static_cast<size_t>(i)];
      found += (r.end - r.start) / 4096;
      // The kernel may split one run across two calls; stitch it back.
      if (!out->empty() && out->back().end == r.start && out->back().categories == r.categories) {
        out->back().end = r.end;
      } else {
        out->push_back(r);
      }
    }
    if (req.maxPages != 0 && found >= req.maxPages) break;
    if (arg.walk_end <= start) return EIO;  // no progress: never spin
    start = arg.walk_end;
  }
  return 0;
}

namespace {

bool OptU64(Napi::Env env, const Napi::Object& opts, const char* key, uint64_t* out) {
  if (!opts.Has(key) || opts.Get(key).IsUndefined()) return true;
  return PropU64(env, opts, key, out);
}

// pagemapScan(fd, start, end, { flags, categoryInverted, categoryMask, categoryAnyofMask, returnMask,
//   maxPages }) -> Float64Array of [start, end, categories] triples (compact for big dirty sets).
Napi::Value PagemapScanJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  ScanRequest req;
  if (!ArgFd(info, 0, &fd) || !ArgU64(info, 1, "start", &req.start) || !ArgU64(info, 2, "end", &req.end))
    return env.Undefined();
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Object o = info[3].As<Napi::Object>();
    if (!OptU64(env, o, "flags", &req.flags) || !OptU64(env, o, "categoryInverted", &req.categoryInverted) ||
        !OptU64(env, o, "categoryMask", &req.categoryMask) ||
        !OptU64(env, o, "categoryAnyofMask", &req.categoryAnyofMask) ||
        !OptU64(env, o, "returnMask", &req.returnMask) || !OptU64(env, o, "maxPages", &req.maxPages))
      return env.Undefined();
  }
  std::vector<struct page_region> regions;
  int err = PagemapScan(fd, req, &regions);
  if (err != 0) {
    ThrowErrno(env, "ioctl(PAGEMAP_SCAN)", err);
    return env.Undefined();
  }
  Napi::Float64Array out = Napi::Float64Array::New(env, regions.size() * 3);
  for (size_t i = 0; i < regions.size(); i++) {
    out[i * 3] = static_cast<double>(regions[i].start);
    out[i * 3 + 1] = static_cast<double>(regions[i].end);
    out[i * 3 + 2] = static_cast<double>(regions[i].categories);
  }
  return out;
}

}  // namespace

void InitPagemapScan(Napi::Env env, Napi::Object exports) {
  exports.Set("pagemapScan", Napi::Function::New(env, PagemapScanJs));
}

}  // namespace amber
