// The mmtrain subcommands: each src/cli/<name>.cpp adds one CLI11 subcommand to the app.
#pragma once
#include <CLI/CLI.hpp>

namespace mm::cli {

void add_info(CLI::App& app);

}  // namespace mm::cli
