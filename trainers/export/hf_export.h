// `mmtrain export`: a checkpoint as folders common tools load (DESIGN.md "Export", docs/export.md).
//   out/llm/        HF Llama (dense), Mixtral (MoE on every layer) or Qwen2-MoE (MoE layers
//                   interleaved with dense ones) folder: config.json + model.safetensors
//   out/vision/     HF CLIPVisionModel folder: config.json + model.safetensors
//   out/connector/  our connector: config.json + model.safetensors (connector module names)
//   out/tokenizer.model, out/config.json (how the parts join: image preprocessing, template, ids)
// The export only orchestrates: the name/shape mappings and HF config writers of each part live
// beside its module (models/llm/hf_llama_adapter.h, models/vision/hf_clip_adapter.h), the files
// whose schema is ours are typed structs (export_json.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm::train {

struct ExportOptions {
  std::string dtype = "fp32";  // fp32 | bf16: floating tensors are written in this type
};

struct ExportedFile {
  std::string path;  // as written (out_dir joined with the relative name)
  uint64_t bytes = 0;
  int64_t tensors = 0;  // 0 for non-safetensors files
};

struct ExportSummary {
  std::string checkpoint;  // the resolved checkpoint folder
  int64_t step = 0;
  std::string llm_architecture;  // LlamaForCausalLM | MixtralForCausalLM | Qwen2MoeForCausalLM
  std::vector<ExportedFile> files;
  std::vector<std::string> warnings;  // also logged
};

// Loads `checkpoint` (a step folder, a checkpoints/ folder or a run directory; see
// load_model_checkpoint) and writes the export into `out_dir` (created; files replaced atomically).
// Throws mm::Error with one line for a missing/corrupt checkpoint or a bad dtype.
ExportSummary export_checkpoint(const std::string& checkpoint, const std::string& out_dir,
                                const ExportOptions& options = {});

}  // namespace mm::train
