// WdsSource: WebDataset tar shards read in place. Members are grouped by key (image
// .jpg/.jpeg/.png/.webp + caption .txt, or .json with "caption"); a sample points at its image's
// byte range inside the shard, which the image module reads with pread.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data_pipeline/formats/source.h"

namespace mm::data {

class WdsSource : public Source {
 public:
  // cfg.path: a shard, a glob ("data/shard-*.tar"), a brace range ("shard-{000..099}.tar") or a
  // folder of .tar files. Shards are listed in parallel over `threads` (0 = hardware, max 8).
  explicit WdsSource(const SourceConfig& cfg, int threads = 0);

  size_t size() const override { return records_.size(); }
  RawSample get(size_t i) const override;
  size_t index_bytes() const override;

 private:
  struct Record {
    uint64_t image_offset = 0;
    uint64_t caption_offset = 0;
    uint64_t name_offset = 0;  // image member name inside names_
    uint32_t image_size = 0;
    uint32_t caption_size = 0;
    uint32_t shard = 0;
    uint16_t name_length = 0;
    uint8_t caption_json = 0;  // caption member is .json ({"caption": ...}) rather than .txt
  };
  std::vector<Record> records_;
  std::string names_;  // pooled image member names
};

// The caption text of a .txt member (as is) or a .json member ("caption" field); throws
// BadRecord (BadJson, MissingField, WrongType) for a malformed .json, EmptyText for a blank caption.
std::string wds_caption_text(const std::string& bytes, bool is_json);

}  // namespace mm::data
