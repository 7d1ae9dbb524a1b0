// Scalar, string and tensor collectives over the c10d process group.
#include "dist/collectives.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"

namespace mm::dist {
namespace {

c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return c10d::ReduceOp::SUM;
    case ReduceOp::max:
      return c10d::ReduceOp::MAX;
    case ReduceOp::min:
      return c10d::ReduceOp::MIN;
  }
  return c10d::ReduceOp::SUM;
}

const char* op_name(ReduceOp op) { return op == ReduceOp::sum ? "sum" : op == ReduceOp::max ? "max" : "min"; }

}  // namespace

std::vector<double> all_reduce(const Group& g, std::vector<double> values, ReduceOp op) {
  if (!g.distributed() || values.empty()) return values;
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> t{torch::tensor(values, torch::kFloat64)};  // (n,)
  c10d::AllreduceOptions o;
  o.reduceOp = to_c10d(op);
  g.wait(g.c10d_group()->allreduce(t, o), fmt::format("all_reduce({}) of {} scalars", op_name(op), values.size()));
  auto acc = t[0].accessor<double, 1>();
  for (size_t i = 0; i < values.size(); ++i) values[i] = acc[static_cast<int64_t>(i)];
  return values;
}

double all_reduce(const Group& g, double value, ReduceOp op) {
  return all_reduce(g, std::vector<double>{value}, op)[0];
}

bool any_rank(const Group& g, bool local) { return all_reduce(g, local ? 1.0 : 0.0, ReduceOp::max) > 0.5; }

bool any_rank_nonfinite(const Group& g, double value) { return any_rank(g, !std::isfinite(value)); }

std::string broadcast_string(const Group& g, const std::string& s, int root) {
  if (!g.distributed()) return s;
  torch::NoGradGuard no_grad;
  c10d::BroadcastOptions o;
  o.rootRank = root;
  std::vector<at::Tensor> len{torch::tensor({static_cast<int64_t>(s.size())}, torch::kInt64)};
  g.wait(g.c10d_group()->broadcast(len, o), "broadcast_string (length)");
  const int64_t n = len[0].item<int64_t>();
  std::vector<at::Tensor> bytes{torch::zeros({std::max<int64_t>(n, 1)}, torch::kUInt8)};  // (n,)
  if (g.rank() == root && n > 0) std::memcpy(bytes[0].data_ptr<uint8_t>(), s.data(), s.size());
  g.wait(g.c10d_group()->broadcast(bytes, o), "broadcast_string");
  return std::string(reinterpret_cast<const char*>(bytes[0].data_ptr<uint8_t>()), static_cast<size_t>(n));
}

std::vector<std::string> all_gather_strings(const Group& g, const std::string& s) {
  if (!g.distributed()) return {s};
  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(s.size());
  const int64_t cap = static_cast<int64_t>(all_reduce(g, static_cast<double>(n), ReduceOp::max));
  // Each rank sends (8-byte length, bytes padded to cap).
  at::Tensor mine = torch::zeros({8 + std::max<int64_t>(cap, 1)}, torch::kUInt8);  // (8 + cap,)
  std::memcpy(mine.data_ptr<uint8_t>(), &n, 8);
  if (n > 0) std::memcpy(mine.data_ptr<uint8_t>() + 8, s.data(), s.size());
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < g.world_size(); ++r) out[0].push_back(torch::zeros_like(mine));
  std::vector<at::Tensor> in{mine};
  g.wait(g.c10d_group()->allgather(out, in), "all_gather_strings");
  std::vector<std::string> result;
  for (const at::Tensor& t : out[0]) {
    int64_t len = 0;
    std::memcpy(&len, t.data_ptr<uint8_t>(), 8);
    result.emplace_back(reinterpret_cast<const char*>(t.data_ptr<uint8_t>()) + 8, static_cast<size_t>(len));
  }
  return result;
}

void broadcast_tensors(const Group& g, const std::vector<at::Tensor>& tensors, int root) {
  if (!g.distributed()) return;
  torch::NoGradGuard no_grad;
  c10d::BroadcastOptions o;
  o.rootRank = root;
  for (const at::Tensor& t : tensors) {
    MM_CHECK(t.is_contiguous(), "broadcast_tensors: a tensor of {} elements is not contiguous", t.numel());
    std::vector<at::Tensor> one{t};
    g.wait(g.c10d_group()->broadcast(one, o), "broadcast of parameters from rank " + std::to_string(root));
  }
}

void barrier(const Group& g) {
  if (!g.distributed()) return;
  g.wait(g.c10d_group()->barrier(), "barrier");
}

}  // namespace mm::dist
