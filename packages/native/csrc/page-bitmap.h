// One bit per page of a guest-RAM region (8 KiB per 256 MiB). Not thread-safe: callers lock.
#pragma once
#include <cstdint>
#include <vector>

namespace amber {

class PageBitmap {
 public:
  explicit PageBitmap(uint64_t pages = 0) : words_((pages + 63) / 64, 0), pages_(pages) {}

  uint64_t size() const { return pages_; }
  bool Get(uint64_t i) const { return (words_[i >> 6] >> (i & 63)) & 1; }

  // Sets [a, b); returns how many bits were newly set.
  uint64_t SetRange(uint64_t a, uint64_t b) {
    uint64_t added = 0;
    for (uint64_t i = a; i < b; i++) {
      uint64_t& w = words_[i >> 6];
      uint64_t bit = uint64_t{1} << (i & 63);
      if (!(w & bit)) {
        w |= bit;
        added++;
      }
    }
    return added;
  }

  // Clears [a, b); returns how many bits were set before.
  uint64_t ClearRange(uint64_t a, uint64_t b) {
    uint64_t removed = 0;
    for (uint64_t i = a; i < b; i++) {
      uint64_t& w = words_[i >> 6];
      uint64_t bit = uint64_t{1} << (i & 63);
      if (w & bit) {
        w &= ~bit;
        removed++;
      }
    }
    return removed;
  }

  // First index in [from, limit) whose bit equals `value`, or limit (at most size()) if none. Callers that
  // look inside a window pass its end: an unbounded search runs to the end of a region of many GiB.
  uint64_t FindNext(uint64_t from, bool value, uint64_t limit = UINT64_MAX) const {
    const uint64_t end = limit < pages_ ? limit : pages_;
    while (from < end) {
      uint64_t w = words_[from >> 6];
      if (!value) w = ~w;
      w &= ~uint64_t{0} << (from & 63);
      if (w != 0) {
        uint64_t i = (from & ~uint64_t{63}) + static_cast<uint64_t>(__builtin_ctzll(w));
        return i < end ? i : end;
      }
      from = (from & ~uint64_t{63}) + 64;
    }
    return end;
  }

 private:
  std::vector<uint64_t> words_;
  uint64_t pages_;
};

}  // namespace amber
