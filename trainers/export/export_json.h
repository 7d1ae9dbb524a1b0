// The JSON files of an export whose schema is ours (docs/export.md): connector/config.json and the
// top-level config.json that says how the parts join. Typed structs: the keys are the visit()
// lists below and nowhere else (written by cfg::to_ordered_json, keys sorted in the file).
// The HF files (llm/, vision/) come from the model adapters (models/llm/hf_llama_adapter.h,
// models/vision/hf_clip_adapter.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config_tree.h"
#include "core/config/image_config.h"
#include "core/config/model_config.h"
#include "core/config/tokenizer_config.h"

namespace mm::train {

// connector/config.json: the connector's config plus how it plugs in.
struct ExportConnectorJson {
  ConnectorConfig connector;  // its keys at the top level
  int64_t vision_width = 0;
  int64_t vision_grid = 0;  // patches per side of one tile
  int64_t llm_dim = 0;
  std::string torch_dtype;
  std::string names = "mmtrain connector module names (checkpoint names without 'connector.')";
  std::string input = "vision features (N, P, vision_width)";
  std::string output = "image tokens (N, num_tokens, llm_dim), written at the image-token slots";

  template <class V>
  void visit(V& v) {
    connector.visit(v);
    v("vision_width", vision_width, "width of the vision features");
    v("vision_grid", vision_grid, "vision patches per side of one tile");
    v("llm_dim", llm_dim, "decoder width");
    v("torch_dtype", torch_dtype, "float32 | bfloat16");
    v("names", names, "tensor names in model.safetensors");
    v("input", input, "what the connector reads");
    v("output", output, "what it writes");
  }
};

// config.json: where the parts are, what made them, and the preprocessing and template that join
// them. Ids the tokenizer did not give are null.
struct ExportJoinJson {
  struct Source {
    std::string checkpoint;
    int64_t step = 0;
    std::string config_hash;
    template <class V>
    void visit(V& v) {
      v("checkpoint", checkpoint, "the checkpoint folder exported");
      v("step", step, "its optimizer step");
      v("config_hash", config_hash, "hash of its run config");
    }
  };
  struct Parts {
    std::string llm = "llm", llm_architecture, vision = "vision", connector = "connector";
    cfg::Json tokenizer;  // "tokenizer.model" or null
    template <class V>
    void visit(V& v) {
      v("llm", llm, "HF decoder folder");
      v("llm_architecture", llm_architecture, "its architectures[0]");
      v("vision", vision, "HF CLIPVisionModel folder");
      v("connector", connector, "connector folder");
      v("tokenizer", tokenizer, "SentencePiece model file, or null");
    }
  };
  struct SpecialIds {
    cfg::Json bos, eos, pad, unk;
    template <class V>
    void visit(V& v) {
      v("bos", bos, "bos id"), v("eos", eos, "eos id"), v("pad", pad, "pad id"), v("unk", unk, "unk id");
    }
  };
  struct Image {
    int64_t vision_image_size = 0;
    ImageConfig image;  // its keys beside vision_image_size
    template <class V>
    void visit(V& v) {
      v("vision_image_size", vision_image_size, "the vision tower's input side");
      image.visit(v);
    }
  };
  // The chat template and special pieces of TokenizerConfig ("template" is its chat_template).
  struct ChatTemplate {
    TokenizerConfig t;
    template <class V>
    void visit(V& v) {
      v("template", t.chat_template, "chat | plain");
      v("system_prefix", t.system_prefix, ""), v("user_prefix", t.user_prefix, "");
      v("assistant_prefix", t.assistant_prefix, ""), v("turn_end", t.turn_end, "");
      v("add_bos", t.add_bos, ""), v("add_eos", t.add_eos, "");
      v("bos_piece", t.bos_piece, ""), v("eos_piece", t.eos_piece, "");
      v("pad_piece", t.pad_piece, ""), v("unk_piece", t.unk_piece, "");
    }
  };
  // The position-indicator tokens of TokenizerConfig.
  struct Indicators {
    TokenizerConfig t;
    template <class V>
    void visit(V& v) {
      v("index_image_format", t.index_image_format, ""), v("index_row_format", t.index_row_format, "");
      v("index_col_format", t.index_col_format, "");
      v("index_max_images", t.index_max_images, ""), v("index_max_grid", t.index_max_grid, "");
      v("sep_col", t.sep_col, ""), v("sep_row", t.sep_row, ""), v("sep_overview", t.sep_overview, "");
    }
  };

  std::string format = "mmtrain-export";
  int64_t format_version = 1;
  std::string model_name;
  Source source;
  std::string torch_dtype;
  Parts parts;
  std::string pipeline =
      "tiles (N,3,r,r) normalised with image.mean/std -> vision (CLIP last_hidden_state, class token dropped) -> "
      "connector -> (N, tokens_per_tile, hidden_size) written in order at the image_token_id slots of the "
      "token embeddings -> llm";
  int64_t tokens_per_tile = 0;
  std::string image_token;
  cfg::Json image_token_id;
  SpecialIds special_token_ids;
  Image image;
  ChatTemplate chat_template;
  Indicators indicators;
  std::vector<std::string> warnings;

  template <class V>
  void visit(V& v) {
    v("format", format, "always mmtrain-export");
    v("format_version", format_version, "this schema's version");
    v("model_name", model_name, "model.name of the run");
    v("source", source, "what was exported");
    v("torch_dtype", torch_dtype, "float32 | bfloat16");
    v("parts", parts, "the folders and files");
    v("pipeline", pipeline, "how the parts join");
    v("tokens_per_tile", tokens_per_tile, "connector tokens per tile");
    v("image_token", image_token, "image placeholder piece");
    v("image_token_id", image_token_id, "its id, or null");
    v("special_token_ids", special_token_ids, "bos, eos, pad, unk ids (null if unknown)");
    v("image", image, "image preprocessing");
    v("chat_template", chat_template, "chat template and special pieces");
    v("indicators", indicators, "tile position indicator tokens");
    v("warnings", warnings, "what the export warned about");
  }
};

}  // namespace mm::train
