// Starting the decoder from a pretrained Hugging Face folder (`model.llm.from: hf:DIR`,
// docs/pretrained.md): config.json -> LLMConfig (every size and variant detail read, never assumed
// per family), the user's explicit keys checked against it, and the weights read through the
// adapter's inverse (llm_state_from_hf) in the training dtype.
// Architectures: LlamaForCausalLM (Llama 1-3.x, rope_scaling llama3), MistralForCausalLM,
// Qwen2ForCausalLM (q/k/v biases), MixtralForCausalLM, Qwen2MoeForCausalLM (only with the zero
// width-1 shared expert mmtrain's export writes: a real shared expert is refused).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/config/model_config.h"
#include "models/hf_folder.h"

namespace mm::llm {

// What config.json says, as our LLMConfig plus what `mmtrain info` shows.
struct HfDecoder {
  std::string dir;                 // the folder (`from` without "hf:")
  std::string config_file;         // dir/config.json
  std::string architecture;        // "LlamaForCausalLM", ...
  std::string model_type;          // "llama", ...
  std::string torch_dtype;         // as config.json says ("" when absent)
  LLMConfig llm;                   // sizes and variant (llm.from set to the folder)
  std::vector<std::string> notes;  // choices made while reading (e.g. max_seq_len cut to the sliding window)
};

// "hf:DIR" (or DIR) -> its config.json read. Throws mm::Error with one line naming config.json and
// the key: unknown model_type or architectures, hidden_act other than silu, unsupported rope_scaling,
// a variant mmtrain's decoder lacks (Llama attention_bias/mlp_bias, Qwen2 sliding window, a
// Qwen2-MoE shared expert), a missing or mistyped size.
HfDecoder read_hf_decoder(const std::string& from);

// The model.llm keys config.json determines ("dim", "rope_scaling.factor", "moe.top_k", ...), each
// with its value and the config.json key it comes from (named in errors). `user_wins`: a training-only
// value (the MoE loss coefficients) the user may set; max_seq_len may be set smaller, not larger.
struct HfKey {
  std::string key;
  nlohmann::json value;
  std::string source;
  bool user_wins = false;
};
std::vector<HfKey> hf_decoder_keys(const HfDecoder& dec);

// The folder's weights in "llm.*" names (our Decoder's parameters under "llm."), each converted to
// `dtype` while reading: names and shapes checked by the adapter (missing, unexpected, wrong shape:
// one line naming the folder and the tensor) after every file's header was checked (hf_folder.h).
TensorMap read_hf_decoder_weights(const HfDecoder& dec, const hf::WeightFiles& files, torch::ScalarType dtype);

// The embedding and the output head of `state` (rows = `folder_vocab`) grown to the rows `shapes`
// expects (the tokenizer's added tokens): the new rows start at the mean of the existing ones (as
// LLaVA does), computed in fp64. Returns "" when nothing grew, else a note for the log.
std::string grow_vocab_rows(TensorMap& state, const std::map<std::string, std::vector<int64_t>>& shapes,
                            int64_t folder_vocab);

// Loads the weights of decoder.cfg.from (a decoder built from the config hf_decoder_keys gave) in the
// decoder's dtype (the vocabulary rows grown to the decoder's vocab_size, grow_vocab_rows): the random initialisation
// is released first, every tensor is read and checked into a map, and only then are the parameters pointed at it (no
// copy). Peak memory: the loaded weights plus one tensor in the disk's dtype. Returns a one-line summary for the log.
class DecoderImpl;
std::string load_hf_decoder(DecoderImpl& decoder);

// The lines `mmtrain info` prints for a folder: architecture, model_type, sizes, dtype on disk,
// parameters, files.
std::vector<std::string> describe_hf_decoder(const HfDecoder& dec, const hf::WeightFiles& files);

}  // namespace mm::llm
