// mmtrain: the command line. Thin: each subcommand lives in its own file (commands.h).
// Every user error, usage errors included, is one line "mmtrain: error: ..." and exit code 1;
// `mmtrain` alone prints the help; a mistyped command gets a suggestion.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/check.h"
#include "core/config/config_tree.h"  // closest_key

namespace {

// The one line of a user error; MM_DEBUG=1 keeps the source location MM_CHECK records.
int user_error(const std::string& what) {
  const char* debug = std::getenv("MM_DEBUG");
  const bool keep = debug != nullptr && std::string(debug) == "1";
  std::fprintf(stderr, "mmtrain: error: %s\n", keep ? what.c_str() : mm::without_location(what).c_str());
  return 1;
}

}  // namespace

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
  mm::cli::add_ablate(app);

  if (argc == 1) {
    std::cout << app.help();
    return 0;
  }
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  const std::string first = argv[1];
  if (!first.empty() && first[0] != '-' && std::find(commands.begin(), commands.end(), first) == commands.end()) {
    const std::string close = mm::cfg::closest_key(first, commands);
    std::string list;
    for (const auto& c : commands) list += (list.empty() ? "" : ", ") + c;
    return user_error("unknown command '" + first + "'" + (close.empty() ? "" : " (did you mean '" + close + "'?)") +
                      "; commands: " + list + " (mmtrain --help)");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {  // a command's own exit status, already reported
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors (a missing or unknown option, a bad value): the same one line as every user error.
    std::string where = "mmtrain";
    for (const CLI::App* sub : app.get_subcommands()) where += " " + sub->get_name();
    return user_error(std::string(e.what()) + " (" + where + " --help)");
  } catch (const mm::Error& e) {
    return user_error(e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mmtrain: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
