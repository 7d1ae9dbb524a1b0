// with_verify_variant: a sweep plus the variant `verify` (run_sweep.h; `mmtrain ablate verify`).
#include <fmt/format.h>

#include "trainers/ablation/run_sweep.h"
#include "trainers/ablation/sweep_state.h"

namespace mm::ablation {

SweepConfig with_verify_variant(const SweepConfig& sweep, const std::vector<std::string>& sets) {
  if (sets.empty())
    throw cfg::ConfigError("ablate verify: no key=value to train (give --set key=value, or a fit.json)");
  SweepConfig out = sweep;
  out.variants.clear();
  for (const auto& v : expand_variants(sweep)) {
    if (v.name == "verify")
      throw cfg::ConfigError("ablate verify: the sweep already has a variant named 'verify'; rename it");
    SweepVariant sv;
    sv.name = v.name;
    sv.set = axes_json(v.sets);  // value_text of a parsed value gives the same recipe value
    out.variants.push_back(std::move(sv));
  }
  SweepVariant verify;
  verify.name = "verify";
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw cfg::ConfigError(fmt::format("ablate verify: --set '{}': expected key.path=value", s));
  }
  verify.set = axes_json(sets);
  out.variants.push_back(std::move(verify));
  out.grid = cfg::Json();
  out.dirichlet = DirichletAxes();
  return out;
}

}  // namespace mm::ablation
