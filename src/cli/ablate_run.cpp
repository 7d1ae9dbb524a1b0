// mmtrain ablate run | slurm | verify: training a sweep (docs/ablations.md). `run` trains every
// shared prefix once and then every run from its prefix's checkpoint, skipping what is done and
// resuming what was interrupted; `slurm` writes the same sweep as a Slurm job-array script; `verify`
// trains one more variant (a fitted mixture) in a trained sweep.
#include "cli/ablate_run.h"

#include <limits.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/eval_hook.h"
#include "core/check.h"
#include "core/io.h"
#include "core/timer.h"
#include "eval/ablation_report/fit_verify.h"
#include "trainers/ablation/run_sweep.h"
#include "trainers/ablation/sweep.h"
#include "trainers/ablation/sweep_state.h"
#include "trainers/loop/trainer.h"

namespace fs = std::filesystem;

namespace mm::cli {
namespace {

std::string self_exe() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  MM_CHECK(n > 0, "ablate: cannot resolve /proc/self/exe");
  self[n] = '\0';
  return self;
}

struct RunArgs {
  std::string file;
  std::vector<std::string> sets;
  int parallel = 1;
  int threads = 0;
  long only = -1;
  bool prefixes_only = false;
  bool no_eval = false;
};

// The `ablate run` arguments that give the same plan (the file and its --set overrides).
std::vector<std::string> plan_args(const std::string& file, const std::vector<std::string>& sets) {
  std::vector<std::string> out = {file};
  for (const auto& s : sets) out.insert(out.end(), {"--set", s});
  return out;
}

std::string command_of(const std::vector<std::string>& args) {
  std::string cmd = "mmtrain ablate run";
  for (const auto& a : args) cmd += " " + io::shell_quote(a);
  return cmd;
}

void run_run(const RunArgs& a) {
  MM_CHECK(a.parallel >= 1, "ablate run: --parallel must be >= 1, got {}", a.parallel);
  MM_CHECK(a.threads >= 0, "ablate run: --threads must be >= 0, got {}", a.threads);
  MM_CHECK(!(a.only >= 0 && a.prefixes_only), "ablate run: --only and --prefixes-only exclude each other");
  const Stopwatch planning;
  const ablation::SweepConfig sweep = ablation::load_sweep(a.file, a.sets);
  const ablation::SweepPlan plan = ablation::plan_sweep(a.file, sweep);
  ablation::SweepRunOptions o;
  if (!a.no_eval) o.evaluate = make_eval_hook();
  o.parallel = a.parallel;
  o.threads = a.threads;
  o.only = a.only;
  o.prefixes_only = a.prefixes_only;
  o.exe = self_exe();
  o.args = plan_args(a.file, a.sets);
  o.sweep_sets = a.sets;
  if (a.no_eval) o.args.push_back("--no-eval");
  std::vector<std::string> all = o.args;
  if (a.parallel > 1) all.insert(all.end(), {"--parallel", std::to_string(a.parallel)});
  o.command = command_of(all);
  train::install_stop_handlers();
  if (a.only < 0)
    std::cout << fmt::format("sweep {}: {} run(s), {} shared prefix(es), {} tokens planned; state in {}/sweep.json\n",
                             plan.sweep.name, plan.runs.size(), plan.prefixes.size(), plan.tokens_planned,
                             plan.sweep.out_dir);
  o.planning_s = planning.seconds();
  const ablation::SweepOutcome r = ablation::run_sweep(plan, o);
  if (r.stopped) {
    std::cout << fmt::format("sweep {} stopped; continue with: {}\n", plan.sweep.name,
                             a.only >= 0 ? command_of(o.args) + " --only " + std::to_string(a.only) : o.command);
    return;
  }
  if (a.only < 0) {
    const std::string share = r.train_s >= 1
                                  ? fmt::format(" ({:.2f}% of the training time)", 100.0 * r.overhead_s / r.train_s)
                              : r.train_s == 0 ? std::string(" (nothing trained)")
                                               : std::string();
    std::cout << fmt::format("sweep {}: {} of {} run(s) done, {} failed; {:.1f} s training, {:.2f} s overhead{}\n",
                             plan.sweep.name, r.runs_done, plan.runs.size(), r.runs_failed, r.train_s, r.overhead_s,
                             share);
  }
  if (r.failed.empty()) return;
  for (const auto& f : r.failed) std::cerr << "mmtrain: error: failed: " << f << "\n";
  throw CLI::RuntimeError(1);
}

struct SlurmArgs {
  std::string file;
  std::vector<std::string> sets;
  std::string out;
  ablation::SlurmOptions o;
};

void run_slurm(SlurmArgs a) {
  const ablation::SweepConfig sweep = ablation::load_sweep(a.file, a.sets);
  const ablation::SweepPlan plan = ablation::plan_sweep(a.file, sweep);
  a.o.args = plan_args(a.file, a.sets);
  if (a.o.exe.empty()) a.o.exe = self_exe();
  const std::string script = ablation::slurm_script(plan, a.o);
  if (a.out.empty()) {
    std::cout << script;
    return;
  }
  io::write_file_atomic(a.out, script);
  fs::permissions(a.out, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
  std::cout << fmt::format("wrote {}: {} run(s) as a Slurm array after {} prefix job(s); submit with: bash {}\n", a.out,
                           plan.runs.size(), plan.prefixes.empty() ? 0 : 1, io::shell_quote(a.out));
}

struct VerifyArgs {
  std::string dir;
  std::vector<std::string> sets;
  bool no_eval = false;
};

// The sets to verify: --set, else <dir>/fit.json's "weights" (written by `ablate fit`).
std::vector<std::string> verify_sets(const VerifyArgs& a) {
  if (!a.sets.empty()) return a.sets;
  const std::string fit = (fs::path(a.dir) / "fit.json").string();
  MM_CHECK(fs::is_regular_file(fit),
           "ablate verify: give --set key=value (the mixture to train), or run `mmtrain "
           "ablate fit {}` first for {}",
           a.dir, fit);
  cfg::Json j;
  try {
    j = cfg::Json::parse(io::read_file(fit));
  } catch (const std::exception& e) {
    throw mm::Error(fmt::format("ablate verify: {}: not JSON ({})", fit, ablation::one_line(e.what())));
  }
  MM_CHECK(j.contains("weights") && j["weights"].is_object() && !j["weights"].empty(),
           "ablate verify: {}: expected \"weights\": {{key path: value}}", fit);
  std::vector<std::string> sets;
  for (auto it = j["weights"].begin(); it != j["weights"].end(); ++it) {
    MM_CHECK(it.value().is_number(), "ablate verify: {}: weights.{} is not a number", fit, it.key());
    sets.push_back(it.key() + "=" + it.value().dump());
  }
  std::cout << "ablate verify: the weights of " << fit << "\n";
  return sets;
}

void run_verify(const VerifyArgs& a) {
  const Stopwatch planning;
  const std::string state_file = (fs::path(a.dir) / ablation::kSweepStateFile).string();
  MM_CHECK(!fs::is_regular_file(a.dir),
           "ablate verify: {} is a file; give the sweep's out_dir, the folder `ablate run` trained into (it holds "
           "sweep.json and fit.json; by default runs/sweeps/<name>)",
           a.dir);
  MM_CHECK(fs::is_regular_file(state_file),
           "ablate verify: {} does not exist (train the sweep with `mmtrain ablate run FILE` first)", state_file);
  cfg::Json j;
  try {
    j = cfg::Json::parse(io::read_file(state_file));
  } catch (const std::exception& e) {
    throw mm::Error(fmt::format("ablate verify: {}: not JSON ({})", state_file, ablation::one_line(e.what())));
  }
  MM_CHECK(j.contains("sweep") && j["sweep"].is_string(), "ablate verify: {}: no \"sweep\" (the sweep file)",
           state_file);
  const std::string file = j["sweep"].get<std::string>();
  std::vector<std::string> sweep_sets = j.value("sweep_sets", std::vector<std::string>());
  ablation::SweepConfig sweep = ablation::load_sweep(file, sweep_sets);
  std::error_code ec;
  if (!fs::equivalent(sweep.out_dir, a.dir, ec)) {  // the sweep file's out_dir is relative to another folder
    sweep_sets.push_back("out_dir=" + a.dir);
    sweep = ablation::load_sweep(file, sweep_sets);
  }
  const std::vector<std::string> sets = verify_sets(a);
  const ablation::SweepPlan plan = ablation::plan_sweep(file, ablation::with_verify_variant(sweep, sets));
  ablation::SweepRunOptions o;
  if (!a.no_eval) o.evaluate = make_eval_hook();
  o.sweep_sets = sweep_sets;
  o.only_variant = "verify";
  o.command = "mmtrain ablate verify " + io::shell_quote(a.dir);
  for (const auto& s : a.sets) o.command += " --set " + io::shell_quote(s);
  train::install_stop_handlers();
  o.planning_s = planning.seconds();
  const ablation::SweepOutcome r = ablation::run_sweep(plan, o);
  if (r.stopped) {
    std::cout << "ablate verify stopped; continue with: " << o.command << "\n";
    return;
  }
  const eval::ablation::SweepResults done = eval::ablation::load_sweep_results(a.dir);
  for (const auto& run : done.runs)
    if (run.variant == "verify")
      std::cout << fmt::format("verify seed {}: {}{}\n", run.seed, run.status,
                               run.eval_path.empty() ? "" : " (eval " + run.eval_path + ")");
  if (!r.failed.empty()) {
    for (const auto& f : r.failed) std::cerr << "mmtrain: error: failed: " << f << "\n";
    throw CLI::RuntimeError(1);
  }
  // fit.json's weights trained: its predictions against what the verify seeds measured.
  if (const auto check = eval::ablation::load_verify_check(done))
    std::cout << "\n" << eval::ablation::verify_markdown(*check);
}

}  // namespace

void add_ablate_verify(CLI::App& ablate) {
  auto a = std::make_shared<VerifyArgs>();
  auto* v = ablate.add_subcommand(
      "verify", "Train one more variant, verify, in a trained sweep (from its shared prefixes): --set or fit.json");
  v->add_option("dir", a->dir, "the sweep's out_dir (holds sweep.json)")->required();
  v->add_option("--set", a->sets, "a recipe key of the variant: key.path=value (default: DIR/fit.json's weights)");
  v->add_flag("--no-eval", a->no_eval, "skip evaluation during and after stages");
  v->callback([a]() { run_verify(*a); });
}

void add_ablate_run(CLI::App& ablate) {
  auto a = std::make_shared<RunArgs>();
  auto* run = ablate.add_subcommand(
      "run", "Train a sweep: the shared prefixes once, then every run from its prefix's checkpoint (rerun: resumes)");
  run->add_option("file", a->file, "sweep file (YAML)")->required();
  run->add_option("--set", a->sets, "override a key of the sweep file (as for ablate plan; repeatable)");
  run->add_option("--parallel", a->parallel, "runs at once, as child processes, threads split between them");
  run->add_option("--threads", a->threads, "torch threads of each run (default: cores / --parallel)");
  run->add_option("--only", a->only, "train run I alone (its prefixes must be done; for Slurm arrays)");
  run->add_flag("--prefixes-only", a->prefixes_only, "train the shared prefixes, then stop");
  run->add_flag("--no-eval", a->no_eval, "skip evaluation during and after stages");
  run->callback([a]() { run_run(*a); });
}

void add_ablate_slurm(CLI::App& ablate) {
  auto a = std::make_shared<SlurmArgs>();
  a->o.exe.clear();
  auto* s = ablate.add_subcommand(
      "slurm", "Write a Slurm job-array script for a sweep (prefixes job, one array task per run); schedules nothing");
  s->add_option("file", a->file, "sweep file (YAML)")->required();
  s->add_option("--set", a->sets, "override a key of the sweep file (repeatable)");
  s->add_option("--out", a->out, "write the script here (default: print it)");
  s->add_option("--mmtrain", a->o.exe, "the mmtrain the jobs run (default: this one)");
  s->add_option("--partition", a->o.partition, "sbatch --partition");
  s->add_option("--time", a->o.time, "sbatch --time of each job");
  s->add_option("--cpus-per-task", a->o.cpus_per_task, "sbatch --cpus-per-task")->check(CLI::NonNegativeNumber);
  s->add_option("--gpus-per-task", a->o.gpus_per_task, "sbatch --gpus-per-task")->check(CLI::NonNegativeNumber);
  s->add_option("--max-parallel", a->o.max_parallel, "at most this many array tasks at once (0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  s->callback([a]() { run_slurm(*a); });
}

}  // namespace mm::cli
