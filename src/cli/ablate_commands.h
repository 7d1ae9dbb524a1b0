// The analysis commands of `mmtrain ablate` (ablate_report.cpp; docs/ablations.md). ablate.cpp
// dispatches to them with the arguments that follow `ablate report` / `ablate fit`. They return 0 on
// success (and for --help); a user error throws mm::Error with one line, which main prints.
#pragma once
#include <string>
#include <vector>

namespace mm::cli {

// ablate report DIR [--baseline NAME] [--pareto CAT_A,CAT_B] [--out DIR]
int ablate_report_main(const std::vector<std::string>& args);

// ablate fit DIR [--objective MMBase|CATEGORY] [--bounds key=lo:hi ...] [--json]
int ablate_fit_main(const std::vector<std::string>& args);

}  // namespace mm::cli
