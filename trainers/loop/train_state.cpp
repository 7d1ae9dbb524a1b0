// TrainState (train_state.h): state.json through the typed config machinery, and the CPU generator.
#include "trainers/loop/train_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>

#include <filesystem>

#include "core/check.h"
#include "core/config/config.h"
#include "core/io.h"

namespace mm::train {

nlohmann::ordered_json to_json(const TrainState& state) { return cfg::to_ordered_json(state); }

TrainState train_state_from_json(const nlohmann::json& j, const std::string& origin) {
  cfg::ConfigTree tree;
  tree.root = cfg::Json(j);
  tree.origins[""] = origin;  // every error names the file
  try {
    return cfg::from_tree<TrainState>(tree);
  } catch (const cfg::ConfigError& e) {
    throw mm::Error(std::string("state.json: ") + e.what());
  }
}

TrainState read_train_state(const std::string& checkpoint_folder) {
  const std::string path = (std::filesystem::path(checkpoint_folder) / "state.json").string();
  nlohmann::json j = nlohmann::json::parse(io::read_file(path), nullptr, /*allow_exceptions=*/false);
  MM_CHECK(!j.is_discarded() && j.is_object(), "{}: not a JSON object", path);
  return train_state_from_json(j, path);
}

std::string capture_cpu_rng() {
  const at::Tensor bytes = at::detail::getDefaultCPUGenerator().get_state().contiguous();
  const auto* p = bytes.data_ptr<uint8_t>();
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(static_cast<size_t>(bytes.numel()) * 2);
  for (int64_t i = 0; i < bytes.numel(); ++i) s += digits[p[i] >> 4], s += digits[p[i] & 15];
  return s;
}

void restore_cpu_rng(const std::string& hex, const std::string& origin) {
  auto val = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw mm::Error(origin + ": state.json key 'rng_cpu': expected hexadecimal digits");
  };
  MM_CHECK(hex.size() % 2 == 0, "{}: state.json key 'rng_cpu': expected an even number of hex digits", origin);
  at::Tensor bytes = at::empty({static_cast<int64_t>(hex.size() / 2)}, at::kByte);
  auto* p = bytes.data_ptr<uint8_t>();
  for (size_t i = 0; i < hex.size(); i += 2) p[i / 2] = static_cast<uint8_t>(val(hex[i]) * 16 + val(hex[i + 1]));
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  gen.set_state(bytes);
}

}  // namespace mm::train
