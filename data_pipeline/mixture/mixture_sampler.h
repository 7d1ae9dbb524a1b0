// The mixture sampler: one deterministic global stream of (source, record index) draws.
// Which source position p draws from is a pure function of (seed, p); each source is read in
// epochs, every epoch a fresh seeded permutation of its records; the state (seed, position,
// records consumed per source) is a small JSON object that restores the stream exactly.
// Data-parallel sharding is defined on the global stream (see next_batch).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "data_pipeline/mixture/mixture_plan.h"

namespace mm::data {

struct MixtureDraw {
  int64_t position = 0;  // index in the global stream
  int32_t source = 0;    // index into the plan's sources
  int64_t index = 0;     // record index inside the source
  int64_t epoch = 0;     // how many full passes over this source came before
  bool operator==(const MixtureDraw& o) const {
    return position == o.position && source == o.source && index == o.index && epoch == o.epoch;
  }
};

struct MixtureSamplerOptions {
  uint64_t seed = 1234;
  std::string sampling = "random";  // random | per_batch
  int64_t batch_size = 0;           // global batch; required for per_batch
};

class MixtureSampler {
 public:
  // sizes[i]: number of records of plan.sources[i] (each > 0).
  MixtureSampler(MixturePlan plan, std::vector<int64_t> sizes, MixtureSamplerOptions options);

  // The next draw of the global stream (a single process reads every position).
  MixtureDraw next();

  // This rank's part of the next global batch of `global_batch` positions [p, p + B): rank r of
  // `world` takes positions p + r, p + r + world, ... (interleaved). Every rank calls it with
  // the same arguments and advances the same global state, so the state saved by any rank
  // resumes any number of ranks: the union over ranks is always the single-process stream.
  std::vector<MixtureDraw> next_batch(int64_t global_batch, int rank, int world);

  // The source position p draws from (pure function of seed and p).
  int32_t source_at(int64_t position) const;

  int64_t position() const { return position_; }
  const std::vector<int64_t>& consumed() const { return consumed_; }
  const MixturePlan& plan() const { return plan_; }

  // {"seed", "position", "sampling", "batch_size", "sources": [{"name", "size", "consumed"}]}
  nlohmann::ordered_json state() const;
  // Restores a state written by state(); fails when the sources or their sizes changed.
  void load_state(const nlohmann::json& state);

 private:
  int32_t lookup(double u) const;                         // source whose cumulative share interval holds u
  int64_t record_index(int32_t source, int64_t k) const;  // k-th record read from source

  MixturePlan plan_;
  std::vector<int64_t> sizes_;
  std::vector<uint64_t> name_keys_;  // per-source hash of the name (stable shuffles)
  std::vector<double> cumulative_;   // upper bounds of the share intervals
  MixtureSamplerOptions options_;
  int64_t position_ = 0;
  std::vector<int64_t> consumed_;  // records read per source
};

}  // namespace mm::data
