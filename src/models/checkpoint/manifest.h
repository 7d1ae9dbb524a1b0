// A checkpoint's MANIFEST: the size and FNV-1a 64-bit hash of every file in the folder, written
// last inside the temporary folder and verified before anything is loaded.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mm {

struct ManifestEntry {
  std::string file;  // name inside the checkpoint folder
  uint64_t size = 0;
  uint64_t hash = 0;  // fnv1a64 of the bytes (core/hash.h)
};

// Text form: first line "mmtrain-manifest 1", then one "<file> <size> fnv1a64:<16 hex>" a line.
std::string format_manifest(const std::vector<ManifestEntry>& entries);
// Throws mm::Error naming `origin` and the line for anything malformed.
std::vector<ManifestEntry> parse_manifest(std::string_view text, const std::string& origin);

// The entry of the file at `path` (named `file` in the manifest), hashing the mapped bytes.
ManifestEntry describe_file(const std::string& path, const std::string& file);

// Empty when every entry of the folder's MANIFEST matches the files (and the MANIFEST lists
// every file in `required`); otherwise one line saying what is wrong. Never throws. Files named in
// `size_only` are checked for presence and size but not read (a weights-only load skips hashing
// the optimizer state, two thirds of a checkpoint's bytes).
std::string verify_folder(const std::string& dir, const std::vector<std::string>& required,
                          const std::vector<std::string>& size_only = {});

}  // namespace mm
