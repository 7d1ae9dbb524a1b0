// config.json of a CLIP or SigLIP folder -> VisionConfig, and its weights (hf_vision_import.h).
#include "models/vision/hf_vision_import.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/check.h"
#include "models/model_size.h"
#include "models/vision/hf_clip_adapter.h"
#include "models/vision/hf_siglip_adapter.h"
#include "models/vision/vit.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mm::vision {
namespace {

// model_type -> the architectures it may name (the first is assumed when config.json names none).
const std::vector<std::pair<std::string, std::vector<std::string>>> kTypes = {
    {"clip", {"CLIPModel"}},
    {"clip_vision_model", {"CLIPVisionModel", "CLIPVisionModelWithProjection"}},
    {"siglip", {"SiglipModel"}},
    {"siglip_vision_model", {"SiglipVisionModel"}}};

// Typed reads of the vision keys (nested under vision_config. or not); a key config.json leaves out
// takes the default of transformers' config class and is listed in `defaulted`.
struct Reader {
  const json& j;
  const std::string& file;
  const std::string& prefix;
  std::vector<std::string>& defaulted;

  bool has(const std::string& k) const { return j.contains(k) && !j[k].is_null(); }
  int64_t integer(const std::string& k, int64_t def) const {
    if (!has(k)) {
      defaulted.push_back(fmt::format("{} {}", k, def));
      return def;
    }
    MM_CHECK(j[k].is_number_integer() && j[k].get<int64_t>() > 0, "{}: '{}{}' must be a positive integer, got {}", file,
             prefix, k, j[k].dump());
    return j[k].get<int64_t>();
  }
  double number(const std::string& k, double def) const {
    if (!has(k)) {
      defaulted.push_back(fmt::format("{} {}", k, def));
      return def;
    }
    MM_CHECK(j[k].is_number() && j[k].get<double>() > 0, "{}: '{}{}' must be a positive number, got {}", file, prefix,
             k, j[k].dump());
    return j[k].get<double>();
  }
  std::string text(const std::string& k, const std::string& def) const {
    if (!has(k)) {
      defaulted.push_back(k + " " + def);
      return def;
    }
    MM_CHECK(j[k].is_string(), "{}: '{}{}' must be a string, got {}", file, prefix, k, j[k].dump());
    return j[k].get<std::string>();
  }
  bool mm_flag(const std::string& k, bool def) const {  // mmtrain's own export keys: no note when absent
    if (!has(k)) return def;
    MM_CHECK(j[k].is_boolean(), "{}: '{}{}' must be true or false, got {}", file, prefix, k, j[k].dump());
    return j[k].get<bool>();
  }
};

json parse_config(const std::string& file) {
  try {
    std::ifstream in(file);
    return json::parse(in);
  } catch (const json::exception& e) {
    MM_FAIL("{}: not valid JSON ({})", file, e.what());
  }
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

HfVision read_hf_vision(const std::string& from) {
  HfVision v;
  v.dir = starts_with(from, "hf:") ? from.substr(3) : from;
  MM_CHECK(!v.dir.empty(), "model.vision.from: expected hf:DIR (a Hugging Face CLIP or SigLIP folder), got '{}'", from);
  MM_CHECK(fs::is_directory(v.dir), "model.vision.from: {} is not a folder", v.dir);
  v.config_file = (fs::path(v.dir) / "config.json").string();
  MM_CHECK(fs::exists(v.config_file), "{}: no such file (model.vision.from: a Hugging Face folder has a config.json)",
           v.config_file);
  const json j = parse_config(v.config_file);
  const std::string& file = v.config_file;
  MM_CHECK(j.is_object(), "{}: expected a JSON object", file);
  MM_CHECK(j.contains("model_type") && j["model_type"].is_string(), "{}: missing key 'model_type'", file);
  v.model_type = j["model_type"].get<std::string>();
  auto type = std::find_if(kTypes.begin(), kTypes.end(), [&](const auto& t) { return t.first == v.model_type; });
  MM_CHECK(type != kTypes.end(),
           "{}: model_type '{}' is not supported by model.vision.from (expected clip, clip_vision_model, siglip or "
           "siglip_vision_model: a CLIP or SigLIP image encoder)",
           file, v.model_type);
  const auto& archs = type->second;
  v.architecture = archs[0];
  if (j.contains("architectures") && !j["architectures"].is_null()) {
    const json& a = j["architectures"];
    const bool ok = a.is_array() && a.size() == 1 && a[0].is_string() &&
                    std::find(archs.begin(), archs.end(), a[0].get<std::string>()) != archs.end();
    MM_CHECK(ok, "{}: architectures {} is not supported for model_type '{}' (expected [\"{}\"])", file, a.dump(),
             v.model_type, fmt::join(archs, "\"] or [\""));
    v.architecture = a[0].get<std::string>();
  }
  v.whole_model = v.architecture == "CLIPModel" || v.architecture == "SiglipModel" ||
                  v.architecture == "CLIPVisionModelWithProjection";
  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) v.torch_dtype = j["torch_dtype"].get<std::string>();
  const bool siglip = starts_with(v.model_type, "siglip");
  v.family = siglip ? "SigLIP" : "CLIP";
  const bool nested = v.model_type == "clip" || v.model_type == "siglip";
  v.key_prefix = nested ? "vision_config." : "";
  MM_CHECK(!nested || (j.contains("vision_config") && j["vision_config"].is_object()),
           "{}: missing key 'vision_config' (model_type {} keeps the image encoder's sizes there)", file, v.model_type);
  const json& vc = nested ? j["vision_config"] : j;
  std::vector<std::string> defaulted;
  const Reader r{vc, file, v.key_prefix, defaulted};

  // transformers' CLIPVisionConfig / SiglipVisionConfig defaults where a key is absent
  VisionConfig& c = v.vision;
  c.from = "hf:" + v.dir;
  c.width = r.integer("hidden_size", 768);
  c.mlp_dim = r.integer("intermediate_size", 3072);
  v.folder_layers = r.integer("num_hidden_layers", 12);
  c.layers = v.folder_layers;
  c.heads = r.integer("num_attention_heads", 12);
  const int64_t channels = r.integer("num_channels", 3);
  v.folder_image_size = r.integer("image_size", 224);
  c.patch_size = r.integer("patch_size", siglip ? 16 : 32);
  v.hidden_act = r.text("hidden_act", siglip ? "gelu_pytorch_tanh" : "quick_gelu");
  c.norm_eps = r.number("layer_norm_eps", siglip ? 1e-6 : 1e-5);
  MM_CHECK(channels == 3, "{}: '{}num_channels' is {}: mmtrain's tiles are RGB (3)", file, v.key_prefix, channels);
  MM_CHECK(c.width % c.heads == 0, "{}: '{}hidden_size' {} is not a multiple of '{}num_attention_heads' {}", file,
           v.key_prefix, c.width, v.key_prefix, c.heads);
  MM_CHECK(v.folder_image_size >= c.patch_size, "{}: '{}image_size' {} is smaller than '{}patch_size' {}", file,
           v.key_prefix, v.folder_image_size, v.key_prefix, c.patch_size);
  if (v.hidden_act == "quick_gelu" || v.hidden_act == "gelu")
    c.act = v.hidden_act;
  else if (v.hidden_act == "gelu_pytorch_tanh")
    c.act = "gelu_tanh";
  else
    MM_FAIL("{}: '{}hidden_act' \"{}\" is not supported (expected quick_gelu, gelu or gelu_pytorch_tanh)", file,
            v.key_prefix, v.hidden_act);
  if (!defaulted.empty())
    v.notes.push_back(fmt::format("absent from config.json, the defaults of transformers' {}VisionConfig: {}",
                                  v.family == "CLIP" ? "CLIP" : "Siglip", fmt::join(defaulted, ", ")));
  // The patch grid is image_size / patch_size rounded down (HF's convolution drops the rest).
  const int64_t grid = v.folder_image_size / c.patch_size;
  c.image_size = grid * c.patch_size;
  if (c.image_size != v.folder_image_size)
    v.notes.push_back(fmt::format(
        "image_size {} is not a multiple of patch_size {}: read as {} (the {}x{} position table; HF's patch "
        "convolution drops the last {} pixels), so tiles of {} px use the table as it is",
        v.folder_image_size, c.patch_size, c.image_size, grid, grid, v.folder_image_size - c.image_size, c.image_size));
  c.class_token = !siglip;
  c.pre_norm = !siglip;
  c.patch_bias = siglip;
  // mmtrain's own exports: their deviations (mm_* keys HF ignores) and the blocks up to the feature layer.
  if (v.model_type == "clip_vision_model") {
    c.class_token = r.mm_flag("mm_class_token", true);
    c.pre_norm = r.mm_flag("mm_pre_norm", true);
  }
  if (r.has("mm_layers")) {
    MM_CHECK(vc["mm_layers"].is_number_integer() && vc["mm_layers"].get<int64_t>() >= v.folder_layers,
             "{}: 'mm_layers' must be an integer >= num_hidden_layers {}, got {}", file, v.folder_layers,
             vc["mm_layers"].dump());
    c.layers = vc["mm_layers"].get<int64_t>();
    if (c.layers != v.folder_layers)
      v.notes.push_back(fmt::format("an mmtrain export: {} of mm_layers {} blocks written (up to its feature layer)",
                                    v.folder_layers, c.layers));
  }
  return v;
}

std::vector<HfVisionKey> hf_vision_keys(const HfVision& v) {
  const VisionConfig& c = v.vision;
  const std::string& p = v.key_prefix;
  const std::string fam = "of model_type " + v.model_type + ":";
  return {{"image_size", c.image_size,
           p + "image_size" + (c.image_size != v.folder_image_size ? " (rounded down to whole patches)" : "")},
          {"patch_size", c.patch_size, p + "patch_size"},
          {"width", c.width, p + "hidden_size"},
          {"layers", c.layers, c.layers != v.folder_layers ? p + "mm_layers" : p + "num_hidden_layers"},
          {"heads", c.heads, p + "num_attention_heads"},
          {"mlp_dim", c.mlp_dim, p + "intermediate_size"},
          {"act", c.act, p + "hidden_act " + v.hidden_act + ", i.e."},
          {"norm_eps", c.norm_eps, p + "layer_norm_eps"},
          {"class_token", c.class_token, "the class token " + fam},
          {"pre_norm", c.pre_norm, "the pre_layrnorm " + fam},
          {"patch_bias", c.patch_bias, "the patch embedding bias " + fam}};
}

VisionTensors plan_hf_vision_tensors(const HfVision& v, const VisionConfig& cfg, const hf::WeightFiles& files) {
  const int64_t used = vit_blocks_used(cfg);
  MM_CHECK(used <= v.folder_layers,
           "{}: model.vision.feature_layer {} needs {} blocks, but the folder holds {} (num_hidden_layers{})",
           v.config_file, cfg.feature_layer, used, v.folder_layers,
           cfg.layers != v.folder_layers ? ": an mmtrain export written up to its feature layer" : "");
  VisionTensors out;
  std::map<std::string, int64_t> skipped;  // reason -> count
  const std::string layers = "vision_model.encoder.layers.";
  for (const auto& [name, info] : files.info) {
    std::string why;
    if (!starts_with(name, "vision_model.")) {
      MM_CHECK(v.whole_model, "{}: unexpected tensor '{}' ({} holds only vision_model.*)", files.file_of.at(name), name,
               v.architecture);
      why = "outside vision_model.* (the text tower, projections and logit scale of " + v.architecture + ")";
    } else if (name == "vision_model.embeddings.position_ids") {
      why = "vision_model.embeddings.position_ids (an index buffer older transformers saved)";
    } else if (v.family == "SigLIP" && starts_with(name, "vision_model.head.")) {
      why = "vision_model.head.* (SigLIP's attention-pooling head: the connector reads the patch features)";
    } else if (starts_with(name, layers)) {
      const std::string rest = name.substr(layers.size());
      const size_t dot = rest.find('.');
      const std::string num = rest.substr(0, dot);
      if (!num.empty() && std::all_of(num.begin(), num.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        const int64_t i = std::stoll(num);
        if (i >= used && i < v.folder_layers)
          why = fmt::format("vision_model.encoder.layers.{}..{} (past the feature layer {})", used, v.folder_layers - 1,
                            cfg.feature_layer);
      }
    }
    if (why.empty()) {
      out.read.push_back(name);
    } else {
      ++skipped[why];
      ++out.skipped_count;
    }
  }
  for (const auto& [why, n] : skipped) out.skipped.push_back(fmt::format("{}: {} tensor(s)", why, n));
  return out;
}

TensorMap read_hf_vision_weights(const HfVision& v, const VisionConfig& cfg, const hf::WeightFiles& files,
                                 torch::ScalarType dtype) {
  const VisionTensors plan = plan_hf_vision_tensors(v, cfg, files);
  TensorMap hf_state;
  for (const auto& name : plan.read) hf_state[name] = hf::read_tensor(files, name, dtype);
  try {
    return cfg.patch_bias ? vision_state_from_siglip(hf_state, cfg) : vision_state_from_clip(hf_state, cfg);
  } catch (const mm::Error& e) {
    MM_FAIL("{}: {}", v.dir, without_location(e.what()));
  }
}

std::string load_hf_vision(VisionTransformerImpl& vit) {
  const VisionConfig& cfg = vit.config();
  const HfVision v = read_hf_vision(cfg.from);
  const hf::WeightFiles files = hf::list_weights(v.dir);
  auto params = vit.named_parameters();
  MM_CHECK(params.size() > 0, "load_hf_vision: the vision encoder has no parameters");
  const torch::ScalarType dtype = params.begin()->value().scalar_type();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : params) shapes["vision." + p.key()] = p.value().sizes().vec();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : params) p.value().set_data(torch::empty({0}, p.value().options()));
  }
  TensorMap state = read_hf_vision_weights(v, cfg, files, dtype);
  for (const auto& [name, shape] : shapes) {
    auto it = state.find(name);
    MM_CHECK(it != state.end() && it->second.sizes().vec() == shape,
             "{}: the vision encoder was not built from {} (parameter '{}')", v.dir, v.config_file, name);
  }
  MM_CHECK(state.size() == shapes.size(), "{}: {} tensors for the vision encoder's {} parameters", v.dir, state.size(),
           shapes.size());
  torch::NoGradGuard no_grad;
  for (auto& p : params) p.value().set_data(state.at("vision." + p.key()));
  return fmt::format("{} ({}, {} tensors, {} on disk -> {})", v.dir, v.architecture, state.size(),
                     fmt::join(files.dtypes, "+"), c10::toString(dtype));
}

std::vector<std::string> describe_hf_vision(const HfVision& v, const hf::WeightFiles& files, const VisionConfig& cfg,
                                            int64_t tile_size) {
  const VisionConfig& c = v.vision;
  const VisionTensors plan = plan_hf_vision_tensors(v, cfg, files);
  const int64_t grid = c.image_size / c.patch_size, used = vit_blocks_used(cfg);
  std::vector<std::string> out;
  out.push_back(fmt::format("pretrained vision encoder: {} ({})", v.dir, v.config_file));
  out.push_back(fmt::format("  architecture {}, model_type {} ({}{}), torch_dtype {}, on disk {}", v.architecture,
                            v.model_type, v.family, v.key_prefix.empty() ? "" : "; sizes from vision_config",
                            v.torch_dtype.empty() ? "(none)" : v.torch_dtype, fmt::join(files.dtypes, "+")));
  out.push_back(fmt::format(
      "  width {}, layers {}, heads {}, mlp {}, image_size {}, patch {} ({}x{} position table), hidden_act {}, "
      "layer_norm_eps {}, class token {}, pre-norm {}, patch bias {}",
      c.width, c.layers, c.heads, c.mlp_dim, c.image_size, c.patch_size, grid, grid, v.hidden_act, c.norm_eps,
      c.class_token ? "yes" : "no", c.pre_norm ? "yes" : "no", c.patch_bias ? "yes" : "no"));
  std::string tiles;
  if (tile_size % c.patch_size != 0)
    tiles = fmt::format("image.tile_size {} is not a multiple of patch_size {}", tile_size, c.patch_size);
  else if (tile_size == c.image_size)
    tiles = fmt::format("tiles of {} px use the {}x{} position table as it is", tile_size, grid, grid);
  else
    tiles = fmt::format("tiles of {} px: the {}x{} position table interpolated (bicubic) to {}x{}", tile_size, grid,
                        grid, tile_size / c.patch_size, tile_size / c.patch_size);
  out.push_back(fmt::format("  features: hidden_states[{}] (the output of block {} of {}{}), no post_layernorm; {}",
                            cfg.feature_layer, used, c.layers, used == 0 ? ": the embeddings" : "", tiles));
  out.push_back(fmt::format("  parameters {}, {} of {} tensors read, {:.1f} MiB on disk in {} file(s){}",
                            vision_param_count(cfg), plan.read.size(), files.info.size(),
                            static_cast<double>(files.bytes) / (1024.0 * 1024.0), files.files.size(),
                            files.index.empty() ? "" : " + " + files.index));
  for (const auto& s : plan.skipped) out.push_back("  read past: " + s);
  for (const auto& n : v.notes) out.push_back("  note: " + n);
  return out;
}

}  // namespace mm::vision
