// The memory planner behind `mmtrain info --plan` (issue 27): the bytes one rank holds at the peak of
// a training step of a RunConfig -- parameters, bf16 compute copies, gradients, optimizer state,
// activations (with and without activation recomputation), a gathered layer under ZeRO-3 and a
// measured runtime overhead -- for every shard mode (dist.shard: none | optimizer | gradients |
// parameters) at a world size, and the smallest world size at which a mode fits a memory budget.
// Analytic (no torch): the saved tensors are counted as the code saves them (docs/distributed.md,
// "Memory planner"). Ignored: allocator fragmentation, NCCL/Gloo buffers, the loader's batches.
#pragma once
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/run_config.h"

namespace mm::train {

// dist.shard: what is split over the ranks (ZeRO stages 0..3).
enum class ShardMode { none, optimizer, gradients, parameters };
const std::vector<ShardMode>& all_shard_modes();
std::string shard_mode_name(ShardMode m);

struct PlanOptions {
  int64_t world = 1;
  // Which code path's saved tensors are counted: cpu (LibTorch 1.13, fp32, the fused CPU kernels and
  // the chunked attention) or cuda (LibTorch 2.x, scaled_dot_product_attention, bf16 autocast when
  // train.precision is bf16). auto: cpu when train.device is cpu, else cuda.
  std::string device = "auto";
  // Image tiles per sequence; -1: one image split as the image config says (single 1, static 5,
  // dynamic nmax [+ overview]), capped at what the sequence holds, as the packer's tile budget does.
  int64_t tiles_per_seq = -1;
  // Image tiles of the whole micro-batch, when >= 0 (overrides tiles_per_seq): a measured batch's count, e.g. the
  // max_batch_tiles of a run's metrics.jsonl (packed sequences carry several images each).
  int64_t batch_tiles = -1;
};

// One step of backward, in the order backward runs (loss and head, decoder layers top down, token
// embeddings, connector, ViT blocks top down, patch embeddings): what it frees when done, the
// parameters whose gradients it creates, and the extra bytes it needs while it runs.
struct BackwardStep {
  int64_t saved = 0;        // bytes its forward saved, freed once it has run
  int64_t grad_params = 0;  // parameters whose (fp32) gradients it creates
  int64_t working = 0;      // transient bytes while it runs (loss gradients; a recomputed layer)
  int component = 0;        // 0 decoder, 1 connector, 2 vision (frozen components create no gradients)
};

// Bytes the forward of one micro-batch keeps for backward, and the working set of backward on top.
struct ActivationBytes {
  int64_t decoder = 0;        // decoder layers' saved tensors (recomputation: each layer's input only)
  int64_t vision = 0;         // ViT blocks (same), patch embeddings
  int64_t connector = 0;      // C-Abstractor / pooling feature maps, readout
  int64_t head = 0;           // token embeddings, attention mask, final norm, logits, log-softmax
  int64_t weight_copies = 0;  // the stacked q/k/v and gate/up weights each layer's forward saves
  int64_t backward = 0;       // the largest working set of a backward step
  std::vector<BackwardStep> steps;
  int64_t total() const { return decoder + vision + connector + head + weight_copies + backward; }
};

// One rank's bytes. The components are their full sizes; `peak` is the most that is live at once:
// backward creates the gradients while it frees the activations, so peak <= total().
struct RankMemory {
  int64_t params = 0;          // fp32 master weights (frozen ones too)
  int64_t compute_copies = 0;  // bf16 casts autocast caches for the forward (bf16 on cuda only)
  int64_t grads = 0;           // fp32 gradients of the trainable parameters
  int64_t optimizer = 0;       // AdamW: 2 fp32 slots; Adafactor: factored second moment (+ first moment)
  int64_t activations = 0;     // ActivationBytes::total()
  int64_t gathered = 0;        // parameters mode: the largest layer gathered whole, with its gradient
  int64_t buckets = 0;         // world > 1: the Reducer's flat buckets (none: a copy of every gradient), else two
                               // buckets of dist.bucket_cap_mb for the reduce-scatter
  int64_t overhead = 0;        // measured runtime baseline (LibTorch, allocator, CUDA context)
  int64_t peak = 0;            // the walk through backward and the optimizer step (memory_plan.cpp)
  int64_t total() const {
    return params + compute_copies + grads + optimizer + activations + gathered + buckets + overhead;
  }
};

struct ModePlan {
  ShardMode mode = ShardMode::none;
  RankMemory plain;      // activation recomputation off
  RankMemory recompute;  // model.activation_checkpointing on
};

struct MemoryPlan {
  std::string model, device, precision, optimizer;
  int64_t world = 1, micro_batch = 0, grad_accum = 1, seq_len = 0, tiles_per_seq = 0, batch_tiles = 0, tile_tokens = 0;
  int64_t params = 0, trainable = 0, largest_layer = 0;
  bool trainable_exact = true;    // false: a train.params rule selects less than a whole component (counted trainable)
  bool config_recompute = false;  // model.activation_checkpointing of the config
  ActivationBytes act_plain, act_recompute;
  std::vector<ModePlan> modes;  // in all_shard_modes() order
};

MemoryPlan plan_memory(const RunConfig& cfg, const PlanOptions& opt);

// The smallest world size in 1..max_world at which `mode`'s peak fits `budget` bytes per rank; 0 if none.
int64_t smallest_world(const RunConfig& cfg, PlanOptions opt, ShardMode mode, bool recompute, int64_t budget,
                       int64_t max_world = 4096);

// "80GiB", "80GB", "81920MiB", "1.5TiB", "512MB", or plain bytes -> bytes; `what` names the option in
// the one-line error (mm::Error) on anything else.
int64_t parse_bytes(const std::string& text, const std::string& what);
std::string format_bytes(int64_t bytes);  // "12.34 GiB", "512.0 MiB"

// The tables `mmtrain info --plan` prints (one per mode, then the smallest world sizes), and JSON.
std::string plan_text(const RunConfig& cfg, const MemoryPlan& plan, const PlanOptions& opt, int64_t budget);
nlohmann::ordered_json plan_json(const RunConfig& cfg, const MemoryPlan& plan, const PlanOptions& opt, int64_t budget);

}  // namespace mm::train
