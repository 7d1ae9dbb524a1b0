// Opening a stage and its actions (stage_run.h).
#include "trainers/loop/stage_run.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "core/check.h"
#include "core/config/config.h"  // parse_config: the checkpoint's config.yaml
#include "core/device.h"
#include "core/io.h"
#include "core/logging.h"
#include "core/safetensors.h"
#include "data_pipeline/loader/loader.h"
#include "data_pipeline/loader/model_batch.h"
#include "data_pipeline/quarantine.h"
#include "dist/collectives.h"
#include "dist/data_parallel.h"
#include "dist/process_group.h"
#include "models/checkpoint/checkpoint_tokenizer.h"
#include "models/checkpoint/model_state.h"
#include "models/llm/hf_import.h"
#include "models/param_rules.h"
#include "models/vision/hf_vision_import.h"
#include "trainers/loop/recipe.h"
#include "trainers/loop/zero_optimizer.h"
#include "trainers/loop/zero_params.h"
#include "trainers/optim/param_groups.h"

namespace fs = std::filesystem;

namespace mm::train {
namespace {

// The checkpoint to resume from: the stage's latest good one (auto), a named one, or none.
std::optional<Checkpoint> find_resume_point(const StageRun& run) {
  const std::string& resume = run.opts.resume;
  if (resume == "auto") {
    if (auto good = run.checkpoints.find_latest_good()) return CheckpointManager::load(*good);
    return std::nullopt;
  }
  if (!resume.empty()) return CheckpointManager::load(resolve_checkpoint(resume));
  require_fresh_stage(run.cfg);
  return std::nullopt;
}

// The model: fresh (seeded) or with the init_from weights; freezing and lr multipliers applied.
// Fills run.model, run.optimizer and run.step's parameters.
void build_model(StageRun& run, const std::optional<Checkpoint>& resume_from) {
  auto log = mm::log::get("trainer");
  const RunConfig& cfg = run.cfg;
  const TrainConfig& tc = cfg.train;
  std::optional<Checkpoint> init_ckpt;
  if (!tc.init_from.empty()) {
    std::string from = tc.init_from == "previous" ? run.opts.init_override : resolve_checkpoint(tc.init_from);
    MM_CHECK(!from.empty(), "train.init_from: 'previous' but stage '{}' has no previous stage checkpoint", tc.stage);
    if (!resume_from) {
      init_ckpt = CheckpointManager::load(from, CheckpointManager::Part::kWeights);  // a new optimizer
      check_carried_tokenizer(from, *run.tokenizer, "train.init_from");
    }
  }
  if (tc.threads > 0) torch::set_num_threads(static_cast<int>(tc.threads));
  run.step.device = pick_device(tc.device, "train.device");
  torch::manual_seed(static_cast<uint64_t>(cfg.seed));
  run.model = MultimodalModel(cfg.model);
  if (init_ckpt) {
    load_model_state(*run.model, init_ckpt->model, (fs::path(init_ckpt->path) / "model.safetensors").string());
    log->info("stage '{}': initialised from {}", tc.stage, init_ckpt->path);
  } else if (!resume_from) {  // a fresh stage from a pretrained decoder and/or image encoder
    if (!cfg.model.llm.from.empty())
      log->info("stage '{}': decoder from {}", tc.stage, llm::load_hf_decoder(*run.model->llm));
    if (!cfg.model.vision.from.empty())
      log->info("stage '{}': vision encoder from {}", tc.stage, vision::load_hf_vision(*run.model->vision));
  }
  std::vector<ParamRule> rules;
  for (const auto& r : tc.params) rules.push_back(ParamRule{r.select, r.trainable, r.lr_mult});
  OptimizerConfig ocfg = cfg.optimizer;
  for (const auto& g : apply_param_rules(*run.model, rules))
    for (size_t i = 0; i < g.names.size(); ++i)
      if (g.lr_mult != 1.0) ocfg.lr_mults[g.names[i]] = g.lr_mult * lr_mult_for(cfg.optimizer, g.names[i]);
  NamedParams named;
  for (const auto& item : run.model->named_parameters())
    if (item.value().requires_grad()) {
      named.emplace_back(item.key(), item.value());
      run.step.trainable.push_back(item.value());
    }
  MM_CHECK(!named.empty(), "train.params: stage '{}' freezes every parameter", tc.stage);
  run.model->to(run.step.device);
  run.model->train();
  run.optimizer = make_optimizer(ocfg, named);
}

// Resuming with another config than the checkpoint's: a warning naming the keys that differ (the
// checkpoint's config.yaml against this one), so a changed schedule or batch is never silent.
void warn_config_differences(const Checkpoint& ck, const RunConfig& cfg) {
  auto log = mm::log::get("trainer");
  std::vector<std::string> diff;
  try {
    diff = config_differences(cfg::parse_config<RunConfig>(ck.config_yaml, {}, ck.path + "/config.yaml"), cfg);
  } catch (const mm::Error& e) {
    log->warn("{}: the config differs from the one the checkpoint was trained with (its config.yaml: {})", ck.path,
              e.what());
    return;
  }
  const size_t shown = std::min<size_t>(diff.size(), 12);
  log->warn("{}: the config differs from the one the checkpoint was trained with in {} key(s): {}{}", ck.path,
            diff.size(), fmt::join(diff.begin(), diff.begin() + static_cast<long>(shown), "; "),
            diff.size() > shown ? "; ..." : "");
}

// Restores weights, optimizer state, counters and the CPU generator from the resume point;
// returns the loader state this rank resumes with (every rank's states when the rank count changed).
nlohmann::json restore(StageRun& run, const Checkpoint& ck) {
  const std::string origin = ck.path + "/state.json";
  load_model_state(*run.model, ck.model, ck.path + "/model.safetensors");
  // Sharded: this rank's entries, from whichever shard files (or whole state) hold them: exact on any rank count.
  run.optimizer->load_state_dict(run.zero    ? run.zero->owned_entries(ck.optimizer)
                                 : run.zero3 ? run.zero3->owned_entries(ck.optimizer)
                                             : ck.optimizer);
  if (!run.state.rng_cpu.empty()) restore_cpu_rng(run.state.rng_cpu, origin);
  const auto& loaders = run.state.loaders;
  MM_CHECK(!loaders.empty(), "{}: state.json key 'loaders': expected one state per rank", ck.path);
  mm::log::get("trainer")->info("stage '{}': resuming from {} (step {}, {} tokens seen)", run.cfg.train.stage, ck.path,
                                run.state.step, run.state.tokens_seen);
  // Another rank count: make_loader redistributes every rank's state (see loader_reshard.h).
  if (static_cast<int>(loaders.size()) == run.group.world_size())
    return loaders.at(static_cast<size_t>(run.group.rank()));
  return nlohmann::json(loaders);
}

void open_data(StageRun& run, const nlohmann::json* loader_state, const std::string& resumed_from) {
  const RunConfig& cfg = run.cfg;
  const TrainConfig& tc = cfg.train;
  MM_CHECK(!cfg.data.sources.empty(), "data.sources: stage '{}' lists no data sources", tc.stage);
  // Carried into every checkpoint as tokenizer.model: eval/generate/export and later stages use the
  // vocabulary this stage trained with (mmtrain's added tokens included) even when tokenizer.model_path
  // is regenerated.
  run.tokenizer_bytes = run.tokenizer->model_bytes();
  run.quarantine = run.group.is_main()
                       ? std::make_unique<data::Quarantine>((fs::path(run.dir) / "quarantine.jsonl").string())
                       : std::make_unique<data::Quarantine>();
  data::ReshardSummary reshard;
  LoaderConfig lc = loader_config(run);
  lc.seed = sample_stream_seed(cfg);
  run.loader =
      data::make_loader(cfg.data.sources, cfg.data.mixture, cfg.image, *run.tokenizer, run.model->tokens_per_tile(), lc,
                        run.quarantine.get(), run.group.rank(), run.group.world_size(), loader_state, &reshard);
  check_data_quality(run);  // open-time problems (malformed records) already count
  if (run.group.is_main() && reshard.old_world > 0)
    mm::log::get("trainer")->warn(
        "stage '{}': {} was written by {} ranks, resuming with {}: {} stream positions not yet delivered ({} never "
        "drawn, {} partly delivered long texts) are carried over round-robin, then the stream continues at position "
        "{}; the global batch is now {} sequences ({} ranks x micro_batch {} x grad_accum {})",
        tc.stage, resumed_from, reshard.old_world, reshard.new_world, reshard.carried, reshard.holes, reshard.partial,
        reshard.resume_position, run.group.world_size() * cfg.loader.micro_batch * tc.grad_accum,
        run.group.world_size(), cfg.loader.micro_batch, tc.grad_accum);
}

}  // namespace

uint64_t sample_stream_seed(const RunConfig& cfg) {
  return cfg.loader.seed ^ (static_cast<uint64_t>(cfg.seed) * 0x9E3779B97F4A7C15ULL);
}

LoaderConfig loader_config(const StageRun& run) {
  LoaderConfig c = run.cfg.loader;
  c.pin_batches = run.step.device.is_cuda();  // asynchronous host-to-device copies
  return c;
}

StageRun::StageRun(const RunConfig& c, const dist::Group& g, const TrainOptions& o)
    : cfg(c),
      group(g),
      opts(o),
      dir(stage_dir(c)),
      checkpoints((fs::path(dir) / "checkpoints").string(), RetentionPolicy{c.train.keep_last, c.train.keep_every}) {
  result.stage = c.train.stage;
}

StageRun::~StageRun() = default;

bool StageRun::finished() const {
  return state.step >= cfg.train.steps || (cfg.train.max_tokens > 0 && state.tokens_seen >= cfg.train.max_tokens);
}

void require_fresh_stage(const RunConfig& cfg) {
  const fs::path ck = fs::path(stage_dir(cfg)) / "checkpoints";
  MM_CHECK(!fs::exists(ck) || CheckpointManager(ck.string()).list().empty(),
           "{}: already holds checkpoints of stage '{}': pass --resume auto to continue it, or choose another run_dir",
           ck.string(), cfg.train.stage);
}

std::unique_ptr<StageRun> open_stage(const RunConfig& cfg, const dist::Group& group, const TrainOptions& opts) {
  auto log = mm::log::get("trainer");
  const TrainConfig& tc = cfg.train;
  if (group.is_main()) fs::create_directories(stage_dir(cfg));
  auto run = std::make_unique<StageRun>(cfg, group, opts);

  // ---- The resume point ----
  std::optional<Checkpoint> resume_from = find_resume_point(*run);
  if (resume_from) {
    run->state = train_state_from_json(resume_from->state, resume_from->path + "/state.json");
    const TrainState& st = run->state;
    MM_CHECK(st.stage.empty() || st.stage == tc.stage, "{}: is a checkpoint of stage '{}', not '{}'", resume_from->path,
             st.stage, tc.stage);
    if (st.config_hash != config_hash(cfg)) warn_config_differences(*resume_from, cfg);
    if (st.stage_complete) {
      log->info("stage '{}' already completed at step {} ({})", tc.stage, resume_from->step, resume_from->path);
      run->result.final_checkpoint = resume_from->path;
      run->result.steps_done = resume_from->step;
      run->result.completed = true;
      return run;
    }
  }
  // Loaded once for the stage (a hub tokenizer.json of 128k tokens takes a while): the hand-off and resume
  // checks below and the data pipeline use it.
  run->tokenizer = std::make_unique<tok::Tokenizer>(tok::Tokenizer::load(cfg.tokenizer));
  // The vocabulary must be the one the checkpoint was trained with (it carries its tokenizer.model).
  if (resume_from) check_carried_tokenizer(resume_from->path, *run->tokenizer, "--resume");

  // ---- Model, optimizer, data parallelism ----
  build_model(*run, resume_from);
  run->schedule = cfg.schedule;
  if (run->schedule.total_steps == 0) run->schedule.total_steps = tc.steps;
  if (group.distributed() && cfg.dist.shard == "parameters") {
    open_zero3(*run);  // no Reducer: the layer hooks gather, reduce and release (stage_zero3.cpp)
  } else if (group.distributed() && cfg.dist.shard != "none") {  // optimizer, gradients
    // No Reducer (it all-reduces): the train step reduces the gradients to their owners. The same start as
    // DataParallel's: rank 0's trainable parameters and buffers everywhere.
    std::vector<torch::Tensor> start = run->step.trainable;
    for (const auto& b : run->model->buffers(/*recurse=*/true)) start.push_back(b);
    dist::broadcast_tensors(group, start, 0);
    run->zero = std::make_unique<ZeroOptimizer>(*run->optimizer, group, cfg.dist.bucket_cap_mb,
                                                /*shard_gradients=*/cfg.dist.shard == "gradients");
    log->info("stage '{}': dist.shard {}: rank {} owns {} of {} parameter tensors ({:.2f} of {:.2f} MiB)", tc.stage,
              cfg.dist.shard, group.rank(), run->zero->owned_tensors(), run->zero->total_tensors(),
              run->zero->owned_param_bytes() / 1048576.0, run->zero->total_param_bytes() / 1048576.0);
  } else if (group.distributed()) {
    dist::DataParallelOptions o;
    o.bucket_cap_mb = cfg.dist.bucket_cap_mb;
    o.find_unused_parameters = true;  // text-only batches leave the vision tower without gradients
    run->dp = std::make_unique<dist::DataParallel>(*run->model, group, o);
  }
  StepSetup& step = run->step;
  step.forward = [model = run->model](const MultimodalBatch& b) mutable { return model->forward(b); };
  step.optimizer = run->optimizer.get();
  step.group = &group;
  step.dp = run->dp.get();
  step.zero = run->zero.get();
  step.zero3 = run->zero3.get();
  step.bf16 = tc.precision == "bf16";
  step.clip_grad_norm = tc.clip_grad_norm;

  nlohmann::json loader_state;
  if (resume_from) loader_state = restore(*run, *resume_from);
  if (run->zero3) run->zero3->shard();  // the weights are loaded: release the other ranks' tensors
  run->health = std::make_unique<StepHealth>(tc, run->state);

  // ---- Data and sinks ----
  open_data(*run, resume_from ? &loader_state : nullptr, resume_from ? resume_from->path : "");
  if (group.is_main()) {
    // The stage's resolved config, standalone: `previous` becomes the checkpoint it named, so
    // `mmtrain eval/train --config <stage>/config.yaml` works on it.
    RunConfig saved = cfg;
    if (saved.train.init_from == "previous") saved.train.init_from = opts.init_override;
    io::write_file_atomic((fs::path(run->dir) / "config.yaml").string(), dump_yaml(saved));
  }
  run->metrics = std::make_unique<TrainMetrics>(cfg, run->dir, group.is_main(), resume_from.has_value(),
                                                run->state.step, opts.progress);
  if (group.is_main()) {
    int64_t n_total = 0, n_trainable = 0;
    for (const auto& p : run->model->parameters()) n_total += p.numel();
    for (const auto& p : step.trainable) n_trainable += p.numel();
    log->info(
        "stage '{}': {} steps x {} micro-batches x {} ranks x {} sequences of {} tokens; {:.2f}M of {:.2f}M "
        "parameters train; {} on {}",
        tc.stage, tc.steps, tc.grad_accum, group.world_size(), cfg.loader.micro_batch, cfg.loader.seq_len,
        n_trainable / 1e6, n_total / 1e6, run->optimizer->name(), step.device.str());
  }
  return run;
}

MicroBatches next_micro_batches(StageRun& run) {
  MicroBatches mb;
  for (int64_t m = 0; m < run.cfg.train.grad_accum; ++m) {
    mb.batches.push_back(run.loader->next());
    const data::Batch& b = mb.batches.back();
    mb.data_wait += b.data_wait_s;
    mb.counts.loss_targets += static_cast<double>(loss_targets(b.labels, b.doc_ids));
    mb.counts.tokens += static_cast<double>(b.real_tokens);
    mb.counts.samples += static_cast<double>(b.docs.size());
  }
  for (const auto& b : mb.batches) mb.model.push_back(to_device(data::to_model_batch(b), run.step.device));
  return mb;
}

std::string save_checkpoint(StageRun& run, bool complete) {
  // Sharded optimizer: every rank writes its own shard (in parallel) before the gather below, which every
  // rank enters only after writing; rank 0 moves the shards into the checkpoint folder.
  std::vector<std::string> shards;
  if (run.zero3) shards = write_zero3_shard(run);
  const WholeParameters whole(run);  // dist.shard parameters: the model file holds every tensor whole
  if (run.zero) {
    const fs::path staging = run.checkpoints.shard_staging_dir(run.state.step);
    fs::create_directories(staging);
    TensorMap mine = run.optimizer->state_dict();
    safetensors::save((staging / CheckpointManager::shard_file_name(run.group.rank())).string(), mine);
    for (int r = 0; r < run.group.world_size(); ++r)
      shards.push_back((staging / CheckpointManager::shard_file_name(r)).string());
    const ZeroTraffic& t = run.zero->last_traffic();
    auto log = mm::log::get("trainer");
    log->info(
        "dist.shard {}: rank {} holds {} bytes of optimizer state; its last step broadcast {} buckets, {} bytes as "
        "root, {} bytes received",
        run.cfg.dist.shard, run.group.rank(), run.zero->state_bytes(), t.broadcasts, t.bytes_as_root, t.bytes_received);
    log->info(
        "dist.shard {}: rank {} held {} bytes of gradients after its last step's reduction (of {}); it sent {} bytes "
        "in {} gradient all-to-alls and {} in the broadcasts, {} in all ({} bytes of used-tensor flags aside)",
        run.cfg.dist.shard, run.group.rank(), t.grad_bytes_held, run.zero->total_param_bytes(), t.reduce_sent,
        t.reductions, t.broadcast_sent, t.sent(), t.used_map_bytes);
  }
  // Every rank's loader state is needed for exact resume; rank 0 writes.
  const std::vector<std::string> states = dist::all_gather_strings(run.group, run.loader->state().dump());
  if (!run.group.is_main()) {
    dist::barrier(run.group);  // rank 0 has written it when the barrier opens
    return (fs::path(run.checkpoints.dir()) / CheckpointManager::folder_name(run.state.step)).string();
  }
  TrainState& st = run.state;
  st.stage = run.cfg.train.stage;
  st.stage_complete = complete;
  st.world_size = run.group.world_size();
  st.config_hash = config_hash(run.cfg);
  run.health->save_into(st);
  st.rng_cpu = capture_cpu_rng();
  st.loaders.clear();
  for (const auto& s : states) st.loaders.push_back(nlohmann::json::parse(s));
  TensorMap weights = model_state(*run.model);
  for (auto& [k, v] : weights) v = v.to(torch::kCPU);
  TensorMap opt;
  if (!run.zero && !run.zero3) opt = run.optimizer->state_dict();
  for (auto& [k, v] : opt) v = v.to(torch::kCPU);
  const std::string path = run.checkpoints.save(st.step, weights, opt, nlohmann::json(to_json(st)), dump_yaml(run.cfg),
                                                run.tokenizer_bytes, shards);
  dist::barrier(run.group);
  mm::log::get("trainer")->info("checkpoint {}{}", path, complete ? " (stage complete)" : "");
  return path;
}

void check_data_quality(StageRun& run) {
  std::string problem;
  try {
    data::check_bad_fraction(*run.loader, *run.quarantine, run.cfg.data.max_bad_fraction);
  } catch (const mm::Error& e) {
    problem = e.what();
  }
  if (dist::any_rank(run.group, !problem.empty()))
    throw mm::Error(problem.empty() ? "data.max_bad_fraction: exceeded on another rank (its log names the source)"
                                    : problem);
}

std::string docs_summary(const std::vector<data::Batch>& batches, size_t max_docs) {
  std::string s;
  size_t n = 0, total = 0;
  for (const auto& b : batches) total += b.docs.size();
  for (const auto& b : batches)
    for (const auto& d : b.docs) {
      if (n++ >= max_docs) break;
      s += (s.empty() ? "" : ", ") + d.source + ":" + d.id;
    }
  if (total > max_docs) s += fmt::format(", ... ({} documents)", total);
  return s;
}

}  // namespace mm::train
