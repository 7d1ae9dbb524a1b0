// Starting the image encoder from a pretrained Hugging Face folder (`model.vision.from: hf:DIR`,
// docs/pretrained.md). CLIP (CLIPModel, CLIPVisionModel, CLIPVisionModelWithProjection: OpenAI, MetaCLIP
// and DFN in transformers' format share it: class token, pre_layrnorm, quick_gelu or gelu) and SigLIP
// (SiglipModel, SiglipVisionModel: no class token, no pre-norm, gelu_pytorch_tanh, a patch bias).
// config.json -> VisionConfig (every size and the activation read, never assumed per family; keys it
// leaves out take the default of transformers' config class, said in a note), the weights read through
// the adapters' inverses (hf_clip_adapter.h) in the training dtype. The features the connector reads
// stay hidden_states[feature_layer] (LLaVA's vision_feature_layer): post_layernorm and SigLIP's
// attention-pooling head are read past, never applied; the text tower of a whole CLIPModel / SiglipModel
// is not read.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config/model_config.h"
#include "models/hf_folder.h"

namespace mm::vision {

// What config.json says, as our VisionConfig plus what `mmtrain info` shows.
struct HfVision {
  std::string dir;                 // the folder (`from` without "hf:")
  std::string config_file;         // dir/config.json
  std::string architecture;        // "CLIPModel", "SiglipVisionModel", ...
  std::string model_type;          // clip | clip_vision_model | siglip | siglip_vision_model
  std::string family;              // "CLIP" | "SigLIP"
  std::string key_prefix;          // "vision_config." when the sizes are nested (CLIPModel, SiglipModel), else ""
  std::string torch_dtype;         // as config.json says ("" when absent)
  std::string hidden_act;          // as config.json says (or its default)
  int64_t folder_image_size = 0;   // config.json's image_size (384 for SigLIP so400m: not a multiple of 14)
  int64_t folder_layers = 0;       // num_hidden_layers: the blocks the folder holds
  bool whole_model = false;        // tensors outside vision_model.* (text tower, projections) are read past
  VisionConfig vision;             // sizes and family details; from set, feature_layer left at its default
  std::vector<std::string> notes;  // choices made while reading (defaults, image_size rounded, an mmtrain export)
};

// "hf:DIR" (or DIR) -> its config.json read. Throws mm::Error with one line naming config.json and the
// key: a model_type or architectures that is not CLIP or SigLIP, hidden_act other than quick_gelu, gelu
// or gelu_pytorch_tanh, num_channels other than 3, a missing vision_config, a mistyped size.
HfVision read_hf_vision(const std::string& from);

// The model.vision keys config.json determines ("width", "act", "class_token", ...), each with its value
// and where it comes from (named in errors).
struct HfVisionKey {
  std::string key;
  nlohmann::json value;
  std::string source;
};
std::vector<HfVisionKey> hf_vision_keys(const HfVision& v);

// Which tensors of the folder a ViT of `cfg` (config.json's sizes, the user's feature_layer) reads, and
// what it reads past: one line per reason with its count (the text tower, SigLIP's pooling head, blocks
// past the feature layer, position_ids buffers). A tensor outside vision_model.* of a vision-only
// architecture, or a feature layer past the blocks the folder holds, is one error line.
struct VisionTensors {
  std::vector<std::string> read;     // HF names, post_layernorm included (shape-checked, then dropped)
  std::vector<std::string> skipped;  // "head.* (...): 11 tensors"
  int64_t skipped_count = 0;
};
VisionTensors plan_hf_vision_tensors(const HfVision& v, const VisionConfig& cfg, const hf::WeightFiles& files);

// The folder's weights in "vision.*" names (our VisionTransformer's parameters under "vision."), each
// converted to `dtype` while reading; names and shapes checked by the adapter's inverse (one line naming
// the folder and the tensor).
TensorMap read_hf_vision_weights(const HfVision& v, const VisionConfig& cfg, const hf::WeightFiles& files,
                                 torch::ScalarType dtype);

// Loads the weights of vit.config().from into a ViT built from the config hf_vision_keys gave, in the
// ViT's dtype: the random initialisation released, everything read and checked, then the parameters
// pointed at it (no copy). Returns a one-line summary for the log.
class VisionTransformerImpl;
std::string load_hf_vision(VisionTransformerImpl& vit);

// The lines `mmtrain info` prints: architecture, family, sizes, dtype on disk, the feature layer, the
// position interpolation to `tile_size`, parameters, files, what is read past and why.
std::vector<std::string> describe_hf_vision(const HfVision& v, const hf::WeightFiles& files, const VisionConfig& cfg,
                                            int64_t tile_size);

}  // namespace mm::vision
