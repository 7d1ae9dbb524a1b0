// `mmtrain export`: reads a checkpoint, maps its parts with the model adapters
// (models/llm/hf_llama_adapter.h, models/vision/hf_clip_adapter.h) and writes the folders (see
// hf_export.h, docs/export.md).
#include "trainers/export/hf_export.h"

#include <filesystem>
#include <optional>

#include "core/check.h"
#include "core/config/config.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "core/logging.h"
#include "core/safetensors.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/checkpoint/model_state.h"
#include "models/llm/hf_llama_adapter.h"
#include "models/vision/hf_clip_adapter.h"
#include "models/vision/hf_siglip_adapter.h"
#include "tokenizer/hub_tokens.h"
#include "tokenizer/tokenizer.h"
#include "trainers/export/export_json.h"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mm::train {
namespace {

TensorMap to_dtype(const TensorMap& m, const std::string& dtype) {
  TensorMap out;
  for (const auto& [name, t] : m) {
    auto c = t.detach().to(torch::kCPU);
    if (dtype == "bf16" && c.is_floating_point()) c = c.to(torch::kBFloat16);
    out[name] = c.contiguous();
  }
  return out;
}

std::string torch_dtype_name(const std::string& dtype) { return dtype == "bf16" ? "bfloat16" : "float32"; }

// A typed struct as the JSON of a file: keys sorted (nlohmann::json), as every export file is.
template <class T>
json file_json(const T& value) {
  return json::parse(cfg::to_ordered_json(value).dump());
}

}  // namespace

// ---- the export ---------------------------------------------------------------------------------

ExportSummary export_checkpoint(const std::string& checkpoint, const std::string& out_dir,
                                const ExportOptions& options) {
  MM_CHECK(options.dtype == "fp32" || options.dtype == "bf16", "export: --dtype must be fp32 or bf16, got '{}'",
           options.dtype);
  MM_CHECK(!out_dir.empty(), "export: --out DIR is required");
  MM_CHECK(!fs::exists(out_dir) || fs::is_directory(out_dir), "export: --out {} exists and is not a folder", out_dir);
  auto log = mm::log::get("export");
  ExportSummary summary;
  auto warn = [&](const std::string& msg) {
    log->warn("{}", msg);
    summary.warnings.push_back(msg);
  };

  LoadedModel loaded = load_model_checkpoint(checkpoint);
  summary.checkpoint = loaded.path;
  summary.step = loaded.step;
  const RunConfig& cfg = loaded.config;
  const ModelConfig& mc = cfg.model;
  llm::hf_layout(mc.llm);  // checks model.llm.moe.every before anything is written
  log->info("exporting {} (step {}) to {} as {}", loaded.path, loaded.step, out_dir, options.dtype);

  const TensorMap state = model_state(*loaded.model);
  const TensorMap llm = llm::hf_llm_state(state, mc.llm);
  const TensorMap vision = vision::hf_vision_state(state, mc.vision);  // SigLIP names with patch_bias, else CLIP
  TensorMap connector;
  for (const auto& [name, t] : state)
    if (name.rfind("connector.", 0) == 0) connector[name.substr(10)] = t;

  // The tokenizer: the one the checkpoint carries (the vocabulary it was trained with), else the
  // config path, which cannot be checked (models/checkpoint/checkpoint_tokenizer.h decides).
  const CheckpointTokenizer found = find_checkpoint_tokenizer(loaded.path, cfg.tokenizer.model_path);
  const std::string& tok_path = found.path;
  if (!found.carried)
    warn(tok_path.empty() ? found.problem + ": no tokenizer.model written, token ids are null" : found.problem);
  llm::TokenIds ids;
  int64_t image_id = -1, unk_id = -1;
  std::optional<tok::Tokenizer> tokenizer;
  if (!tok_path.empty()) {
    try {
      auto tok = tok::Tokenizer::load(cfg.tokenizer, tok_path);
      tokenizer = tok;
      ids = {tok.bos_id(), tok.eos_id(), tok.pad_id()};
      image_id = tok.image_id();
      unk_id = tok.unk_id();
      if (tok.vocab_size() > mc.llm.vocab_size)
        warn(fmt::format("tokenizer {} has {} pieces, more than model.llm.vocab_size = {}", tok_path, tok.vocab_size(),
                         mc.llm.vocab_size));
    } catch (const mm::Error& e) {
      warn(fmt::format("tokenizer {} could not be loaded ({}): copied, but token ids are null", tok_path, e.what()));
    }
  }

  const std::string tdt = torch_dtype_name(options.dtype);
  const fs::path out(out_dir);
  for (const char* sub : {"llm", "vision", "connector"}) fs::create_directories(out / sub);
  auto record = [&](const fs::path& p, int64_t tensors) {
    summary.files.push_back({p.string(), static_cast<uint64_t>(fs::file_size(p)), tensors});
  };
  auto write_json = [&](const fs::path& p, const json& j) {
    io::write_file_atomic(p.string(), j.dump(2) + "\n");
    record(p, 0);
  };
  const safetensors::Metadata st_meta = {{"format", "pt"}};
  auto write_st = [&](const fs::path& p, const TensorMap& m) {
    safetensors::save(p.string(), to_dtype(m, options.dtype), st_meta);
    record(p, static_cast<int64_t>(m.size()));
  };

  // llm/
  json llm_cfg = llm::hf_llm_config(mc.llm, ids, tdt);
  summary.llm_architecture = llm_cfg["architectures"][0].get<std::string>();
  write_json(out / "llm" / "config.json", llm_cfg);
  write_st(out / "llm" / "model.safetensors", llm);
  // The decoder folder loads with its own tokenizer (model.llm.from: hf:OUT/llm): the tokenizer with
  // mmtrain's added tokens, its tokenizer_config.json (bos/eos/pad, added tokens, chat template).
  for (const char* stale : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"})
    fs::remove(out / "llm" / stale);
  if (tokenizer) {
    for (const auto& [name, text] : tok::hf_tokenizer_files(*tokenizer)) {
      io::write_file_atomic((out / "llm" / name).string(), text);
      record(out / "llm" / name, 0);
    }
  }

  // vision/
  if (!mc.vision.patch_bias && !mc.vision.class_token)
    warn(
        "vision: trained without a class token; vision/ has CLIP's shapes (zero class token), but "
        "stock "
        "CLIPVisionModel prepends a class token, so its features differ from ours (mm_class_token "
        "in config.json)");
  if (!mc.vision.patch_bias && !mc.vision.pre_norm)
    warn(
        "vision: trained without pre_layrnorm; vision/ writes weight 1 / bias 0, which CLIP still "
        "applies "
        "(mm_pre_norm in config.json)");
  write_json(out / "vision" / "config.json", vision::hf_vision_config(mc.vision, tdt));
  write_st(out / "vision" / "model.safetensors", vision);

  // connector/
  ExportConnectorJson conn_cfg;
  conn_cfg.connector = mc.connector;
  conn_cfg.vision_width = mc.vision.width;
  conn_cfg.vision_grid = mc.vision.image_size / mc.vision.patch_size;
  conn_cfg.llm_dim = mc.llm.dim;
  conn_cfg.torch_dtype = tdt;
  write_json(out / "connector" / "config.json", file_json(conn_cfg));
  write_st(out / "connector" / "model.safetensors", connector);

  // tokenizer.model (SentencePiece; a BPE tokenizer is llm/tokenizer.json)
  const bool bpe = tokenizer && tokenizer->is_bpe();
  if (!tok_path.empty() && !bpe) {
    io::write_file_atomic((out / "tokenizer.model").string(), io::read_file(tok_path));
    record(out / "tokenizer.model", 0);
  } else {
    fs::remove(out / "tokenizer.model");  // a stale copy from an earlier export into the same folder
  }

  // config.json: how the parts join.
  auto id = [](int64_t v) { return v >= 0 ? cfg::Json(v) : cfg::Json(nullptr); };
  ExportJoinJson top;
  top.model_name = mc.name;
  top.source = {loaded.path, loaded.step, config_hash(cfg)};
  top.torch_dtype = tdt;
  top.parts.llm_architecture = summary.llm_architecture;
  top.parts.tokenizer =
      tok_path.empty() ? cfg::Json(nullptr) : cfg::Json(bpe ? "llm/tokenizer.json" : "tokenizer.model");
  top.tokens_per_tile = mc.connector.num_tokens;
  top.image_token = cfg.tokenizer.image_token;
  top.image_token_id = id(image_id);
  top.special_token_ids = {id(ids.bos), id(ids.eos), id(ids.pad), id(unk_id)};
  top.image = {mc.vision.image_size, cfg.image};
  top.chat_template.t = cfg.tokenizer;
  top.indicators.t = cfg.tokenizer;
  top.warnings = summary.warnings;
  write_json(out / "config.json", file_json(top));
  return summary;
}

}  // namespace mm::train
