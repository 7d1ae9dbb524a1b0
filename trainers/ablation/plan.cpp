// plan_sweep: every (variant, seed) resolved through load_recipe, the stage keys, the shared
// prefixes and the cost; the plan as a table and as JSON (sweep.h).
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "trainers/ablation/sweep.h"
#include "trainers/ablation/sweep_detail.h"

namespace fs = std::filesystem;

namespace mm::ablation {

namespace {

// load_recipe with the error prefixed by what was being resolved (one line).
train::Recipe resolve(const std::string& sweep_path, const SweepConfig& sw, const std::vector<std::string>& sets,
                      const std::string& what) {
  try {
    return train::load_recipe(sw.recipe, sets);
  } catch (const mm::Error& e) {
    throw cfg::ConfigError(fmt::format("{}: {}: {}", sweep_path, what, without_location(e.what())));
  }
}

std::string yaml_quoted(const std::string& s) {  // a YAML single-quoted scalar
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string tokens_text(double t) {
  if (t >= 1e9) return fmt::format("{:.2f}G", t / 1e9);
  if (t >= 1e6) return fmt::format("{:.2f}M", t / 1e6);
  if (t >= 1e3) return fmt::format("{:.1f}k", t / 1e3);
  return fmt::format("{:.0f}", t);
}

std::string duration_text(double s) {
  if (s >= 3600) return fmt::format("{:.1f} h", s / 3600);
  if (s >= 60) return fmt::format("{:.1f} min", s / 60);
  return fmt::format("{:.0f} s", s);
}

std::string short_key(const std::string& key) { return key.substr(0, 8); }

}  // namespace

SweepPlan plan_sweep(const std::string& sweep_path, const SweepConfig& sweep) {
  SweepPlan plan;
  plan.sweep_path = sweep_path;
  plan.sweep = sweep;
  SweepConfig& sw = plan.sweep;
  std::vector<std::string> common;
  for (auto it = sw.set.begin(); it != sw.set.end(); ++it) common.push_back(detail::set_entry(it.key(), it.value()));
  const train::Recipe base = resolve(sweep_path, sw, common, "recipe " + sw.recipe);
  for (const auto& st : base.stages) plan.stage_names.push_back(st.train.stage);
  if (sw.seeds.empty()) sw.seeds = {base.stages.front().seed};

  // Each axis alone first: a bad key path fails naming it.
  const std::vector<Variant> variants = expand_variants(sw);
  const std::string kind = !sw.variants.empty()         ? "variant"
                           : !sw.dirichlet.keys.empty() ? "dirichlet key"
                                                        : "grid axis";
  std::set<std::string> tried;
  for (const auto& v : variants)
    for (const auto& s : v.sets) {
      const std::string key = s.substr(0, s.find('='));
      if (!tried.insert(kind == "variant" ? s : key).second) continue;
      auto sets = common;
      sets.push_back(s);
      resolve(
          sweep_path, sw, sets,
          kind == "variant" ? fmt::format("variant '{}', key '{}'", v.name, key) : fmt::format("{} '{}'", kind, key));
    }

  // Every run.
  for (const auto& v : variants)
    for (int64_t seed : sw.seeds) {
      PlannedRun run;
      run.variant = v.name;
      run.seed = seed;
      run.sets = v.sets;
      run.run_dir = (fs::path(sw.out_dir) / "runs" / fmt::format("{}-seed{}", v.name, seed)).string();
      auto sets = common;
      sets.insert(sets.end(), v.sets.begin(), v.sets.end());
      sets.push_back(fmt::format("seed={}", seed));
      sets.push_back("run_dir=" + yaml_quoted(run.run_dir));
      sets.push_back("name=" + yaml_quoted(fmt::format("{}-{}-seed{}", sw.name, v.name, seed)));
      run.recipe = resolve(sweep_path, sw, sets, fmt::format("variant '{}' seed {}", v.name, seed));
      run.keys = stage_keys(run.recipe);
      plan.runs.push_back(std::move(run));
    }

  // Stage keys reached by several runs are shared prefixes.
  const size_t n = plan.stage_names.size();
  std::map<std::string, std::vector<size_t>> users;
  for (size_t r = 0; r < plan.runs.size(); ++r)
    for (const auto& k : plan.runs[r].keys) users[k].push_back(r);
  for (size_t i = 0; i < n; ++i) {
    std::set<std::string> done;
    for (size_t r = 0; r < plan.runs.size(); ++r) {
      const std::string& key = plan.runs[r].keys[i];
      if (users[key].size() < 2 || !done.insert(key).second) continue;
      SharedPrefix p;
      p.stage = i;
      p.stage_name = plan.stage_names[i];
      p.key = key;
      p.from = i > 0 ? plan.runs[r].keys[i - 1] : "";
      p.runs = users[key];
      p.run_dir = (fs::path(sw.out_dir) / "prefixes" / key).string();
      p.tokens = stage_tokens(plan.runs[r].recipe.stages[i]);
      plan.tokens_planned += p.tokens;
      plan.prefixes.push_back(std::move(p));
    }
  }
  for (auto& run : plan.runs) {
    while (run.first_own < n && users[run.keys[run.first_own]].size() > 1) ++run.first_own;
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = stage_tokens(run.recipe.stages[i]);
      plan.tokens_from_scratch += t;
      if (i >= run.first_own) run.own_tokens += t;
    }
    plan.tokens_planned += run.own_tokens;
  }
  // The stages the axes change: training hashes that differ between the runs of the first seed.
  for (size_t i = 0; i < n; ++i) {
    std::set<std::string> hashes;
    for (const auto& run : plan.runs)
      if (run.seed == sw.seeds.front()) hashes.insert(training_hash(run.recipe.stages[i]));
    if (hashes.size() > 1) plan.varying_stages.push_back(plan.stage_names[i]);
  }
  std::vector<std::pair<std::string, std::string>> identical;  // (final key, the runs that train it), in run order
  for (const auto& run : plan.runs) {
    if (run.first_own < n) continue;
    auto it =
        std::find_if(identical.begin(), identical.end(), [&](const auto& e) { return e.first == run.keys.back(); });
    if (it == identical.end()) it = identical.insert(identical.end(), {run.keys.back(), ""});
    it->second += (it->second.empty() ? "" : ", ") + fmt::format("{} seed {}", run.variant, run.seed);
  }
  for (const auto& [key, list] : identical)
    plan.notes.push_back(
        fmt::format("{} train identically (their settings differ only in what training does not "
                    "see); one training serves them all (prefix {})",
                    list, short_key(key)));
  return plan;
}

double SweepPlan::saving() const {
  return tokens_from_scratch > 0 ? 1.0 - static_cast<double>(tokens_planned) / tokens_from_scratch : 0.0;
}

std::string SweepPlan::to_text(double tokens_per_s) const {
  std::string stages;
  for (const auto& s : stage_names) stages += (stages.empty() ? "" : " -> ") + s;
  std::string varying;
  for (const auto& s : varying_stages) varying += (varying.empty() ? "" : ", ") + s;
  const size_t nv = runs.size() / std::max<size_t>(sweep.seeds.size(), 1);
  std::string out = fmt::format("sweep {} ({}): {} variant(s) x {} seed(s) = {} runs\n", sweep.name, sweep_path, nv,
                                sweep.seeds.size(), runs.size());
  out += fmt::format("recipe {} (stages {}); the axes change: {}\nout_dir {}\n", sweep.recipe, stages,
                     varying.empty() ? "no stage" : varying, sweep.out_dir);
  out += "\nshared prefixes (trained once; the runs listed start from their checkpoint):\n";
  if (prefixes.empty())
    out += "  none: every run differs from the first stage on\n";
  else
    out += fmt::format("  {:<12} {:<9} {:<9} {:>9}  {:<6} {}\n", "stage", "key", "from", "tokens", "runs", "run dir");
  for (const auto& p : prefixes)
    out += fmt::format("  {:<12} {:<9} {:<9} {:>9}  {:<6} {}\n", p.stage_name, short_key(p.key),
                       p.from.empty() ? "-" : short_key(p.from), tokens_text(p.tokens), p.runs.size(), p.run_dir);
  std::vector<std::string> trains;
  size_t w = 7, wt = 6;
  for (const auto& r : runs) {
    std::string own;
    for (size_t i = r.first_own; i < stage_names.size(); ++i) own += (own.empty() ? "" : ",") + stage_names[i];
    trains.push_back(own.empty() ? "(nothing)" : own);
    w = std::max(w, r.variant.size() + 2);
    wt = std::max(wt, trains.back().size());
  }
  out += fmt::format(
      "\nruns (each trains its own stages, starting from the prefix's checkpoint):\n"
      "  {:<{}} {:>5}  {:<{}}  {:<9} {:>9}  {}\n",
      "variant", w, "seed", "trains", wt, "from", "tokens", "run dir");
  for (size_t i = 0; i < runs.size(); ++i) {
    const PlannedRun& r = runs[i];
    const std::string name = r.variant + (r.variant == sweep.baseline ? " *" : "");
    out +=
        fmt::format("  {:<{}} {:>5}  {:<{}}  {:<9} {:>9}  {}\n", name, w, r.seed, trains[i], wt,
                    r.first_own > 0 ? short_key(r.keys[r.first_own - 1]) : "-", tokens_text(r.own_tokens), r.run_dir);
  }
  if (!sweep.baseline.empty()) out += "  (* baseline)\n";
  if (!sweep.variants.empty() || !sweep.dirichlet.keys.empty()) {
    out += "\nvariants:\n";
    for (size_t r = 0; r < runs.size(); r += sweep.seeds.size()) {
      std::string sets;
      for (const auto& s : runs[r].sets) sets += (sets.empty() ? "" : "  ") + s;
      out += fmt::format("  {}: {}\n", runs[r].variant, sets.empty() ? "(the recipe as it is)" : sets);
    }
  }
  if (!notes.empty()) out += "\n";
  for (const auto& note : notes) out += "note: " + note + "\n";
  out += fmt::format("\ncost: {} tokens planned vs {} training every run from scratch (saves {:.1f}%)\n",
                     tokens_text(tokens_planned), tokens_text(tokens_from_scratch), 100.0 * saving());
  out += "      (tokens of a stage: train.steps x loader.micro_batch x train.grad_accum x loader.seq_len, one rank)\n";
  if (tokens_per_s > 0)
    out += fmt::format("time at {:.0f} tokens/s: {} (vs {} from scratch)\n", tokens_per_s,
                       duration_text(tokens_planned / tokens_per_s), duration_text(tokens_from_scratch / tokens_per_s));
  return out;
}

cfg::Json SweepPlan::to_json(double tokens_per_s) const {
  cfg::Json j = cfg::Json::object();
  j["sweep"] = sweep_path;
  j["name"] = sweep.name;
  j["recipe"] = sweep.recipe;
  j["out_dir"] = sweep.out_dir;
  j["seeds"] = sweep.seeds;
  j["baseline"] = sweep.baseline;
  j["stages"] = stage_names;
  j["varying_stages"] = varying_stages;
  cfg::Json ps = cfg::Json::array();
  for (const auto& p : prefixes) {
    cfg::Json used = cfg::Json::array();
    for (size_t r : p.runs) used.push_back({{"variant", runs[r].variant}, {"seed", runs[r].seed}});
    ps.push_back({{"stage", p.stage_name},
                  {"key", p.key},
                  {"from", p.from},
                  {"tokens", p.tokens},
                  {"runs", used},
                  {"run_dir", p.run_dir}});
  }
  j["prefixes"] = ps;
  cfg::Json rs = cfg::Json::array();
  for (const auto& r : runs) {
    std::vector<std::string> own(stage_names.begin() + static_cast<std::ptrdiff_t>(r.first_own), stage_names.end());
    rs.push_back({{"variant", r.variant},
                  {"seed", r.seed},
                  {"baseline", r.variant == sweep.baseline},
                  {"set", r.sets},
                  {"run_dir", r.run_dir},
                  {"stage_keys", r.keys},
                  {"trains", own},
                  {"from_prefix", r.first_own > 0 ? r.keys[r.first_own - 1] : ""},
                  {"tokens", r.own_tokens}});
  }
  j["runs"] = rs;
  j["notes"] = notes;
  cfg::Json cost = {
      {"tokens_planned", tokens_planned}, {"tokens_from_scratch", tokens_from_scratch}, {"saving", saving()}};
  if (tokens_per_s > 0) {
    cost["tokens_per_s"] = tokens_per_s;
    cost["seconds_planned"] = tokens_planned / tokens_per_s;
    cost["seconds_from_scratch"] = tokens_from_scratch / tokens_per_s;
  }
  j["cost"] = cost;
  return j;
}

}  // namespace mm::ablation
