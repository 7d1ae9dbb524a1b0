// The memory planner (memory_plan.h): parameters, gradients, optimizer state, the modes' sharding,
// the smallest world size, byte sizes. Activations: activation_bytes.cpp; tables: plan_format.cpp.
#include "trainers/plan/memory_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>

#include "core/check.h"
#include "models/model_size.h"
#include "trainers/plan/activation_bytes.h"

namespace mm::train {
namespace {

using plan_detail::ActivationShape;

// Measured runtime baselines (docs/distributed.md, "Memory planner"): the peak resident memory of a
// CPU process that loaded LibTorch and ran a tiny step (`mmtrain info`: 165 MiB, a 1-layer bench at
// 1 x 32 tokens: 174 MiB); on the H100, nvidia-smi's peak minus the caching allocator's peak of the
// 1b bench (48.6 - 46.2 GiB: the CUDA context, cuBLAS workspaces and the allocator's reserve).
constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kCpuOverhead = 179 * kMiB;
constexpr int64_t kCudaOverhead = static_cast<int64_t>(2.4 * 1024) * kMiB;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

int64_t head_dim(const LLMConfig& l) { return l.head_dim > 0 ? l.head_dim : l.dim / l.heads; }

// Adafactor's factored second moment: rows + cols for every matrix (1x1 convolutions factor over
// their 1 x 1 kernel, so they keep 2 x numel), numel for 1-d parameters.
int64_t adafactor_llm(const LLMConfig& l) {
  const int64_t d = l.dim, hq = l.heads * head_dim(l), hkv = l.kv_heads * head_dim(l);
  int64_t n = (l.vocab_size + d) * (l.tie_embeddings ? 1 : 2) + d;
  for (int64_t i = 0; i < l.layers; ++i) {
    n += (hq + d) * 2 + (hkv + d) * 2 + 2 * d + (l.attention_bias ? hq + 2 * hkv : 0);
    const bool moe = l.moe.num_experts > 0 && (i + 1) % std::max<int64_t>(1, l.moe.every) == 0;
    const int64_t f = moe && l.moe.expert_hidden > 0 ? l.moe.expert_hidden : l.ffn_hidden;
    n += moe ? (l.moe.num_experts + d) + l.moe.num_experts * 3 * (f + d) : 3 * (f + d);
  }
  return n;
}

int64_t adafactor_vision(const VisionConfig& v, int64_t blocks) {
  const int64_t d = v.width, g = v.image_size / v.patch_size, f = v.mlp_dim;
  int64_t n = 2 * d * 3 * v.patch_size + (g * g + (v.class_token ? 1 : 0) + d) + (v.class_token ? d : 0) + 2 * d;
  n += blocks * (4 * (2 * d) + 4 * d + (f + d) + f + (d + f) + d + 4 * d);
  return n;
}

struct Trainable {
  bool vision = true, connector = true, llm = true, exact = true;
};

// train.params rules that select a whole component decide it (the last matching rule wins, as in
// models/param_rules.h); a rule on anything smaller leaves the count approximate (counted trainable).
Trainable trainable_components(const TrainConfig& t) {
  Trainable r;
  for (const auto& rule : t.params) {
    if (rule.select == "vision") {
      r.vision = rule.trainable;
    } else if (rule.select == "connector") {
      r.connector = rule.trainable;
    } else if (rule.select == "llm") {
      r.llm = rule.trainable;
    } else if (!rule.trainable) {
      r.exact = false;
    }
  }
  return r;
}

int64_t tiles_per_sequence(const RunConfig& cfg, int64_t asked) {
  int64_t tiles = asked;
  if (tiles < 0) {
    const ImageConfig& im = cfg.image;
    tiles = im.mode == "single" ? 1 : im.mode == "static" ? 5 : im.nmax + (im.overview ? 1 : 0);
  }
  // The packer's tile budget: a sequence holds at most (seq_len - 1) / tokens-per-tile tiles.
  return std::max<int64_t>(0, std::min(tiles, (cfg.loader.seq_len - 1) / cfg.model.connector.num_tokens));
}

// When a mode's reduction buffers (RankMemory::buckets) are live: the Reducer's flat buckets and ZeRO-3's
// reduction buffers all the time (none, parameters); the reduce-scatter's two buckets while backward sends them,
// from the end of its first step (the loss and head) on (gradients), or after backward, beside the full
// gradients, before the optimizer step (optimizer).
enum class BucketLife { always, during_backward, after_backward };

// The walk through one step: the forward's saved bytes all live at its end; each backward step then
// adds its gradients (a 1/grad_share share: 1/world when they are sharded as backward creates them) and its
// working set, and frees what its forward saved; after backward the optimizer step runs on the reduced gradients
// (a 1/reduced_share share; the activations and the bf16 casts are gone) with its temporaries.
// `held_share` (train.grad_accum > 1; 0 without accumulation): the last micro-batch's backward starts with the
// earlier micro-batches' gradients, 1/held_share of them, and accumulates into them in place: full local
// gradients (held_share 1) where the step reduces once, after its last micro-batch (none, optimizer,
// gradients); the owned shares (held_share world) under parameters, which reduces every micro-batch.
int64_t peak_bytes(const RankMemory& r, const ActivationBytes& a, const Trainable& tr, int64_t grad_share,
                   int64_t reduced_share, int64_t opt_temporaries, BucketLife life, int64_t held_share) {
  const int64_t buckets = life == BucketLife::always ? r.buckets : 0;
  const int64_t base = r.params + r.compute_copies + r.optimizer + r.gathered + buckets + r.overhead;
  auto trains = [&tr](const BackwardStep& st) {
    return st.component == 0 ? tr.llm : st.component == 1 ? tr.connector : tr.vision;
  };
  int64_t acts = 0, grads = 0, reduced = 0;
  for (const auto& st : a.steps) {
    acts += st.saved;
    if (trains(st)) reduced += ceil_div(4 * st.grad_params, reduced_share);
    if (trains(st) && held_share > 0) grads += ceil_div(4 * st.grad_params, held_share);
  }
  int64_t peak = base + acts + grads;
  for (size_t i = 0; i < a.steps.size(); ++i) {
    const auto& st = a.steps[i];
    const int64_t g = trains(st) && held_share == 0 ? ceil_div(4 * st.grad_params, grad_share) : 0;
    const int64_t sending = life == BucketLife::during_backward && i > 0 ? r.buckets : 0;
    peak = std::max(peak, base + sending + acts + grads + g + st.working);
    acts -= st.saved;
    grads += g;
  }
  if (life == BucketLife::after_backward) peak = std::max(peak, base - r.compute_copies + grads + r.buckets);
  return std::max(peak, base - r.compute_copies + reduced + opt_temporaries);
}

RankMemory shard(RankMemory full, ShardMode mode, int64_t world, int64_t gathered) {
  if (mode != ShardMode::none) full.optimizer = ceil_div(full.optimizer, world);
  if (mode == ShardMode::gradients || mode == ShardMode::parameters) full.grads = ceil_div(full.grads, world);
  if (mode == ShardMode::parameters) {
    full.params = ceil_div(full.params, world);
    full.compute_copies = ceil_div(full.compute_copies, world);
    full.gathered = world > 1 ? gathered : 0;
  }
  return full;
}

}  // namespace

const std::vector<ShardMode>& all_shard_modes() {
  static const std::vector<ShardMode> modes = {ShardMode::none, ShardMode::optimizer, ShardMode::gradients,
                                               ShardMode::parameters};
  return modes;
}

std::string shard_mode_name(ShardMode m) {
  switch (m) {
    case ShardMode::none:
      return "none";
    case ShardMode::optimizer:
      return "optimizer";
    case ShardMode::gradients:
      return "gradients";
    case ShardMode::parameters:
      return "parameters";
  }
  return "?";
}

MemoryPlan plan_memory(const RunConfig& cfg, const PlanOptions& opt) {
  MM_CHECK(opt.world >= 1, "info: --world must be >= 1, got {}", opt.world);
  MM_CHECK(opt.device == "auto" || opt.device == "cpu" || opt.device == "cuda",
           "info: --plan-device must be auto, cpu or cuda, got '{}'", opt.device);
  const ModelConfig& m = cfg.model;
  MemoryPlan p;
  p.model = m.name;
  p.device = opt.device != "auto" ? opt.device : cfg.train.device == "cpu" ? "cpu" : "cuda";
  const bool cuda = p.device == "cuda";
  const bool bf16 = cuda && cfg.train.precision == "bf16";  // autocast runs on CUDA only
  p.precision = bf16 ? "bf16" : "fp32";
  p.optimizer = cfg.optimizer.name;
  p.world = opt.world;
  p.micro_batch = cfg.loader.micro_batch;
  p.grad_accum = std::max<int64_t>(1, cfg.train.grad_accum);
  p.seq_len = cfg.loader.seq_len;
  p.tiles_per_seq = tiles_per_sequence(cfg, opt.tiles_per_seq);
  p.tile_tokens = m.connector.num_tokens;
  p.config_recompute = m.activation_checkpointing;

  const ModelSize size = model_size(m);
  const Trainable tr = trainable_components(cfg.train);
  p.params = size.total;
  p.trainable = (tr.vision ? size.vision : 0) + (tr.connector ? size.connector : 0) + (tr.llm ? size.llm : 0);
  p.trainable_exact = tr.exact;

  const int64_t blocks =
      m.vision.feature_layer < 0 ? m.vision.layers + 1 + m.vision.feature_layer : m.vision.feature_layer;
  int64_t largest = std::max<int64_t>(m.llm.vocab_size * m.llm.dim, plan_detail::vit_block_params(m.vision));
  int64_t stacked = 0;
  for (int64_t i = 0; i < m.llm.layers; ++i) {
    largest = std::max(largest, plan_detail::decoder_layer_params(m.llm, i));
    stacked += plan_detail::stacked_weight_elems(m.llm, i);
  }
  p.largest_layer = std::max(largest, size.connector);

  RankMemory full;
  full.params = 4 * p.params;
  // bf16 autocast caches one bf16 cast of every parameter a GEMM or convolution reads directly, for
  // the whole forward; the stacked q/k/v and gate/up weights are cast after stacking (counted with
  // the activations), an untied token embedding is only indexed, norm weights are not cast.
  if (bf16) {
    const int64_t untied = m.llm.tie_embeddings ? 0 : m.llm.vocab_size * m.llm.dim;
    full.compute_copies = 2 * std::max<int64_t>(0, p.params - stacked - untied);
  }
  full.grads = 4 * p.trainable;
  if (cfg.optimizer.name == "adafactor") {
    int64_t f = (tr.llm ? adafactor_llm(m.llm) : 0) + (tr.vision ? adafactor_vision(m.vision, blocks) : 0) +
                (tr.connector ? 2 * size.connector : 0);
    full.optimizer = 4 * f + (cfg.optimizer.beta1 > 0 ? 4 * p.trainable : 0);
  } else {
    full.optimizer = 8 * p.trainable;
  }
  full.overhead = cuda ? kCudaOverhead : kCpuOverhead;

  ActivationShape s;
  s.batch = cfg.loader.micro_batch;
  s.seq_len = cfg.loader.seq_len;
  s.tiles = opt.batch_tiles >= 0 ? opt.batch_tiles : s.batch * p.tiles_per_seq;
  p.batch_tiles = s.tiles;
  s.tile_side = cfg.image.tile_size;
  s.cuda = cuda;
  s.c = bf16 ? 2 : 4;
  p.act_plain = plan_detail::activation_bytes(m, s, false);
  p.act_recompute = plan_detail::activation_bytes(m, s, true);

  // ZeRO-3 gathers one layer whole for its forward and backward: the fp32 weights, their gradient
  // before the reduce-scatter, and under bf16 their cast.
  const int64_t gathered = p.largest_layer * (4 + 4 + (bf16 ? 2 : 0));
  // The optimizer step's temporaries: AdamW's sqrt(v) per chunk of at most 2^26 elements
  // (trainers/optim/adamw.cpp); Adafactor's fp32 g^2, update and factors of one parameter.
  const int64_t biggest =
      std::max({m.llm.vocab_size * m.llm.dim, m.llm.ffn_hidden * m.llm.dim, m.vision.mlp_dim * m.vision.width});
  for (ShardMode mode : all_shard_modes()) {
    ModePlan mp;
    mp.mode = mode;
    const bool sharded_grads = mode == ShardMode::gradients || mode == ShardMode::parameters;
    const int64_t share = sharded_grads ? opt.world : 1;
    const int64_t reduced_share = mode == ShardMode::none ? 1 : opt.world;
    const int64_t opt_tmp =
        cfg.optimizer.name == "adafactor" ? 3 * 4 * biggest : 4 * std::min<int64_t>(int64_t{1} << 26, p.trainable);
    RankMemory a = full, b = full;
    a.activations = p.act_plain.total();
    b.activations = p.act_recompute.total();
    // The Reducer (none; gradient_as_bucket_view off) keeps flat buckets holding a copy of every gradient;
    // optimizer and gradients reduce bucket by bucket: two buckets of dist.bucket_cap_mb (at most all the
    // gradients); parameters gathers and reduces one layer at a time through flat buffers of its size.
    const int64_t cap = std::min(static_cast<int64_t>(cfg.dist.bucket_cap_mb * 1048576.0), 4 * p.trainable);
    if (opt.world > 1)
      a.buckets = b.buckets = mode == ShardMode::none         ? 4 * p.trainable
                              : mode == ShardMode::parameters ? 8 * p.largest_layer
                                                              : 2 * cap;
    mp.plain = shard(a, mode, opt.world, gathered);
    mp.recompute = shard(b, mode, opt.world, gathered);
    const BucketLife life = mode == ShardMode::gradients   ? BucketLife::during_backward
                            : mode == ShardMode::optimizer ? BucketLife::after_backward
                                                           : BucketLife::always;
    const int64_t held = p.grad_accum == 1 ? 0 : mode == ShardMode::parameters ? opt.world : 1;
    const int64_t tmp = ceil_div(opt_tmp, mode == ShardMode::none ? 1 : opt.world);
    mp.plain.peak = peak_bytes(mp.plain, p.act_plain, tr, share, reduced_share, tmp, life, held);
    mp.recompute.peak = peak_bytes(mp.recompute, p.act_recompute, tr, share, reduced_share, tmp, life, held);
    p.modes.push_back(mp);
  }
  return p;
}

int64_t smallest_world(const RunConfig& cfg, PlanOptions opt, ShardMode mode, bool recompute, int64_t budget,
                       int64_t max_world) {
  // Memory per rank only falls as the world grows (shards shrink, the gathered layer is fixed), so
  // a binary search over 1..max_world finds the first world that fits.
  auto fits = [&](int64_t w) {
    opt.world = w;
    const MemoryPlan p = plan_memory(cfg, opt);
    for (const auto& mp : p.modes)
      if (mp.mode == mode) return (recompute ? mp.recompute : mp.plain).peak <= budget;
    return false;
  };
  if (fits(1)) return 1;
  if (mode == ShardMode::none || !fits(max_world)) return 0;
  int64_t lo = 1, hi = max_world;  // fits(lo) false, fits(hi) true
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? hi : lo) = mid;
  }
  return hi;
}

int64_t parse_bytes(const std::string& text, const std::string& what) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  std::string unit = text.substr(i);
  for (auto& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  double number = 0;
  bool ok = i > 0 && std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(i), '.') <= 1;
  if (ok) {
    try {
      number = std::stod(text.substr(0, i));
    } catch (const std::exception&) {
      ok = false;
    }
  }
  static const std::vector<std::pair<std::string, double>> units = {
      {"", 1},      {"b", 1},        {"kb", 1e3},        {"mb", 1e6},           {"gb", 1e9},
      {"tb", 1e12}, {"kib", 1024.0}, {"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0}};
  double scale = 0;
  for (const auto& [name, factor] : units)
    if (unit == name) scale = factor;
  MM_CHECK(ok && scale > 0 && number > 0 && number * scale < 9.2e18,
           "{}: expected a positive size such as 80GiB, 80GB or 81920MiB, got '{}'", what, text);
  return static_cast<int64_t>(std::llround(number * scale));
}

std::string format_bytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", bytes);
}

}  // namespace mm::train
