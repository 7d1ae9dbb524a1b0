// Analytic parameter counts of the decoder per config (tested against the module's numel).
#pragma once
#include <cstdint>

#include "core/config/model_config.h"

namespace mm::llm {

struct ParamCount {
  int64_t total = 0;   // every parameter
  int64_t active = 0;  // used per token: MoE layers count top_k experts instead of all
};

ParamCount llm_param_count(const LLMConfig& cfg);

}  // namespace mm::llm
