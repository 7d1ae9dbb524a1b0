// The tiny synthetic world of the end-to-end tests: tests/cli/tiny_world.sh writes it with
// `mmtrain data synth` into <dir>/world (its tokenizer comes from mmtrain, as in training) and a
// two-stage recipe on it into <dir>/recipe.yaml (a 0.3M-parameter model: seconds per stage on one
// core). The shell tests (tests/cli/kill_resume.sh) run the same script.
#pragma once
#include <filesystem>
#include <string>

namespace mm::test {

// Runs tests/cli/tiny_world.sh with the mmtrain binary `mmtrain` into `dir` (removed first, its
// parent created), in a child process; its output goes to `log` when given, else to this process's. Returns
// std::system's status: 0 when the world and the recipe are written.
int write_tiny_world(const std::string& mmtrain, const std::filesystem::path& dir,
                     const std::filesystem::path& log = {});

}  // namespace mm::test
