// Typed configuration of logging (the `log:` section): level and which ranks print.
#pragma once
#include <string>

#include "core/config/rules.h"

namespace mm {

struct LogConfig {
  std::string level = "info";  // MM_LOG_LEVEL overrides it at run time
  bool all_ranks = false;      // every rank logs, prefixed "[rank N]"; default: rank 0 only
  bool to_file = true;         // training runs also append to <run_dir>/train.log

  template <class V>
  void visit(V& v) {
    v("level", level, "trace | debug | info | warn | error | critical | off (MM_LOG_LEVEL overrides)",
      cfg::one_of({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    v("all_ranks", all_ranks, "log on every rank (prefixed [rank N]) instead of rank 0 only");
    v("to_file", to_file, "append a copy of the log to <run_dir>/train.log during training");
  }
};

}  // namespace mm
