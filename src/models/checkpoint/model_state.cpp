#include "models/checkpoint/model_state.h"

#include <c10/util/StringUtil.h>  // c10::str: shapes in messages
#include <filesystem>

#include "core/check.h"
#include "core/config/config.h"
#include "models/checkpoint/checkpoint_manager.h"

namespace fs = std::filesystem;

namespace mm {
TensorMap model_state(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    out[item.key()] = item.value().detach().clone().contiguous();
  return out;
}

void load_model_state(torch::nn::Module& module, const TensorMap& state, const std::string& what) {
  torch::NoGradGuard no_grad;
  auto params = module.named_parameters(/*recurse=*/true);
  for (const auto& item : params) {
    auto it = state.find(item.key());
    MM_CHECK(it != state.end(), "{}: missing tensor '{}' ({} tensors present)", what, item.key(), state.size());
    MM_CHECK(it->second.sizes() == item.value().sizes(), "{}: tensor '{}' has shape {}, the model expects {}", what,
             item.key(), c10::str(it->second.sizes()), c10::str(item.value().sizes()));
    item.value().copy_(it->second);
  }
  for (const auto& [name, t] : state)
    MM_CHECK(params.contains(name), "{}: unexpected tensor '{}' (the config's model has no such parameter)", what,
             name);
}

std::string resolve_checkpoint(const std::string& path) {
  MM_CHECK(fs::exists(path), "{}: no such checkpoint, checkpoints folder or run directory", path);
  if (fs::exists(fs::path(path) / "MANIFEST")) return path;
  std::string dir = fs::exists(fs::path(path) / "checkpoints") ? (fs::path(path) / "checkpoints").string() : path;
  CheckpointManager mgr(dir);
  auto good = mgr.find_latest_good();
  MM_CHECK(good.has_value(), "{}: holds no checkpoint that verifies (expected step_NNNNNN folders with a MANIFEST)",
           dir);
  return *good;
}

LoadedModel load_model_checkpoint(const std::string& path) {
  LoadedModel out;
  out.path = resolve_checkpoint(path);
  Checkpoint ck = CheckpointManager::load(out.path, CheckpointManager::Part::kWeights);
  out.step = ck.step;
  const std::string cfg_path = (fs::path(out.path) / "config.yaml").string();
  out.config = load_run_config(cfg_path);
  out.model = MultimodalModel(out.config.model);
  load_model_state(*out.model, ck.model, (fs::path(out.path) / "model.safetensors").string());
  out.model->eval();
  for (auto& p : out.model->parameters()) p.set_requires_grad(false);
  return out;
}

}  // namespace mm
