// Lists the members of an uncompressed tar shard in place with libarchive: name, byte offset of
// the member's data and its size, so a reader can pread any member without extracting.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm::data {

struct TarMember {
  std::string name;     // path inside the archive
  uint64_t offset = 0;  // first byte of the member's data in the shard file
  uint64_t size = 0;
};

struct TarListing {
  std::vector<TarMember> members;  // plain-file members, in archive order, all fully inside the file
  bool damaged = false;            // listing stopped early: `damage` says where and why
  std::string damage;
  std::string cut_member;  // the member whose data runs past the end of the file, if any
};

// Lists `path`. A compressed archive (gzip, zstd, ...) or a file that is not a tar fails with
// damaged = true and the reason (shards are read in place, so they must be uncompressed).
// Truncation or corruption keeps every complete member before the damage.
TarListing list_tar_members(const std::string& path);

// WebDataset key and extension of a member name: "dir/abc.seg.png" -> ("dir/abc", "seg.png"):
// the key runs up to the first dot after the last slash; the extension is lower-cased.
std::pair<std::string, std::string> split_wds_key(const std::string& member);

}  // namespace mm::data
