// The memory plan as the text tables and the JSON object `mmtrain info --plan` prints (memory_plan.h).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "trainers/plan/memory_plan.h"

namespace mm::train {
namespace {

struct Row {
  const char* name;
  int64_t RankMemory::*field;
};

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      {"parameters (fp32)", &RankMemory::params}, {"bf16 compute copies", &RankMemory::compute_copies},
      {"gradients (fp32)", &RankMemory::grads},   {"optimizer state", &RankMemory::optimizer},
      {"activations", &RankMemory::activations},  {"gathered layer", &RankMemory::gathered},
      {"gradient buckets", &RankMemory::buckets}, {"runtime overhead", &RankMemory::overhead}};
  return r;
}

std::string mode_title(ShardMode m) {
  switch (m) {
    case ShardMode::none:
      return "none (data parallel: every rank holds everything)";
    case ShardMode::optimizer:
      return "optimizer (ZeRO-1: optimizer state / world)";
    case ShardMode::gradients:
      return "gradients (ZeRO-2: optimizer state and gradients / world)";
    case ShardMode::parameters:
      return "parameters (ZeRO-3: parameters, gradients, optimizer state / world + the largest layer gathered)";
  }
  return "";
}

nlohmann::ordered_json rank_json(const RankMemory& r) {
  return {{"params", r.params},
          {"compute_copies", r.compute_copies},
          {"grads", r.grads},
          {"optimizer", r.optimizer},
          {"activations", r.activations},
          {"gathered", r.gathered},
          {"buckets", r.buckets},
          {"overhead", r.overhead},
          {"sum", r.total()},
          {"peak", r.peak}};
}

nlohmann::ordered_json act_json(const ActivationBytes& a) {
  return {{"decoder", a.decoder},
          {"vision", a.vision},
          {"connector", a.connector},
          {"head", a.head},
          {"weight_copies", a.weight_copies},
          {"backward", a.backward},
          {"total", a.total()}};
}

}  // namespace

std::string plan_text(const RunConfig& cfg, const MemoryPlan& p, const PlanOptions& opt, int64_t budget) {
  std::string out;
  out += fmt::format(
      "# memory plan of model {} ({:.3g}B parameters, {:.3g}B trainable{}), {} path, {}, {}; micro-batch {} x {} "
      "tokens{}, {} image tile(s) of {}x{} px per {}; world {}\n",
      p.model, p.params / 1e9, p.trainable / 1e9, p.trainable_exact ? "" : ": a train.params rule is not resolved",
      p.device, p.precision, p.optimizer, p.micro_batch, p.seq_len,
      p.grad_accum > 1 ? fmt::format(" (grad_accum {})", p.grad_accum) : "",
      opt.batch_tiles >= 0 ? p.batch_tiles : p.tiles_per_seq, cfg.image.tile_size, cfg.image.tile_size,
      opt.batch_tiles >= 0 ? "micro-batch" : "sequence", p.world);
  out += fmt::format(
      "# bytes per rank, recomputation off | on (the config: {}); peak: the most live at once (backward creates "
      "the gradients as it frees the activations)\n",
      p.config_recompute ? "on" : "off");
  for (const auto& mp : p.modes) {
    out += fmt::format("# dist.shard: {}\n", mode_title(mp.mode));
    for (const auto& r : rows())
      out += fmt::format("#   {:<20} {:>12} {:>12}\n", r.name, format_bytes(mp.plain.*r.field),
                         format_bytes(mp.recompute.*r.field));
    out += fmt::format("#   {:<20} {:>12} {:>12}\n", "sum", format_bytes(mp.plain.total()),
                       format_bytes(mp.recompute.total()));
    out +=
        fmt::format("#   {:<20} {:>12} {:>12}\n", "peak", format_bytes(mp.plain.peak), format_bytes(mp.recompute.peak));
    out += fmt::format("#   {:<20} {:>12} {:>12}\n", "fits " + format_bytes(budget),
                       mp.plain.peak <= budget ? "yes" : "no", mp.recompute.peak <= budget ? "yes" : "no");
  }
  out += "# activations by part (recomputation off | on)\n";
  const std::vector<std::pair<const char*, int64_t ActivationBytes::*>> parts = {
      {"decoder layers", &ActivationBytes::decoder},        {"vision", &ActivationBytes::vision},
      {"connector", &ActivationBytes::connector},           {"embeddings+logits", &ActivationBytes::head},
      {"stacked weights", &ActivationBytes::weight_copies}, {"backward peak", &ActivationBytes::backward}};
  for (const auto& [name, field] : parts)
    out += fmt::format("#   {:<20} {:>12} {:>12}\n", name, format_bytes(p.act_plain.*field),
                       format_bytes(p.act_recompute.*field));
  out += fmt::format("# smallest world size that fits {} per rank (searched up to 4096; 0 = none)\n",
                     format_bytes(budget));
  for (const auto& mp : p.modes) {
    out +=
        fmt::format("#   {:<20} {:>12} {:>12}\n", shard_mode_name(mp.mode),
                    smallest_world(cfg, opt, mp.mode, false, budget), smallest_world(cfg, opt, mp.mode, true, budget));
  }
  return out;
}

nlohmann::ordered_json plan_json(const RunConfig& cfg, const MemoryPlan& p, const PlanOptions& opt, int64_t budget) {
  nlohmann::ordered_json j;
  j["model"] = p.model;
  j["device"] = p.device;
  j["precision"] = p.precision;
  j["optimizer"] = p.optimizer;
  j["world"] = p.world;
  j["micro_batch"] = p.micro_batch;
  j["grad_accum"] = p.grad_accum;
  j["seq_len"] = p.seq_len;
  j["tiles_per_seq"] = p.tiles_per_seq;
  j["batch_tiles"] = p.batch_tiles;
  j["params"] = p.params;
  j["trainable"] = p.trainable;
  j["trainable_exact"] = p.trainable_exact;
  j["largest_layer_params"] = p.largest_layer;
  j["budget"] = budget;
  j["activations"] = {{"plain", act_json(p.act_plain)}, {"recompute", act_json(p.act_recompute)}};
  j["modes"] = nlohmann::ordered_json::array();
  for (const auto& mp : p.modes) {
    j["modes"].push_back({{"mode", shard_mode_name(mp.mode)},
                          {"plain", rank_json(mp.plain)},
                          {"recompute", rank_json(mp.recompute)},
                          {"fits", {{"plain", mp.plain.peak <= budget}, {"recompute", mp.recompute.peak <= budget}}},
                          {"smallest_world",
                           {{"plain", smallest_world(cfg, opt, mp.mode, false, budget)},
                            {"recompute", smallest_world(cfg, opt, mp.mode, true, budget)}}}});
  }
  return j;
}

}  // namespace mm::train
