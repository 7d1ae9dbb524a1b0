// The machine's host name (gethostname), for what a run records about where it ran: the run lock's holder,
// run_history.jsonl's start event, TensorBoard's event file name.
#pragma once
#include <string>

namespace mm {

// The host name, or `fallback` when the system gives none.
std::string host_name(const std::string& fallback = "");

}  // namespace mm
