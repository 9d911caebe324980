// Accelerators for snapshot files: SEEK_DATA/SEEK_HOLE finds the populated parts of a sparse RAM file
// without reading it (and without mmap, which would fill holes and spoil a lazy restore),
// copy_file_range moves blocks between files inside the kernel (reflink or page-cache copy), and
// fallocate reserves a copy's blocks before it is written. A whole copy plan is copy-runs.cc.
#include "file-ranges.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "args.h"
#include "errno-worker.h"
#include "errors.h"

namespace amber {

namespace {

// seekDataRanges(fd, size) -> Array<[start, end)> of data extents below `size`.
Napi::Value SeekDataRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t size = 0;
  if (!ArgFd(info, 0, &fd) || !ArgU64(info, 1, "size", &size)) return env.Undefined();
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  off_t pos = 0;
  while (static_cast<uint64_t>(pos) < size) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // no data at or after pos
      ThrowErrno(env, "lseek(SEEK_DATA)", errno);
      return env.Undefined();
    }
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      ThrowErrno(env, "lseek(SEEK_HOLE)", errno);
      return env.Undefined();
    }
    uint64_t end = static_cast<uint64_t>(hole) < size ? static_cast<uint64_t>(hole) : size;
    ranges.emplace_back(static_cast<uint64_t>(data), end);
    pos = hole;
  }
  Napi::Array out = Napi::Array::New(env, ranges.size());
  for (size_t i = 0; i < ranges.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::Number::New(env, static_cast<double>(ranges[i].first)));
    pair.Set(1u, Napi::Number::New(env, static_cast<double>(ranges[i].second)));
    out.Set(i, pair);
  }
  return out;
}

}  // namespace

// Copies until `len` bytes are done or the source ends; returns bytes copied or -errno.
int64_t CopyAll(int fdIn, uint64_t offIn, int fdOut, uint64_t offOut, uint64_t len) {
  loff_t in = static_cast<loff_t>(offIn), out = static_cast<loff_t>(offOut);
  uint64_t done = 0;
  while (done < len) {
    size_t chunk = len - done > (1u << 30) ? (1u << 30) : static_cast<size_t>(len - done);
    ssize_t n = copy_file_range(fdIn, &in, fdOut, &out, chunk, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  return static_cast<int64_t>(done);
}

namespace {

bool CopyArgs(const Napi::CallbackInfo& info, int* in, uint64_t* offIn, int* out, uint64_t* offOut, uint64_t* len) {
  int64_t fdIn = 0, fdOut = 0;
  if (!ArgInt(info, 0, "fdIn", &fdIn) || !ArgU64(info, 1, "offIn", offIn) || !ArgInt(info, 2, "fdOut", &fdOut) ||
      !ArgU64(info, 3, "offOut", offOut) || !ArgU64(info, 4, "length", len))
    return false;
  *in = static_cast<int>(fdIn);
  *out = static_cast<int>(fdOut);
  return true;
}

// copyFileRange(fdIn, offIn, fdOut, offOut, length) -> bytes copied (short only at the source's end).
Napi::Value CopyFileRangeSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int in = 0, out = 0;
  uint64_t offIn = 0, offOut = 0, len = 0;
  if (!CopyArgs(info, &in, &offIn, &out, &offOut, &len)) return env.Undefined();
  int64_t r = CopyAll(in, offIn, out, offOut, len);
  if (r < 0) {
    ThrowErrno(env, "copy_file_range", static_cast<int>(-r));
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(r));
}

// copyFileRangeAsync(...) -> Promise<bytes>: the same copy on a worker thread, for large ranges.
Napi::Value CopyFileRangeAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int in = 0, out = 0;
  uint64_t offIn = 0, offOut = 0, len = 0;
  if (!CopyArgs(info, &in, &offIn, &out, &offOut, &len)) return env.Undefined();
  return ErrnoWorker::Queue(env, "copy_file_range", [=] { return CopyAll(in, offIn, out, offOut, len); });
}

bool RangeArgs(const Napi::CallbackInfo& info, int* fd, uint64_t* off, uint64_t* len) {
  return ArgFd(info, 0, fd) && ArgU64(info, 1, "offset", off) && ArgU64(info, 2, "length", len);
}

// allocateAsync(fd, offset, length) -> Promise<0>: fallocate mode 0. Blocks allocated before the data is
// written spare the writeback from allocating them, which makes a later fsync markedly shorter on ext4.
Napi::Value AllocateAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = 0;
  uint64_t off = 0, len = 0;
  if (!RangeArgs(info, &fd, &off, &len)) return env.Undefined();
  return ErrnoWorker::Queue(env, "fallocate", [=]() -> int64_t {
    if (len == 0) return 0;
    int r;
    do r = fallocate(fd, 0, static_cast<off_t>(off), static_cast<off_t>(len));
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
  });
}

}  // namespace

void InitFileRanges(Napi::Env env, Napi::Object exports) {
  exports.Set("seekDataRanges", Napi::Function::New(env, SeekDataRanges));
  exports.Set("copyFileRange", Napi::Function::New(env, CopyFileRangeSync));
  exports.Set("copyFileRangeAsync", Napi::Function::New(env, CopyFileRangeAsync));
  exports.Set("allocateAsync", Napi::Function::New(env, AllocateAsync));
}

}  // namespace amber
