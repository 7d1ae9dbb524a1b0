#include "data_pipeline/formats/wds_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "core/check.h"
#include "data_pipeline/formats/file_io.h"
#include "data_pipeline/formats/record_check.h"
#include "data_pipeline/formats/tar_index.h"

namespace mm::data {

namespace {

bool is_image_ext(const std::string& e) { return e == "jpg" || e == "jpeg" || e == "png" || e == "webp"; }

// One WebDataset key's members inside a shard.
struct KeyGroup {
  std::string key;
  int image = -1, txt = -1, json = -1;  // member indices
};

struct ShardIndex {
  std::vector<TarMember> members;
  std::vector<KeyGroup> keys;  // valid keys, in order of first appearance
  std::vector<QuarantineEntry> issues;
};

RawSample make_sample(const std::string& caption, ImageRef image) {
  RawSample s;
  s.turns.push_back({Role::Text, std::string(kImagePlaceholder) + "\n" + caption});
  s.images.push_back(std::move(image));
  return s;
}

ShardIndex index_shard(const SourceConfig& cfg, const std::string& shard) {
  ShardIndex out;
  TarListing listing = list_tar_members(shard);
  out.members = std::move(listing.members);
  std::vector<KeyGroup> groups;
  std::unordered_map<std::string, size_t> by_key;
  for (size_t m = 0; m < out.members.size(); ++m) {
    auto [key, ext] = split_wds_key(out.members[m].name);
    auto [it, fresh] = by_key.emplace(key, groups.size());
    if (fresh) groups.push_back(KeyGroup{key});
    KeyGroup& g = groups[it->second];
    if (is_image_ext(ext) && g.image < 0) g.image = static_cast<int>(m);
    if (ext == "txt" && g.txt < 0) g.txt = static_cast<int>(m);
    if (ext == "json" && g.json < 0) g.json = static_cast<int>(m);
  }
  const std::string cut_key = listing.cut_member.empty() ? "" : split_wds_key(listing.cut_member).first;
  if (!cut_key.empty() && !by_key.count(cut_key)) groups.push_back(KeyGroup{cut_key});

  ReadOnlyFile file;
  if (!out.members.empty()) file = ReadOnlyFile(shard);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const KeyGroup& g = groups[gi];
    const bool at_damage = listing.damaged && (g.key == cut_key || (cut_key.empty() && gi + 1 == groups.size()));
    auto reject = [&](QuarantineKind kind, const std::string& why) {
      out.issues.push_back({cfg.name, g.key, kind, fmt::format("{}:{}: {}", shard, g.key, why)});
    };
    if (g.key == cut_key && listing.damaged) {
      reject(QuarantineKind::DamagedShard, "a member of this key is cut off by the end of the shard");
      continue;
    }
    if (g.image < 0 || (g.txt < 0 && g.json < 0)) {
      const std::string what =
          g.image < 0 ? "no image member (.jpg/.jpeg/.png/.webp)" : "no caption member (.txt or .json)";
      if (at_damage)
        reject(QuarantineKind::DamagedShard, what + " before the shard's damage");
      else
        reject(QuarantineKind::MissingMember, what);
      continue;
    }
    const TarMember& cap = out.members[g.txt >= 0 ? g.txt : g.json];
    const TarMember& img = out.members[g.image];
    if (img.size == 0) {
      reject(QuarantineKind::MissingImage, fmt::format("image member {} is empty", img.name));
      continue;
    }
    MM_CHECK(img.size < (uint64_t{1} << 32) && cap.size < (uint64_t{1} << 32),
             "{}: member of key {} is larger than 4 GiB", shard, g.key);
    try {
      ImageRef ref;
      ref.path = shard;
      validate_sample(make_sample(wds_caption_text(file.pread(cap.offset, cap.size), g.txt < 0), ref), cfg.check_boxes);
    } catch (const BadRecord& e) {
      reject(e.kind, fmt::format("{}: {}", cap.name, e.what()));
      continue;
    }
    out.keys.push_back(g);
  }
  if (listing.damaged)
    out.issues.push_back({cfg.name, std::filesystem::path(shard).filename().string(), QuarantineKind::DamagedShard,
                          fmt::format("{}: {}", shard, listing.damage)});
  return out;
}

}  // namespace

std::string wds_caption_text(const std::string& bytes, bool is_json) {
  if (!is_json) {
    if (is_blank(bytes)) throw BadRecord(QuarantineKind::EmptyText, "caption is empty");
    return bytes;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(bytes);
  } catch (const std::exception& e) {
    throw BadRecord(QuarantineKind::BadJson, std::string("bad JSON: ") + e.what());
  }
  if (!j.is_object()) throw BadRecord(QuarantineKind::WrongType, "caption .json is not an object");
  auto it = j.find("caption");
  if (it == j.end() || it->is_null()) throw BadRecord(QuarantineKind::MissingField, "missing \"caption\"");
  if (!it->is_string())
    throw BadRecord(QuarantineKind::WrongType,
                    fmt::format("\"caption\" is a JSON {}, expected a string", it->type_name()));
  if (is_blank(it->get_ref<const std::string&>())) throw BadRecord(QuarantineKind::EmptyText, "caption is empty");
  return it->get<std::string>();
}

WdsSource::WdsSource(const SourceConfig& cfg, int threads) : Source(cfg) {
  files_ = expand_source_paths(cfg.name, cfg.path, {".tar"});
  if (threads <= 0) threads = static_cast<int>(std::min(8u, std::max(1u, std::thread::hardware_concurrency())));
  threads = std::min<int>(threads, static_cast<int>(files_.size()));
  std::vector<ShardIndex> shards(files_.size());
  std::atomic<size_t> next{0};
  std::vector<std::string> errors(files_.size());
  auto work = [&] {
    for (size_t s = next++; s < files_.size(); s = next++) {
      try {
        shards[s] = index_shard(cfg_, files_[s]);
      } catch (const std::exception& e) {
        errors[s] = e.what();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  for (const auto& e : errors) MM_CHECK(e.empty(), "source '{}': {}", cfg_.name, e);

  for (size_t s = 0; s < shards.size(); ++s) {
    ShardIndex& sh = shards[s];
    for (const auto& g : sh.keys) {
      const TarMember& img = sh.members[g.image];
      const TarMember& cap = sh.members[g.txt >= 0 ? g.txt : g.json];
      Record r;
      r.image_offset = img.offset;
      r.image_size = static_cast<uint32_t>(img.size);
      r.caption_offset = cap.offset;
      r.caption_size = static_cast<uint32_t>(cap.size);
      r.shard = static_cast<uint32_t>(s);
      r.caption_json = g.txt < 0;
      r.name_offset = names_.size();
      r.name_length = static_cast<uint16_t>(std::min<size_t>(img.name.size(), UINT16_MAX));
      names_.append(img.name, 0, r.name_length);
      records_.push_back(r);
    }
    for (auto& e : sh.issues) issues_.push_back(std::move(e));
    sh = ShardIndex{};
  }
  records_.shrink_to_fit();
  names_.shrink_to_fit();
}

RawSample WdsSource::get(size_t i) const {
  MM_CHECK(i < records_.size(), "source '{}': record {} out of range (size {})", cfg_.name, i, records_.size());
  const Record& r = records_[i];
  const std::string& shard = files_[r.shard];
  ImageRef image;
  image.path = shard;
  image.offset = static_cast<int64_t>(r.image_offset);
  image.size = static_cast<int64_t>(r.image_size);
  image.member = names_.substr(r.name_offset, r.name_length);
  const std::string key = split_wds_key(image.member).first;
  std::string caption;
  try {
    caption = wds_caption_text(ReadOnlyFile(shard).pread(r.caption_offset, r.caption_size), r.caption_json);
  } catch (const BadRecord& e) {
    throw RecordError({cfg_.name, key, e.kind, fmt::format("{}:{}: {}", shard, key, e.what())});
  } catch (const mm::Error& e) {
    throw RecordError({cfg_.name, key, QuarantineKind::DamagedShard, fmt::format("{}:{}: {}", shard, key, e.what())});
  }
  RawSample s = make_sample(caption, std::move(image));
  try {
    validate_sample(s, cfg_.check_boxes);
  } catch (const BadRecord& e) {
    throw RecordError({cfg_.name, key, e.kind, fmt::format("{}:{}: {}", shard, key, e.what())});
  }
  s.source = cfg_.name;
  s.category = cfg_.category;
  s.id = key;
  return s;
}

size_t WdsSource::index_bytes() const { return records_.capacity() * sizeof(Record) + names_.capacity(); }

}  // namespace mm::data
