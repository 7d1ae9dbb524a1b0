// The mmtrain subcommands: each src/cli/<name>.cpp adds one CLI11 subcommand to the app.
#pragma once
#include <CLI/CLI.hpp>

namespace mm::cli {

void add_info(CLI::App& app);
void add_data(CLI::App& app);  // data synth (data.cpp)
void add_preprocess(CLI::App& app);
void add_launch(CLI::App& app);    // launch N local ranks (launch.cpp)
void add_train(CLI::App& app);     // run a recipe's stages (train.cpp)
void add_bench(CLI::App& app);     // timed training steps, MFU (bench.cpp)
void add_export(CLI::App& app);    // checkpoint -> HF Llama/Mixtral + CLIP folders (export.cpp)
void add_generate(CLI::App& app);  // greedy decoding from a checkpoint (generate.cpp)
void add_eval(CLI::App& app);      // score a checkpoint on eval sets (eval.cpp)
void add_report(CLI::App& app);    // a run's report: scores per stage, charts (report.cpp)
void add_probe(CLI::App& app);     // teacher-forced word accuracy, own vs other images (probe.cpp)
void add_ablate(CLI::App& app);    // ablation sweeps: ablate plan (ablate.cpp)

}  // namespace mm::cli
