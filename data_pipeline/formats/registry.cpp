#include "data_pipeline/formats/registry.h"

#include <map>

#include "core/check.h"
#include "core/logging.h"
#include "data_pipeline/formats/json_source.h"
#include "data_pipeline/formats/wds_source.h"
#include "data_pipeline/quarantine.h"

namespace mm::data {

namespace {

// The one table of dataset formats.
const std::map<std::string, SourceFactory>& registry() {
  static const std::map<std::string, SourceFactory> table = {
      {"wds", [](const SourceConfig& c) { return std::make_unique<WdsSource>(c); }},
      {"captions", [](const SourceConfig& c) { return std::make_unique<JsonSource>(c, convert_captions); }},
      {"interleaved", [](const SourceConfig& c) { return std::make_unique<JsonSource>(c, convert_interleaved); }},
      {"llava", [](const SourceConfig& c) { return std::make_unique<JsonSource>(c, convert_llava); }},
      {"text", [](const SourceConfig& c) { return std::make_unique<JsonSource>(c, convert_text); }},
  };
  return table;
}

}  // namespace

std::vector<std::string> source_format_names() {
  std::vector<std::string> names;
  for (const auto& [name, _] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Source> open_source(const SourceConfig& cfg, Quarantine* quarantine) {
  auto it = registry().find(cfg.format);
  if (it == registry().end()) {
    std::string valid;
    for (const auto& n : source_format_names()) valid += (valid.empty() ? "" : ", ") + n;
    MM_FAIL("source '{}': unknown format '{}' (valid formats: {})", cfg.name, cfg.format, valid);
  }
  auto source = it->second(cfg);
  if (quarantine) quarantine->add_all(source->open_issues());
  auto log = mm::log::get("data");
  log->info("source '{}' ({}): {} records from {} file(s), {} quarantined, index {:.1f} MB", cfg.name, cfg.format,
            source->size(), source->files().size(), source->open_issues().size(), source->index_bytes() / 1e6);
  if (source->size() == 0)
    log->warn("source '{}': no valid record in {} (first problem: {})", cfg.name, cfg.path,
              source->open_issues().empty() ? "the files hold no records" : source->open_issues().front().reason);
  return source;
}

}  // namespace mm::data
