// mmtrain: the command line. Thin: each subcommand lives in its own file (commands.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "core/check.h"

int main(int argc, char** argv) {
  CLI::App app{"mmtrain: train MM1.5-style multimodal LLMs (ViT + C-Abstractor + dense/MoE decoder)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "mmtrain 0.1.0");
  mm::cli::add_info(app);
  mm::cli::add_data(app);
  mm::cli::add_preprocess(app);
  mm::cli::add_launch(app);
  mm::cli::add_train(app);
  mm::cli::add_bench(app);
  mm::cli::add_export(app);
  mm::cli::add_generate(app);
  mm::cli::add_eval(app);
  mm::cli::add_probe(app);
  mm::cli::add_report(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mm::Error& e) {
    std::fprintf(stderr, "mmtrain: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmtrain: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
