// Small collectives on a Group for the trainer's bookkeeping: scalar sums/maxima (loss sums, token
// counts), "any rank" decisions (skip a non-finite step), and JSON strings broadcast or gathered.
#pragma once
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "dist/process_group.h"

namespace mm::dist {

enum class ReduceOp { sum, max, min };

// Element-wise reduction of `values` over all ranks; every rank gets the result.
std::vector<double> all_reduce(const Group& g, std::vector<double> values, ReduceOp op = ReduceOp::sum);
double all_reduce(const Group& g, double value, ReduceOp op = ReduceOp::sum);

// True on every rank when `local` is true on at least one rank.
bool any_rank(const Group& g, bool local);

// True on every rank when any rank's `value` is NaN or infinite (the agreed skip decision).
bool any_rank_nonfinite(const Group& g, double value);

// Rank `root`'s string on every rank (e.g. a JSON run state).
std::string broadcast_string(const Group& g, const std::string& s, int root = 0);

// Every rank's string, indexed by rank, on every rank (e.g. each rank's JSON data-loader state).
std::vector<std::string> all_gather_strings(const Group& g, const std::string& s);

// Overwrites each tensor with rank `root`'s values, in place (parameters at start).
void broadcast_tensors(const Group& g, const std::vector<at::Tensor>& tensors, int root = 0);

void barrier(const Group& g);

}  // namespace mm::dist
