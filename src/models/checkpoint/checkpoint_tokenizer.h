// Which tokenizer goes with a checkpoint. Checkpoints carry the tokenizer the run trained with
// (tokenizer.model: the SentencePiece model, or for byte-level BPE the tokenizer.json text with an
// "mmtrain" entry, mmtrain's added tokens included in both); older ones do not, and then the config's
// tokenizer.model_path is the only lead, which cannot be checked against the vocabulary the weights were trained with.
// Evaluation, generation, the probe, export and resume all decide it here.
#pragma once
#include <string>

#include "core/config/run_config.h"
#include "tokenizer/tokenizer.h"

namespace mm {

// <checkpoint_dir>/tokenizer.model when the checkpoint carries its tokenizer, else "".
std::string carried_tokenizer(const std::string& checkpoint_dir);

// The tokenizer file for a checkpoint: the carried one, else `config_model_path` (tokenizer.model_path
// from the checkpoint's config.yaml, absolute or relative to the working directory) when it exists.
struct CheckpointTokenizer {
  std::string path;      // the file to load; empty when neither exists
  bool carried = false;  // path is the checkpoint's own tokenizer.model
  // When !carried, one line: why the vocabulary cannot be checked (path from the config) or, with
  // an empty path, why there is no tokenizer at all (naming both files tried).
  std::string problem;
};
CheckpointTokenizer find_checkpoint_tokenizer(const std::string& checkpoint_dir, const std::string& config_model_path);

// find_checkpoint_tokenizer, loaded with the checkpoint's tokenizer settings (`cfg`: its config.yaml).
// Logs which file it used; warns when it is the unchecked config path; throws mm::Error (the problem
// line) when there is none.
tok::Tokenizer load_checkpoint_tokenizer(const RunConfig& cfg, const std::string& checkpoint_dir);

// Before training continues from `checkpoint_dir` (`what`: "train.init_from", "--resume"): compares
// its tokenizer.model with the file at `tokenizer_model_path` byte for byte. Returns true when they
// are equal; throws mm::Error (one line naming both paths and the fix) when they differ or the
// config's file cannot be read. A checkpoint that carries no tokenizer.model (written before
// checkpoints carried it) is accepted with a warning that the vocabulary cannot be checked: false.
bool check_carried_tokenizer(const std::string& checkpoint_dir, const std::string& tokenizer_model_path,
                             const std::string& what);
// The same against the tokenizer the run loads (`tok`, mmtrain's added tokens included): the carried
// bytes must equal tok.model_bytes() (a tokenizer that adds nothing: the file's bytes).
bool check_carried_tokenizer(const std::string& checkpoint_dir, const tok::Tokenizer& tok, const std::string& what);

}  // namespace mm
