// run_sweep: the shared prefixes once, then every run's own stages; skip what is done, resume what
// was interrupted, record what failed (run_sweep.h).
#include "trainers/ablation/run_sweep.h"

#include <filesystem>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/io.h"
#include "core/run_lock.h"
#include "dist/process_group.h"
#include "trainers/ablation/sweep_runner.h"
#include "trainers/loop/run_recipe.h"

namespace fs = std::filesystem;

namespace mm::ablation {
namespace {

int prefix_of_key(const SweepPlan& plan, const std::string& key) {
  for (size_t p = 0; p < plan.prefixes.size(); ++p)
    if (plan.prefixes[p].key == key) return static_cast<int>(p);
  return -1;
}

std::string duration_text(double s) {
  if (s >= 3600) return fmt::format("{:.1f} h", s / 3600);
  if (s >= 60) return fmt::format("{:.1f} min", s / 60);
  return fmt::format("{:.0f} s", s);
}

// Caps every stage's torch threads at `threads` (0: leaves them).
void cap_threads(train::Recipe& r, int threads) {
  if (threads <= 0) return;
  for (auto& st : r.stages)
    if (st.train.threads == 0 || st.train.threads > threads) st.train.threads = threads;
}

}  // namespace

RunConfig prefix_config(const SweepPlan& plan, size_t p) {
  const SharedPrefix& sp = plan.prefixes.at(p);
  RunConfig cfg = plan.runs.at(sp.runs.front()).recipe.stages.at(sp.stage);
  cfg.run_dir = sp.run_dir;
  cfg.name = fmt::format("{}-prefix-{}", plan.sweep.name, sp.key.substr(0, 8));
  if (cfg.train.init_from == "previous") {
    const int from = prefix_of_key(plan, sp.from);
    MM_CHECK(from >= 0, "sweep: prefix {} chains from {}, which is not a shared prefix", sp.key, sp.from);
    std::string folder;
    if (train::stage_completed(prefix_config(plan, static_cast<size_t>(from)), &folder)) cfg.train.init_from = folder;
  }
  return cfg;
}

std::vector<std::pair<bool, size_t>> training_order(const SweepPlan& plan) {
  std::vector<std::pair<bool, size_t>> order;
  for (size_t p = 0; p < plan.prefixes.size(); ++p) order.emplace_back(true, p);  // already in stage order
  for (size_t r = 0; r < plan.runs.size(); ++r) order.emplace_back(false, r);
  return order;
}

namespace detail {

Sweeper::Sweeper(const SweepPlan& plan, const SweepRunOptions& opts)
    : plan_(plan), opts_(opts), out_(opts.out ? *opts.out : std::cout), state_(initial_state(plan)) {}

std::string Sweeper::label(Unit u) const {
  if (u.prefix) {
    const SharedPrefix& p = plan_.prefixes[u.index];
    return fmt::format("prefix {} (stage {})", p.key.substr(0, 8), p.stage_name);
  }
  const PlannedRun& r = plan_.runs[u.index];
  return fmt::format("{} seed {}", r.variant, r.seed);
}

bool Sweeper::used_by(Unit u, const std::string& variant) const {
  if (!u.prefix) return plan_.runs[u.index].variant == variant;
  for (size_t r : plan_.prefixes[u.index].runs)
    if (plan_.runs[r].variant == variant) return true;
  return false;
}

EntryState& Sweeper::entry(Unit u) { return u.prefix ? state_.prefixes[u.index] : state_.runs[u.index]; }

int64_t Sweeper::tokens(Unit u) const {
  return u.prefix ? plan_.prefixes[u.index].tokens : plan_.runs[u.index].own_tokens;
}

bool Sweeper::done(Unit u, std::string* eval) const {
  if (u.prefix) return train::stage_completed(prefix_config(plan_, u.index));
  const PlannedRun& r = plan_.runs[u.index];
  const size_t n = r.recipe.stages.size();
  for (size_t i = r.first_own; i < n; ++i)
    if (!train::stage_completed(r.recipe.stages[i])) return false;
  if (r.first_own == n) {  // trains nothing of its own: its last prefix is its result
    const int p = prefix_of_key(plan_, r.keys.back());
    if (p < 0 || !done({true, static_cast<size_t>(p)}, nullptr)) return false;
    if (eval) *eval = final_eval_json(train::stage_dir(prefix_config(plan_, static_cast<size_t>(p))));
    return true;
  }
  if (eval) *eval = final_eval_json(train::stage_dir(r.recipe.stages.back()));
  return true;
}

train::Recipe Sweeper::remaining(Unit u) const {
  train::Recipe sub;
  if (u.prefix) {
    const SharedPrefix& p = plan_.prefixes[u.index];
    sub.path = plan_.runs[p.runs.front()].recipe.path;
    sub.stages.push_back(prefix_config(plan_, u.index));
    MM_CHECK(sub.stages[0].train.init_from != "previous", "its prefix {} (stage {}) has not completed",
             p.from.substr(0, 8), plan_.stage_names[p.stage - 1]);
    return sub;
  }
  const PlannedRun& r = plan_.runs[u.index];
  sub.path = r.recipe.path;
  size_t i = r.first_own;
  while (i < r.recipe.stages.size() && train::stage_completed(r.recipe.stages[i])) ++i;
  sub.stages.assign(r.recipe.stages.begin() + static_cast<std::ptrdiff_t>(i), r.recipe.stages.end());
  MM_CHECK(!sub.stages.empty(), "it trains no stage of its own and its last prefix has not completed");
  if (sub.stages[0].train.init_from != "previous") return sub;
  std::string from;  // the final checkpoint of the stage before: the prefix's, or the run's own
  if (i == r.first_own) {
    const int p = prefix_of_key(plan_, r.keys[i - 1]);
    MM_CHECK(p >= 0, "stage '{}' has no shared prefix to start from", sub.stages[0].train.stage);
    const RunConfig pc = prefix_config(plan_, static_cast<size_t>(p));
    MM_CHECK(train::stage_completed(pc, &from), "its prefix {} (stage {}) has not completed (in {})",
             r.keys[i - 1].substr(0, 8), pc.train.stage, train::stage_dir(pc));
  } else {
    MM_CHECK(train::stage_completed(r.recipe.stages[i - 1], &from), "stage '{}' has not completed",
             r.recipe.stages[i - 1].train.stage);
  }
  sub.stages[0].train.init_from = from;
  return sub;
}

void Sweeper::save() {
  if (!write_state_) return;
  write_state(plan_, state_);
}

void Sweeper::progress(const std::string& now) {
  size_t done_runs = 0, failed = 0;
  int64_t left = 0;
  for (size_t i = 0; i < state_.runs.size(); ++i) {
    done_runs += state_.runs[i].status == "done";
    failed += state_.runs[i].status == "failed";
    if (state_.runs[i].status != "done") left += plan_.runs[i].own_tokens;
  }
  for (size_t i = 0; i < state_.prefixes.size(); ++i)
    if (state_.prefixes[i].status != "done") left += plan_.prefixes[i].tokens;
  const std::string eta = tokens_trained_ > 0 && busy_s_ > 0
                              ? duration_text(static_cast<double>(left) * busy_s_ / tokens_trained_)
                              : std::string("-");
  out_ << fmt::format("[sweep] runs {}/{} done{} | {} | ETA {}\n", done_runs, plan_.runs.size(),
                      failed ? fmt::format(" ({} failed)", failed) : "", now, eta)
       << std::flush;
}

void Sweeper::finish_entry(Unit u, const EntryState& e, double wall_s) {
  EntryState& s = entry(u);
  s.status = e.status;
  s.error = e.error;
  s.wall_s += wall_s;
  s.eval.clear();
  if (s.status == "done") {
    done(u, &s.eval);
    tokens_trained_ += tokens(u);
  }
}

bool Sweeper::train_here(Unit u) {
  EntryState result;
  const Stopwatch watch;
  bool completed = true;
  try {
    train::Recipe sub = remaining(u);
    cap_threads(sub, opts_.threads);
    std::string names;
    for (const auto& st : sub.stages) names += (names.empty() ? "" : "->") + st.train.stage;
    progress(u.prefix ? "now: " + label(u) : fmt::format("now: {}, stage {}", label(u), names));
    init_logging(sub.stages.front(), 0, /*with_file=*/true);
    train::RecipeOptions ro;
    // auto: continue an interrupted stage; fresh (and quiet about a missing LATEST) when nothing was saved.
    for (const auto& st : sub.stages)
      if (fs::exists(fs::path(train::stage_dir(st)) / "checkpoints")) ro.resume = "auto";
    ro.evaluate = opts_.evaluate;
    ro.progress = false;  // the sweep's line instead; each run's train.log has the rest
    ro.command = opts_.command;
    completed = train::run_recipe(sub, dist::Group(), ro).completed;
    result.status = completed ? "done" : "pending";
  } catch (const std::exception& e) {
    result.status = "failed";
    result.error = one_line(without_location(e.what()));
  }
  const double s = watch.seconds();
  busy_s_ += s;
  finish_entry(u, result, s);
  save();
  return completed;
}

SweepOutcome Sweeper::run() {
  const RunLock lock(plan_.sweep.out_dir);  // one `ablate run` per sweep (runs and prefixes lock their own)
  const SweepState before = read_state(plan_);
  state_ = before;
  state_.sweep_sets = opts_.sweep_sets;
  double adopted_s = 0;  // runs trained by `ablate run --only` (which leaves sweep.json alone): their times
  for (const auto& [is_prefix, i] : training_order(plan_)) {  // what the disk says
    EntryState& e = entry({is_prefix, i});
    std::string eval;
    if (done({is_prefix, i}, &eval)) {
      e.status = "done", e.error.clear(), e.eval = eval;
      if (!is_prefix && e.wall_s == 0) {  // trained by --only: its time from its status file (0 when unknown)
        const auto status = read_child_status(plan_.runs[i].run_dir);
        e.wall_s = status ? status->value("wall_s", 0.0) : 0.0;
        adopted_s += e.wall_s;
      }
    } else if (e.status != "failed") {
      e.status = "pending", e.eval.clear();
    }
  }
  save();
  std::vector<size_t> children;
  for (const auto& [is_prefix, i] : training_order(plan_)) {
    const Unit u{is_prefix, i};
    if (stopped_ || train::stop_requested().load()) {
      stopped_ = true;
      break;
    }
    if (entry(u).status == "done" || (opts_.prefixes_only && !is_prefix)) continue;
    if (!opts_.only_variant.empty() && !used_by(u, opts_.only_variant)) continue;
    if (!is_prefix && plan_.runs[i].first_own == plan_.stage_names.size()) {  // its last prefix is its result
      EntryState e;
      e.status = done(u, nullptr) ? "done" : "failed";
      if (e.status == "failed") e.error = "it trains no stage of its own and its last prefix did not complete";
      finish_entry(u, e, 0);
      save();
      continue;
    }
    if (!is_prefix && opts_.parallel > 1) {
      children.push_back(i);
      continue;
    }
    entry(u).status = "running";
    save();
    if (!train_here(u)) stopped_ = true;
  }
  if (!children.empty() && !stopped_) run_children(children);

  SweepOutcome out;
  out.stopped = stopped_;
  out.train_s = busy_s_;
  out.overhead_s = opts_.planning_s + wall_.seconds() - busy_s_;
  state_.train_s = before.train_s + adopted_s + out.train_s;
  state_.overhead_s = before.overhead_s + out.overhead_s;
  for (size_t p = 0; p < plan_.prefixes.size(); ++p)
    if (state_.prefixes[p].status == "failed" && (opts_.only_variant.empty() || used_by({true, p}, opts_.only_variant)))
      out.failed.push_back(fmt::format("{}: {}", label({true, p}), state_.prefixes[p].error));
  for (size_t i = 0; i < plan_.runs.size(); ++i) {
    out.runs_done += state_.runs[i].status == "done";
    out.runs_failed += state_.runs[i].status == "failed";
  }
  for (size_t i = 0; i < plan_.runs.size(); ++i)
    if (state_.runs[i].status == "failed" &&
        (opts_.only_variant.empty() || plan_.runs[i].variant == opts_.only_variant))
      out.failed.push_back(fmt::format("{}: {}", label({false, i}), state_.runs[i].error));
  write_state(plan_, state_);
  return out;
}

SweepOutcome Sweeper::run_only() {
  MM_CHECK(opts_.only >= 0 && static_cast<size_t>(opts_.only) < plan_.runs.size(),
           "ablate run --only {}: the sweep has runs 0..{}", opts_.only, plan_.runs.size() - 1);
  write_state_ = false;
  const Unit u{false, static_cast<size_t>(opts_.only)};
  const std::string run_dir = plan_.runs[u.index].run_dir;
  fs::create_directories(run_dir);
  const std::string status_file = (fs::path(run_dir) / kChildStatusFile).string();
  std::error_code ec;
  fs::remove(status_file, ec);
  SweepOutcome out;
  if (done(u, &entry(u).eval)) {
    entry(u).status = "done";
  } else if (!train_here(u)) {
    out.stopped = true;
  }
  const EntryState& e = entry(u);
  nlohmann::json j = {{"status", e.status}, {"error", e.error}, {"wall_s", e.wall_s}};
  io::write_file_atomic(status_file, j.dump() + "\n");
  if (e.status == "failed") out.failed.push_back(fmt::format("{}: {}", label(u), e.error));
  out.train_s = busy_s_;
  out.overhead_s = opts_.planning_s + wall_.seconds() - busy_s_;
  return out;
}

}  // namespace detail

SweepOutcome run_sweep(const SweepPlan& plan, const SweepRunOptions& opts) {
  MM_CHECK(opts.parallel >= 1, "ablate run: --parallel must be >= 1, got {}", opts.parallel);
  detail::Sweeper s(plan, opts);
  return opts.only >= 0 ? s.run_only() : s.run();
}

}  // namespace mm::ablation
