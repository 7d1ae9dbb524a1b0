// Freezing and per-module learning-rate multipliers: rules (selector -> {trainable, lr_mult})
// applied to a model's named parameters, returning the named optimizer parameter groups.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

namespace mm {

// Selectors name parameters of the MultimodalModel (names "vision.*", "connector.*", "llm.*"):
//   vision | connector | llm          a whole component
//   llm.embeddings                     token embeddings and an untied lm_head
//   llm.router                         the MoE gates (llm.layers.N.block_sparse_moe.gate.*)
//   norms                              every normalisation weight/bias (LayerNorm, RMSNorm, LayerNorm2d)
//   vision.norms | connector.norms | llm.norms   the norms of one component
//   anything else: a glob over the full parameter name ('*' matches any run of characters), or a
//   dotted prefix ("llm.layers.0" matches llm.layers.0.*).
// An alias that matches nothing (llm.router on a dense model) is fine; a glob/prefix that matches
// nothing fails (a typo would otherwise silently train everything).
struct ParamRule {
  std::string selector;
  bool trainable = true;
  double lr_mult = 1.0;
};

// The trainable parameters one rule decided (apply_param_rules). The optimizer's own groups
// (trainers/optim ParamGroup: lr multiplier and weight decay) take these multipliers (stage_run.cpp).
struct ParamRuleGroup {
  std::string name;  // the selector of the rule that decided it, or "default"
  double lr_mult = 1.0;
  std::vector<std::string> names;  // parameter names, module order
  std::vector<torch::Tensor> params;
};

// Each parameter takes the LAST rule whose selector matches it (so list broad rules first, then
// exceptions: {vision, trainable false}, {vision.norms, trainable true}); parameters no rule
// matches keep trainable = true, lr_mult = 1 in group "default". Sets requires_grad on every
// parameter (false = frozen) and returns the trainable ones grouped by deciding rule, in rule order
// ("default" first), empty groups dropped. Frozen parameters are in no group.
std::vector<ParamRuleGroup> apply_param_rules(torch::nn::Module& model, const std::vector<ParamRule>& rules);

// Whether `selector` selects parameter `name` (the matching described above).
bool selector_matches(const std::string& selector, const std::string& name);

}  // namespace mm
