#include "tokenizer/special_tokens.h"

#include <algorithm>

#include "core/check.h"

namespace mm::tok {
namespace {

std::string format_number(const std::string& fmt_str, const char* key, int64_t n) {
  const size_t pos = fmt_str.find("{}");
  MM_CHECK(pos != std::string::npos, "tokenizer.{} = \"{}\": expected a string containing \"{{}}\"", key, fmt_str);
  return fmt_str.substr(0, pos) + std::to_string(n) + fmt_str.substr(pos + 2);
}

}  // namespace

std::vector<std::string> special_symbols(const TokenizerConfig& cfg) {
  std::vector<std::string> out;
  auto add = [&](const std::string& s) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  add(cfg.image_token);
  add(cfg.system_prefix);
  add(cfg.user_prefix);
  add(cfg.assistant_prefix);
  add(cfg.turn_end);
  for (int64_t k = 0; k < cfg.index_max_images; ++k)
    add(format_number(cfg.index_image_format, "index_image_format", k));
  for (int64_t i = 0; i <= cfg.index_max_grid; ++i) add(format_number(cfg.index_row_format, "index_row_format", i));
  for (int64_t j = 0; j <= cfg.index_max_grid; ++j) add(format_number(cfg.index_col_format, "index_col_format", j));
  add(cfg.sep_col);
  add(cfg.sep_row);
  add(cfg.sep_overview);
  return out;
}

std::string index_marker(const TokenizerConfig& cfg, int64_t k, int64_t i, int64_t j) {
  MM_CHECK(k >= 0 && k < cfg.index_max_images,
           "image {} has no index indicator: tokenizer.index_max_images = {} (raise it and retrain the tokenizer)", k,
           cfg.index_max_images);
  MM_CHECK(i >= 0 && i <= cfg.index_max_grid && j >= 0 && j <= cfg.index_max_grid,
           "tile ({}, {}) has no index indicator: tokenizer.index_max_grid = {} (raise it and retrain the tokenizer)",
           i, j, cfg.index_max_grid);
  return format_number(cfg.index_image_format, "index_image_format", k) +
         format_number(cfg.index_row_format, "index_row_format", i) +
         format_number(cfg.index_col_format, "index_col_format", j);
}

}  // namespace mm::tok
