#include "data_pipeline/formats/tar_index.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "data_pipeline/formats/file_io.h"

namespace mm::data {

TarListing list_tar_members(const std::string& path) {
  TarListing out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    out.damaged = true;
    out.damage = "cannot stat the shard";
    return out;
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  std::unique_ptr<archive, int (*)(archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    out.damaged = true;
    out.damage =
        fmt::format("not a readable tar: {}", archive_error_string(a.get()) ? archive_error_string(a.get()) : "?");
    return out;
  }
  bool filter_checked = false;
  while (true) {
    archive_entry* entry = nullptr;
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      const char* msg = archive_error_string(a.get());
      out.damaged = true;
      out.damage = fmt::format("unreadable after byte {} ({} complete members before it): {}",
                               archive_read_header_position(a.get()), out.members.size(), msg ? msg : "?");
      break;
    }
    if (!filter_checked) {
      filter_checked = true;
      const int code = archive_filter_code(a.get(), 0);
      if (code != ARCHIVE_FILTER_NONE) {
        out.damaged = true;
        out.damage = fmt::format(
            "compressed with {}: WebDataset shards are read in place and must be "
            "uncompressed .tar files",
            archive_filter_name(a.get(), 0));
        out.members.clear();
        break;
      }
    }
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr) continue;
    TarMember m;
    m.name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    // After the header (pax / GNU long-name records included) has been read, the position of the
    // uncompressed stream is exactly the first byte of the member's data.
    m.offset = static_cast<uint64_t>(archive_filter_bytes(a.get(), 0));
    m.size = static_cast<uint64_t>(archive_entry_size(entry));
    if (archive_entry_sparse_count(entry) > 0) {
      out.damaged = true;
      out.damage = fmt::format("member {} is a sparse file (not readable in place)", m.name);
      out.cut_member = m.name;
      break;
    }
    if (m.offset + m.size > file_size) {
      out.damaged = true;
      out.damage = fmt::format(
          "truncated: member {} needs bytes {}..{} but the file ends at {} ({} complete "
          "members before it)",
          m.name, m.offset, m.offset + m.size, file_size, out.members.size());
      out.cut_member = m.name;
      break;
    }
    out.members.push_back(std::move(m));
  }
  if (!out.damaged && !out.members.empty()) {
    // libarchive treats a file that stops at a block boundary like an archive without its
    // end-of-archive marker (two zero blocks). Every tar writer emits the marker, so its
    // absence means the shard was cut (the last key may have lost members).
    const TarMember& last = out.members.back();
    const uint64_t end = last.offset + (last.size + 511) / 512 * 512;
    bool marker = end + 1024 <= file_size;
    if (marker) {
      std::string zeros;
      try {
        zeros = ReadOnlyFile(path).pread(end, 1024);
      } catch (const std::exception&) {
        marker = false;
      }
      marker = marker && zeros.find_first_not_of('\0') == std::string::npos;
    }
    if (!marker) {
      out.damaged = true;
      out.damage = fmt::format("truncated: no end-of-archive marker after byte {} ({} complete members before it)", end,
                               out.members.size());
    }
  }
  return out;
}

std::pair<std::string, std::string> split_wds_key(const std::string& member) {
  const size_t slash = member.rfind('/');
  const size_t dot = member.find('.', slash == std::string::npos ? 0 : slash + 1);
  if (dot == std::string::npos) return {member, ""};
  std::string ext = member.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return {member.substr(0, dot), ext};
}

}  // namespace mm::data
