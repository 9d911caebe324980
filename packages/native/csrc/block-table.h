// The flat lookup table a pager serves from: the memsnap header resolved to
// (guest offset, length, data file or zero, storage offset), sorted by guest offset.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace amber {

// A read-only mapping of one data file, owned by whoever made it (the fault server).
struct FileMap {
  const uint8_t* base = nullptr;
  uint64_t size = 0;
};

struct TableEntry {
  uint64_t offset;
  uint64_t length;
  int file;  // index into the table's fds, -1 = zero fill
  uint64_t storage;
};

class BlockTable {
 public:
  BlockTable() = default;
  BlockTable(std::vector<TableEntry> entries, std::vector<int> fds, std::vector<FileMap> maps = {})
      : entries_(std::move(entries)), fds_(std::move(fds)), maps_(std::move(maps)) {}

  // Writes guest bytes [g0, g0 + len) into buf. Bytes not covered by any entry read as zero (the
  // header covers everything; this is only defence). Sets *allZero when no data file was touched.
  // Returns 0, or the errno of a failed pread (ENODATA for a data file shorter than the header says).
  int Fill(uint64_t g0, uint64_t len, uint8_t* buf, bool* allZero, uint64_t* zeroBytes) const;

  // Where guest bytes [g0, g0 + len) are, if one entry of one mapped data file holds them all; otherwise
  // (zeros, a run across entries, no mapping, a file shorter than the header says) nullptr.
  const uint8_t* Mapped(uint64_t g0, uint64_t len) const;

  const std::vector<int>& fds() const { return fds_; }
  // The same entries over other descriptors (the server serves from its own duplicates) and their mappings.
  BlockTable WithFds(std::vector<int> fds, std::vector<FileMap> maps) const {
    return BlockTable(entries_, std::move(fds), std::move(maps));
  }

 private:
  // The last entry starting at or before g0 (the first entry if none does; end() if there are none).
  std::vector<TableEntry>::const_iterator EntryAt(uint64_t g0) const;

  std::vector<TableEntry> entries_;
  std::vector<int> fds_;
  std::vector<FileMap> maps_;  // by file index, like fds_; empty: nothing mapped
};

}  // namespace amber
