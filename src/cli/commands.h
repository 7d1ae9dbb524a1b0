// The mmtrain subcommands: each src/cli/<name>.cpp adds one CLI11 subcommand to the app.
#pragma once
#include <CLI/CLI.hpp>

namespace mm::cli {

void add_info(CLI::App& app);
void add_data(CLI::App& app);  // data synth (data.cpp)
void add_preprocess(CLI::App& app);
void add_launch(CLI::App& app);  // launch N local ranks (launch.cpp)

}  // namespace mm::cli
