// The raw sample every format reader produces and every later stage consumes: text turns with
// `<image>` placeholders plus references to the images' bytes. No tensors, no tokens yet.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/conversation.h"

namespace mm::data {

// The turns and their roles are the chat template's vocabulary (tokenizer/conversation.h).
using tok::kImagePlaceholder;
using tok::Role;
using tok::Turn;

// Where an image's encoded bytes live: a file on disk, or a member of an (uncompressed) tar
// shard at a byte range, or bytes carried inline (e.g. produced in memory by a generator).
struct ImageRef {
  std::string path;                  // file path (already joined with the source root), or the tar file
  int64_t offset = -1;               // >= 0: byte offset of a tar member's data inside `path`
  int64_t size = -1;                 // byte size of that member
  std::string inline_bytes;          // non-empty: the encoded image itself
  std::string display_name() const;  // "shard.tar:key.jpg" or the path, for quarantine reasons
  std::string member;                // tar member name when offset >= 0
};

struct RawSample {
  std::string source;    // source name from the config
  std::string category;  // the source's category (general, text-rich, ...)
  std::string id;        // record id: the record's own id field, else "line N" / tar key
  std::vector<Turn> turns;
  std::vector<ImageRef> images;  // in placeholder order
};

// Number of "<image>" placeholders across all turns.
int64_t count_image_placeholders(const RawSample& s);

}  // namespace mm::data
