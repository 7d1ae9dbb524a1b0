// Resuming the data stream with a different number of ranks. The loader states of W old ranks
// (Loader::state(), one per rank) are turned into states for W' new ranks so that the union of
// what the new ranks deliver continues the same global stream: every stream position is
// delivered once, none is lost and none repeats (a long text already half delivered resumes at
// the token where it stopped).
//
// What the old ranks still owe: (1) their carry-over: the documents of "ready" sequences not yet
// batched, those waiting in "open" sequences, and any "carry" left from an earlier resharding;
// (2) the holes: rank r takes positions P_r + r, P_r + r + W, ... where P_r is its sampler
// position, so positions below the furthest rank's P_max that rank r had not drawn yet are owed
// too (their source and record are found by replaying the sampler from rank r's state). These
// are sorted by stream position into one "carry" list; entry i goes to new rank i mod W', in
// order. Every new rank first delivers its carry entries (re-packed from the token they are owed
// from), then continues the global stream at P_max, taking positions P_max + r', P_max + r' + W',
// ... Same-world resume never goes through here (its states restore bitwise).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "data_pipeline/mixture/mixture_sampler.h"

namespace mm::data {

struct ReshardSummary {
  int old_world = 0, new_world = 0;
  int64_t carried = 0;          // carry entries (stream positions still owed), all new ranks together
  int64_t holes = 0;            // of which positions no old rank had drawn yet
  int64_t partial = 0;          // of which long texts owed from a token > 0
  int64_t resume_position = 0;  // where the new ranks continue the global stream (P_max)
};

// states[r]: Loader::state() of old rank r of states.size() (all with the same seq_len, packing
// and open_sequences). `stream`: a sampler over the same mixture and sources (its state is
// ignored; it only replays draws). Returns new_world states, the i-th for new rank i, each
// accepted by Loader(..., rank i, world new_world, &state). Fails with one line on inconsistent
// states (wrong rank order, mismatched settings, a position owed twice).
std::vector<nlohmann::json> redistribute_loader_states(const std::vector<nlohmann::json>& states, int new_world,
                                                       const MixtureSampler& stream, ReshardSummary* summary = nullptr);

}  // namespace mm::data
