// `mmtrain ablate slurm`: the sweep as a Slurm job-array script (run_sweep.h). mmtrain writes the
// script; sbatch and Slurm do the scheduling.
#include <filesystem>

#include <fmt/format.h>

#include "core/io.h"
#include "trainers/ablation/run_sweep.h"

namespace fs = std::filesystem;

namespace mm::ablation {

std::string slurm_script(const SweepPlan& plan, const SlurmOptions& o) {
  const std::string name = o.job_name.empty() ? plan.sweep.name : o.job_name;
  const size_t n = plan.runs.size();
  std::string args;
  for (const auto& a : o.args) args += " " + io::shell_quote(a);
  std::string s = "#!/usr/bin/env bash\n";
  s += fmt::format(
      "# Slurm jobs of sweep '{}' ({}), written by `mmtrain ablate slurm`. mmtrain schedules no nodes:\n"
      "# running this script submits the jobs with sbatch, and Slurm places them:\n"
      "#   1. the shared prefixes ({} stage(s) trained once): `ablate run ... --prefixes-only`\n"
      "#   2. an array of {} task(s), one per run, after 1 succeeded: `ablate run ... --only $SLURM_ARRAY_TASK_ID`\n"
      "#   3. after the array (whatever its outcome): a plain `ablate run`, which trains nothing that\n"
      "#      is done, retries a failed run once and writes {}/sweep.json\n"
      "# Tasks (index: variant, seed, run directory):\n",
      plan.sweep.name, plan.sweep_path, plan.prefixes.size(), n, plan.sweep.out_dir);
  for (size_t i = 0; i < n; ++i)
    s += fmt::format("#   {}: {} seed {} -> {}\n", i, plan.runs[i].variant, plan.runs[i].seed, plan.runs[i].run_dir);
  s += "set -euo pipefail\n";
  s += fmt::format("cd {}  # the sweep's relative paths (out_dir) are relative to this folder\n",
                   io::shell_quote(fs::current_path().string()));
  // Quoted twice: once for the job's shell (--wrap), once for this script.
  s += fmt::format("MM={}\n", io::shell_quote(io::shell_quote(o.exe) + " ablate run" + args));
  std::string opts = fmt::format("--job-name={}", io::shell_quote(name));
  if (!o.partition.empty()) opts += " --partition=" + io::shell_quote(o.partition);
  if (!o.time.empty()) opts += " --time=" + io::shell_quote(o.time);
  if (o.cpus_per_task > 0) opts += fmt::format(" --cpus-per-task={}", o.cpus_per_task);
  if (o.gpus_per_task > 0) opts += fmt::format(" --gpus-per-task={}", o.gpus_per_task);
  s += fmt::format("OPTS=({})\n", opts);
  const std::string logs = io::shell_quote((fs::path(plan.sweep.out_dir) / "slurm").string());
  s += fmt::format("LOGS={}\nmkdir -p \"$LOGS\"\n", logs);
  s += "first_id() { echo \"${1%%;*}\"; }  # sbatch --parsable prints id[;cluster]\n";
  std::string dep;
  if (!plan.prefixes.empty()) {
    s += "prefixes=$(first_id \"$(sbatch --parsable \"${OPTS[@]}\" --output=\"$LOGS/prefixes-%j.out\" "
         "--wrap=\"$MM --prefixes-only\")\")\n";
    dep = " --dependency=afterok:$prefixes";
  }
  s += fmt::format(
      "runs=$(first_id \"$(sbatch --parsable \"${{OPTS[@]}}\"{} --array=0-{}{} --output=\"$LOGS/run-%a-%j.out\" "
      "--wrap=\"$MM --only \\$SLURM_ARRAY_TASK_ID\")\")\n",
      dep, n - 1, o.max_parallel > 0 ? fmt::format("%{}", o.max_parallel) : "");
  s += "state=$(first_id \"$(sbatch --parsable \"${OPTS[@]}\" --dependency=afterany:$runs "
       "--output=\"$LOGS/state-%j.out\" --wrap=\"$MM\")\")\n";
  s += fmt::format("echo \"submitted sweep {}: {}runs $runs (array of {}), state $state\"\n", plan.sweep.name,
                   plan.prefixes.empty() ? "" : "prefixes $prefixes, ", n);
  return s;
}

}  // namespace mm::ablation
