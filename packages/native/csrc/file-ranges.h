#pragma once
#include <napi.h>

#include <cstdint>

namespace amber {
// Registers seekDataRanges, copyFileRange(Async) and allocateAsync on `exports`.
void InitFileRanges(Napi::Env env, Napi::Object exports);
// copy_file_range until `len` bytes are done or the source ends; bytes copied or -errno.
int64_t CopyAll(int fdIn, uint64_t offIn, int fdOut, uint64_t offOut, uint64_t len);
}
