// Test fixture: a tiny SentencePiece model trained once per test process on a few KB of
// generated text, with the default special tokens. Used by the tokenizer and packing tests.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "tokenizer/tokenizer.h"
#include "tokenizer/train_tokenizer.h"

namespace mm::test {

// A scratch folder private to this process (ctest runs test cases in parallel processes),
// removed when the process exits.
inline std::string tokenizer_test_dir() {
  struct Dir {
    std::string path;
    Dir() : path(std::string(MM_BINARY_DIR) + "/test_tmp/tokenizer_" + std::to_string(::getpid())) {
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

// Writes the corpus (about 6 KB: captions, chat, numbers, documents) and returns its path.
inline std::string write_tokenizer_corpus(const std::string& dir) {
  const std::string path = dir + "/corpus.txt";
  std::ofstream f(path);
  const char* colours[] = {"red", "green", "blue", "yellow", "purple", "orange"};
  const char* shapes[] = {"circle", "square", "triangle", "star"};
  const char* places[] = {"top left", "top right", "bottom left", "bottom right", "center"};
  for (int i = 0; i < 60; ++i) {
    f << "A " << colours[i % 6] << " " << shapes[i % 4] << " in the " << places[i % 5] << ".\n";
    f << "What is " << i << " plus " << (i * 7) % 13 << "? The answer is " << i + (i * 7) % 13 << ".\n";
    f << "total: " << (i * 37) % 1000 << ", date: 2024-0" << 1 + i % 9 << "-1" << i % 10 << "\n";
  }
  f << "The quick brown fox jumps over the lazy dog. Where is the box? [12, 40, 300, 512]\n";
  return path;
}

// The shared test tokenizer (vocab <= 600).
inline const mm::tok::Tokenizer& test_tokenizer() {
  static const mm::tok::Tokenizer tok = [] {
    const std::string dir = tokenizer_test_dir();
    const std::string model =
        mm::tok::train_tokenizer({write_tokenizer_corpus(dir)}, dir + "/shared", 600, mm::TokenizerConfig{});
    return mm::tok::Tokenizer::load(mm::TokenizerConfig{}, model);
  }();
  return tok;
}

}  // namespace mm::test
