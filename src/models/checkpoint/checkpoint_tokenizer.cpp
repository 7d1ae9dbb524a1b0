// Which tokenizer goes with a checkpoint (see checkpoint_tokenizer.h).
#include "models/checkpoint/checkpoint_tokenizer.h"

#include <filesystem>

#include "core/check.h"
#include "core/io.h"
#include "core/logging.h"
#include "models/checkpoint/checkpoint_manager.h"

namespace fs = std::filesystem;

namespace mm {

std::string carried_tokenizer(const std::string& checkpoint_dir) {
  const fs::path carried = fs::path(checkpoint_dir) / kCheckpointTokenizer;
  return !checkpoint_dir.empty() && fs::is_regular_file(carried) ? carried.string() : std::string();
}

CheckpointTokenizer find_checkpoint_tokenizer(const std::string& checkpoint_dir, const std::string& config_model_path) {
  CheckpointTokenizer out;
  out.path = carried_tokenizer(checkpoint_dir);
  out.carried = !out.path.empty();
  if (out.carried) return out;
  const std::string where = checkpoint_dir.empty() ? std::string("the checkpoint") : checkpoint_dir;
  if (!config_model_path.empty() && fs::is_regular_file(config_model_path)) {
    out.path = config_model_path;
    out.problem = fmt::format(
        "{} carries no {} (written before checkpoints carried it): using tokenizer.model_path {} from its config, "
        "which cannot be checked against the vocabulary the model was trained with",
        where, kCheckpointTokenizer, config_model_path);
  } else {
    out.problem = fmt::format(
        "no tokenizer: {} does not exist and tokenizer.model_path \"{}\" (from the checkpoint's config.yaml) "
        "cannot be read; run from the directory the training ran in",
        (fs::path(checkpoint_dir) / kCheckpointTokenizer).string(), config_model_path);
  }
  return out;
}

tok::Tokenizer load_checkpoint_tokenizer(const RunConfig& cfg, const std::string& checkpoint_dir) {
  const CheckpointTokenizer found = find_checkpoint_tokenizer(checkpoint_dir, cfg.tokenizer.model_path);
  MM_CHECK(!found.path.empty(), "{}", found.problem);
  if (found.carried) {
    mm::log::get("checkpoint")->info("tokenizer: {} (carried by the checkpoint)", found.path);
  } else {
    mm::log::get("checkpoint")->warn("{} (if it was regenerated since, every score is meaningless)", found.problem);
  }
  return tok::Tokenizer::load(cfg.tokenizer, found.path);
}

bool check_carried_tokenizer(const std::string& checkpoint_dir, const std::string& tokenizer_model_path,
                             const std::string& what) {
  const std::string carried = carried_tokenizer(checkpoint_dir);
  if (carried.empty()) {
    mm::log::get("checkpoint")
        ->warn(
            "{} {}: carries no {} (written before checkpoints carried their tokenizer): the vocabulary "
            "cannot be checked against tokenizer.model_path '{}'; make sure it is the one that checkpoint "
            "was trained with",
            what, checkpoint_dir, kCheckpointTokenizer, tokenizer_model_path);
    return false;
  }
  MM_CHECK(!tokenizer_model_path.empty() && fs::is_regular_file(tokenizer_model_path),
           "{} {}: tokenizer.model_path '{}' cannot be read to compare it with the checkpoint's {}; point "
           "tokenizer.model_path at {}",
           what, checkpoint_dir, tokenizer_model_path, kCheckpointTokenizer, carried);
  MM_CHECK(io::read_file(carried) == io::read_file(tokenizer_model_path),
           "{} {}: its {} differs from tokenizer.model_path {} (the vocabulary changed since that checkpoint "
           "was written, e.g. by re-running `mmtrain data synth`); restore the original tokenizer file, or point "
           "tokenizer.model_path at {}",
           what, checkpoint_dir, kCheckpointTokenizer, tokenizer_model_path, carried);
  return true;
}

bool check_carried_tokenizer(const std::string& checkpoint_dir, const tok::Tokenizer& tok, const std::string& what) {
  const std::string carried = carried_tokenizer(checkpoint_dir);
  if (carried.empty()) return check_carried_tokenizer(checkpoint_dir, tok.origin(), what);
  MM_CHECK(io::read_file(carried) == tok.model_bytes(),
           "{} {}: its {} differs from tokenizer.model_path {} (as loaded, with mmtrain's added tokens: the "
           "vocabulary changed since that checkpoint was written, e.g. by re-running `mmtrain data synth`); restore "
           "the original tokenizer file, or point tokenizer.model_path at {}",
           what, checkpoint_dir, kCheckpointTokenizer, tok.origin(), carried);
  return true;
}

}  // namespace mm
