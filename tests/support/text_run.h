// TextRun: a temporary folder with what the train-loop tests need for a tiny text-only run (the
// shared test tokenizer copied in, 40 text records) and the YAML of a debug-sized model on it.
// Header only: the test programs that use it link the trainer and the tokenizer themselves.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>

#include "core/io.h"
#include "support/temp_dir.h"
#include "tests/tokenizer/tokenizer_fixture.h"

namespace mm::test {

struct TextRun {
  TempDir tmp;
  std::filesystem::path dir = tmp.path();
  std::string tokenizer = (dir / "spm.model").string();  // a copy of test_tokenizer()'s model
  std::string data = (dir / "text.jsonl").string();      // 40 {"text"} records

  explicit TextRun(const std::string& prefix) : tmp(prefix) {
    io::write_file_atomic(tokenizer, io::read_file(test_tokenizer().config().model_path));
    std::ofstream f(data);
    for (int i = 0; i < 40; ++i)
      f << "{\"text\": \"A blue square number " << i << " sits at the bottom. What is " << i << " plus 5?\"}\n";
  }

  // A debug-sized model (0.1M parameters) on `data`, writing into <dir>/<run>, with tokenizer `tok`
  // (default: `tokenizer`). Everything but the train: and stages: sections, which the test adds.
  std::string model_yaml(const std::string& run, const std::string& tok = "") const {
    return "inherit: [" + std::string(MM_SOURCE_DIR) + "/configs/models/debug.yaml]\n" +
           "run_dir: " + (dir / run).string() + "\n" + "tokenizer: {model_path: " + (tok.empty() ? tokenizer : tok) +
           "}\n" +
           "model:\n"
           "  vision: {image_size: 32, width: 64, layers: 1, mlp_dim: 128}\n"
           "  connector: {num_tokens: 4, hidden: 64, depth: 1}\n"
           "  llm: {vocab_size: 640, dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn_hidden: 64}\n"
           "image: {tile_size: 32}\n"
           "loader: {seq_len: 48, micro_batch: 2, workers: 1, prefetch: 1}\n"
           "data: {sources: [{name: text, format: text, path: " +
           data + "}]}\n";
  }
};

}  // namespace mm::test
