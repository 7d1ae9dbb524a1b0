// <run_dir>/run_history.jsonl: what trained this run, for the run report's metadata. One line when
// a training starts (time, machine, the binary's commit and version, the command, the stages, the
// ranks) and one when a stage ends (wall time, steps, final checkpoint, completed or stopped). A
// resumed run appends to the same file, so every session of a run is there in order.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mm::train {

// The file's path in `run_dir`.
std::string run_history_path(const std::string& run_dir);

// {"event": "start", "time": "2026-12-07T10:30:00Z", "host", "cpus", "cpu_model", "commit", "version", "command",
//  "recipe", "stages", "ranks", "resume"}.
nlohmann::ordered_json run_start_record(const std::string& recipe_path, const std::vector<std::string>& stages,
                                        int ranks, const std::string& command, const std::string& resume);

// {"event": "stage_end", "time", "stage", "completed", "steps", "wall_s", "final_checkpoint"}.
nlohmann::ordered_json stage_end_record(const std::string& stage, bool completed, int64_t steps, double wall_s,
                                        const std::string& final_checkpoint);

// Appends `record` as one line to run_dir's run_history.jsonl (creating the folder and file) and
// flushes it. A failure to write is logged as a warning: the history never stops a training.
void append_run_history(const std::string& run_dir, const nlohmann::ordered_json& record);

// The records of run_dir's history in file order (none when there is no file; a damaged line is
// skipped).
std::vector<nlohmann::json> read_run_history(const std::string& run_dir);

// Now, UTC, as "2026-12-07T10:30:00Z".
std::string utc_timestamp();

}  // namespace mm::train
