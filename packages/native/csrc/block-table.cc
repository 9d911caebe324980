#include "block-table.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

namespace amber {

namespace {

int PreadAll(int fd, uint8_t* buf, uint64_t len, uint64_t offset) {
  uint64_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ENODATA;
    got += static_cast<uint64_t>(n);
  }
  return 0;
}

}  // namespace

std::vector<TableEntry>::const_iterator BlockTable::EntryAt(uint64_t g0) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), g0,
                             [](uint64_t v, const TableEntry& e) { return v < e.offset; });
  return it == entries_.begin() ? it : std::prev(it);
}

const uint8_t* BlockTable::Mapped(uint64_t g0, uint64_t len) const {
  auto it = EntryAt(g0);
  if (it == entries_.end() || g0 < it->offset || it->file < 0 || g0 + len > it->offset + it->length) return nullptr;
  auto file = static_cast<size_t>(it->file);
  if (file >= maps_.size() || maps_[file].base == nullptr) return nullptr;
  uint64_t at = it->storage + (g0 - it->offset);
  if (at + len > maps_[file].size) return nullptr;
  return maps_[file].base + at;
}

int BlockTable::Fill(uint64_t g0, uint64_t len, uint8_t* buf, bool* allZero, uint64_t* zeroBytes) const {
  *allZero = true;
  *zeroBytes = 0;
  auto it = EntryAt(g0);
  uint64_t g = g0;
  const uint64_t end = g0 + len;
  while (g < end) {
    if (it == entries_.end() || g < it->offset) {
      uint64_t stop = it == entries_.end() ? end : std::min(end, it->offset);
      std::memset(buf + (g - g0), 0, stop - g);
      *zeroBytes += stop - g;
      g = stop;
      continue;
    }
    uint64_t entryEnd = it->offset + it->length;
    if (g >= entryEnd) {
      ++it;
      continue;
    }
    uint64_t stop = std::min(end, entryEnd);
    if (it->file < 0) {
      std::memset(buf + (g - g0), 0, stop - g);
      *zeroBytes += stop - g;
    } else {
      *allZero = false;
      int fd = fds_[static_cast<size_t>(it->file)];
      int err = PreadAll(fd, buf + (g - g0), stop - g, it->storage + (g - it->offset));
      if (err != 0) return err;
    }
    g = stop;
  }
  return 0;
}

}  // namespace amber
