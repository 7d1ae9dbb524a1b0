// What built this binary: the source tree's commit and the project version (generated at build
// time by cmake/build_info.cmake). Runs record them (run_history.jsonl), the run report shows them.
#pragma once

namespace mm {

// `git describe --always --dirty` of the source tree at build time ("a258cdb1f2e3", with "-dirty"
// when it had uncommitted changes); "unknown" when built outside a git checkout.
const char* build_commit();
// The CMake project version ("0.1.0").
const char* build_version();

}  // namespace mm
