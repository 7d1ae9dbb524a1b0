// The running subcommands of `mmtrain ablate` (ablate_run.cpp): run, slurm, verify.
#pragma once
#include <CLI/CLI.hpp>

namespace mm::cli {

void add_ablate_run(CLI::App& ablate);     // ablate run FILE [--parallel N] [--only I] ...
void add_ablate_slurm(CLI::App& ablate);   // ablate slurm FILE [--out script.sh]
void add_ablate_verify(CLI::App& ablate);  // ablate verify DIR [--set key=value ...]

}  // namespace mm::cli
