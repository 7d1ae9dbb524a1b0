#include "data_pipeline/quarantine.h"

#include <nlohmann/json.hpp>

namespace mm::data {

const char* to_string(QuarantineKind kind) {
  switch (kind) {
    case QuarantineKind::BadJson:
      return "bad_json";
    case QuarantineKind::MissingField:
      return "missing_field";
    case QuarantineKind::WrongType:
      return "wrong_type";
    case QuarantineKind::MissingImage:
      return "missing_image";
    case QuarantineKind::NotAFile:
      return "not_a_file";
    case QuarantineKind::ImagePath:
      return "image_path";
    case QuarantineKind::PlaceholderMismatch:
      return "placeholder_mismatch";
    case QuarantineKind::NoAssistantTurn:
      return "no_assistant_turn";
    case QuarantineKind::BoxOutOfRange:
      return "box_out_of_range";
    case QuarantineKind::EmptyText:
      return "empty_text";
    case QuarantineKind::DamagedShard:
      return "damaged_shard";
    case QuarantineKind::MissingMember:
      return "missing_member";
    case QuarantineKind::Other:
      return "other";
  }
  return "other";
}

std::string to_json_line(const QuarantineEntry& e, const std::string& issue) {
  nlohmann::ordered_json j;
  j["source"] = e.source;
  j["id"] = e.id;
  j["kind"] = to_string(e.kind);
  if (!issue.empty()) j["issue"] = issue;
  j["reason"] = e.reason;
  // Replace invalid UTF-8 instead of throwing: reasons may quote raw bytes of a broken record.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

RecordError::RecordError(QuarantineEntry e)
    : mm::Error(e.source + ": " + e.id + ": " + e.reason), entry_(std::move(e)) {}

Quarantine::Quarantine(const std::string& jsonl_path) : path_(jsonl_path) {
  out_.open(jsonl_path, std::ios::app);
  MM_CHECK(out_.good(), "cannot open quarantine file {} for appending", jsonl_path);
}

bool Quarantine::add(const QuarantineEntry& e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!seen_.emplace(e.source, e.id, e.reason).second) return false;
  entries_.push_back(e);
  if (out_.is_open()) {
    out_ << to_json_line(e) << '\n';
    out_.flush();
  }
  return true;
}

void Quarantine::add_all(const std::vector<QuarantineEntry>& entries) {
  for (const auto& e : entries) add(e);
}

size_t Quarantine::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::vector<QuarantineEntry> Quarantine::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_;
}

void Quarantine::write_jsonl(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ofstream f(path, std::ios::trunc);
  MM_CHECK(f.good(), "cannot write quarantine file {}", path);
  for (const auto& e : entries_) f << to_json_line(e) << '\n';
  MM_CHECK(f.good(), "error while writing quarantine file {}", path);
}

}  // namespace mm::data
