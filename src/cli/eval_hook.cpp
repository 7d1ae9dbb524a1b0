#include "cli/eval_hook.h"

#include <nlohmann/json.hpp>

#include "eval/eval_report.h"
#include "eval/generation/evaluate_model.h"
#include "tokenizer/tokenizer.h"

namespace mm::cli {

train::EvalHook make_eval_hook() {
  return [](MultimodalModel& model, const RunConfig& cfg, int64_t, const std::string& out_json) {
    const tok::Tokenizer tokenizer = tok::Tokenizer::load(cfg.tokenizer);
    const eval::EvalReport report = gen::evaluate_model_to(model, cfg, tokenizer, out_json);
    return nlohmann::json::parse(eval::report_to_json(report));
  };
}

}  // namespace mm::cli
