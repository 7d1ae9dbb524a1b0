// mmtrain info: prints the resolved configuration (and the model summary once the zoo exists).
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace mm::cli {

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print the resolved configuration and the model summary");
  auto config = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--config", *config, "YAML config file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", *sets, "override a key: a.b.c=value (repeatable)");
  cmd->add_flag("--json", *json, "print one JSON object");
  cmd->callback([config, sets, json]() { std::cout << "config: " << *config << "\n"; });
}

}  // namespace mm::cli
