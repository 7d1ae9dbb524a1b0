// The train loop of one stage (trainer.h).
#include "trainers/loop/trainer.h"

#include <csignal>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <ATen/autocast_mode.h>

#include "core/check.h"
#include "core/io.h"
#include "core/logging.h"
#include "data_pipeline/loader/loader.h"
#include "data_pipeline/quarantine.h"
#include "dist/collectives.h"
#include "dist/data_parallel.h"
#include "dist/process_group.h"
#include "models/llm/lm_loss.h"
#include "models/param_groups.h"
#include "tokenizer/tokenizer.h"
#include "trainers/checkpoint/checkpoint_manager.h"
#include "trainers/autocast_scope.h"
#include "trainers/checkpoint/model_state.h"
#include "trainers/grad_utils.h"
#include "trainers/loop/recipe.h"
#include "trainers/lr_schedule.h"
#include "trainers/metrics/metrics_jsonl.h"
#include "trainers/metrics/progress.h"
#include "trainers/metrics/tb_writer.h"
#include "trainers/model_batch.h"
#include "trainers/optim/param_groups.h"

namespace fs = std::filesystem;

namespace mm::train {

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {

extern "C" void on_stop_signal(int) { stop_requested().store(true); }

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

torch::Device pick_device(const TrainConfig& t) {
  if (t.device == "cuda") {
    MM_CHECK(torch::cuda::is_available(), "train.device: cuda requested but no CUDA device is available");
    return torch::Device(torch::kCUDA);
  }
  if (t.device == "auto" && torch::cuda::is_available()) {
    return torch::Device(torch::kCUDA);
  }
  return torch::Device(torch::kCPU);
}

// Summed loss per source of one micro-batch from its logits (no grad).
void add_source_losses(const torch::Tensor& logits, const data::Batch& b, std::map<std::string, double>& sum,
                       std::map<std::string, int64_t>& count) {
  torch::NoGradGuard ng;
  using torch::indexing::Slice;
  auto lg = logits.index({Slice(), Slice(0, -1)}).to(torch::kFloat32);
  auto tgt = b.labels.index({Slice(), Slice(1, torch::indexing::None)}).to(logits.device());
  auto mask = llm::causal_lm_targets(b.labels, b.doc_ids).to(logits.device());
  auto nll = -torch::log_softmax(lg, -1).gather(-1, tgt.clamp_min(0).unsqueeze(-1)).squeeze(-1);
  nll = (nll * mask).to(torch::kCPU).contiguous();
  auto m = mask.to(torch::kCPU).contiguous();
  auto na = nll.accessor<float, 2>();
  auto ma = m.accessor<bool, 2>();
  for (const auto& d : b.docs) {
    double s = 0;
    int64_t c = 0;
    for (int64_t t = d.begin; t < d.begin + d.length - 1 && t < na.size(1); ++t)
      if (ma[d.row][t]) s += na[d.row][t], ++c;
    sum[d.source] += s;
    count[d.source] += c;
  }
}

std::string to_hex(const torch::Tensor& bytes) {
  auto t = bytes.contiguous().to(torch::kCPU);
  const auto* p = t.data_ptr<uint8_t>();
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(static_cast<size_t>(t.numel()) * 2);
  for (int64_t i = 0; i < t.numel(); ++i) s += digits[p[i] >> 4], s += digits[p[i] & 15];
  return s;
}

torch::Tensor from_hex(const std::string& s) {
  auto t = torch::empty({static_cast<int64_t>(s.size() / 2)}, torch::kUInt8);
  auto* p = t.data_ptr<uint8_t>();
  auto val = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < s.size(); i += 2) p[i / 2] = static_cast<uint8_t>(val(s[i]) * 16 + val(s[i + 1]));
  return t;
}

// Keeps the metrics.jsonl records of steps <= `step` (a resumed run rewrites what followed).
void truncate_metrics(const std::string& path, int64_t step) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    try {
      auto j = nlohmann::json::parse(line);
      if (j.value("step", int64_t{0}) > step) continue;
    } catch (const std::exception&) {
      continue;  // a torn last line from a kill
    }
    kept += line + "\n";
  }
  io::write_file_atomic(path, kept);
}

std::string docs_summary(const std::vector<const data::Batch*>& batches, size_t max_docs = 12) {
  std::string s;
  size_t n = 0, total = 0;
  for (const auto* b : batches) total += b->docs.size();
  for (const auto* b : batches)
    for (const auto& d : b->docs) {
      if (n++ >= max_docs) break;
      s += (s.empty() ? "" : ", ") + d.source + ":" + d.id;
    }
  if (total > max_docs) s += fmt::format(", ... ({} documents)", total);
  return s;
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

bool stage_completed(const RunConfig& cfg, std::string* folder) {
  const std::string dir = (fs::path(stage_dir(cfg)) / "checkpoints").string();
  if (!fs::exists(dir)) return false;
  CheckpointManager mgr(dir);
  auto good = mgr.find_latest_good();
  if (!good) return false;
  std::ifstream in(fs::path(*good) / "state.json");
  nlohmann::json st = nlohmann::json::parse(in, nullptr, false);
  if (st.is_discarded() || !st.value("stage_complete", false)) return false;
  if (folder) *folder = *good;
  return true;
}

StageResult train_stage(const RunConfig& cfg, const dist::Group& group, const TrainOptions& opts) {
  auto log = mm::log::get("trainer");
  const TrainConfig& tc = cfg.train;
  const bool main = group.is_main();
  const int world = group.world_size();
  StageResult result;
  result.stage = tc.stage;

  const std::string sdir = stage_dir(cfg);
  const std::string ckpt_dir = (fs::path(sdir) / "checkpoints").string();
  if (main) fs::create_directories(sdir);
  CheckpointManager ckpts(ckpt_dir, RetentionPolicy{tc.keep_last, tc.keep_every});

  // ---- Resume point --------------------------------------------------------------------------
  std::optional<Checkpoint> resume_from;
  if (opts.resume == "auto") {
    if (auto good = ckpts.find_latest_good()) resume_from = CheckpointManager::load(*good);
  } else if (!opts.resume.empty()) {
    resume_from = CheckpointManager::load(resolve_checkpoint(opts.resume));
  } else {
    MM_CHECK(ckpts.list().empty(),
             "{}: already holds checkpoints of stage '{}': pass --resume auto to continue it, or choose another "
             "run_dir",
             ckpt_dir, tc.stage);
  }
  if (resume_from) {
    const auto& st = resume_from->state;
    MM_CHECK(st.value("stage", tc.stage) == tc.stage, "{}: is a checkpoint of stage '{}', not '{}'",
             resume_from->path, st.value("stage", std::string()), tc.stage);
    if (st.value("config_hash", std::string()) != config_hash(cfg))
      log->warn("{}: the config differs from the one the checkpoint was trained with (hash {} vs {})",
                resume_from->path, st.value("config_hash", std::string()), config_hash(cfg));
    if (st.value("stage_complete", false)) {
      log->info("stage '{}' already completed at step {} ({})", tc.stage, resume_from->step, resume_from->path);
      result.final_checkpoint = resume_from->path;
      result.steps_done = resume_from->step;
      result.completed = true;
      return result;
    }
    // The vocabulary must be the one the checkpoint was trained with (it carries its tokenizer.model).
    check_carried_tokenizer(resume_from->path, cfg.tokenizer.model_path, "--resume");
  }
  std::optional<Checkpoint> init_ckpt;
  if (!tc.init_from.empty()) {
    std::string from = tc.init_from == "previous" ? opts.init_override : resolve_checkpoint(tc.init_from);
    MM_CHECK(!from.empty(), "train.init_from: 'previous' but stage '{}' has no previous stage checkpoint", tc.stage);
    if (!resume_from) {
      init_ckpt = CheckpointManager::load(from, CheckpointManager::Part::kWeights);  // a new optimizer
      check_carried_tokenizer(from, cfg.tokenizer.model_path, "train.init_from");
    }
  }

  // ---- Model, device, freezing ----------------------------------------------------------------
  if (tc.threads > 0) torch::set_num_threads(static_cast<int>(tc.threads));
  const torch::Device dev = pick_device(tc);
  torch::manual_seed(static_cast<uint64_t>(cfg.seed));
  MultimodalModel model(cfg.model);
  if (init_ckpt) {
    load_model_state(*model, init_ckpt->model, (fs::path(init_ckpt->path) / "model.safetensors").string());
    log->info("stage '{}': initialised from {}", tc.stage, init_ckpt->path);
    init_ckpt.reset();  // the weights now live in the model
  }
  std::vector<ParamRule> rules;
  for (const auto& r : tc.params) rules.push_back(ParamRule{r.select, r.trainable, r.lr_mult});
  const auto rule_groups = apply_param_rules(*model, rules);
  OptimizerConfig ocfg = cfg.optimizer;
  NamedParams named;
  std::vector<torch::Tensor> trainable;
  int64_t n_trainable = 0, n_total = 0;
  for (const auto& p : model->parameters()) n_total += p.numel();
  for (const auto& g : rule_groups)
    for (size_t i = 0; i < g.names.size(); ++i)
      if (g.lr_mult != 1.0) ocfg.lr_mults[g.names[i]] = g.lr_mult * lr_mult_for(cfg.optimizer, g.names[i]);
  for (const auto& item : model->named_parameters())
    if (item.value().requires_grad()) {
      named.emplace_back(item.key(), item.value());
      trainable.push_back(item.value());
      n_trainable += item.value().numel();
    }
  MM_CHECK(!named.empty(), "train.params: stage '{}' freezes every parameter", tc.stage);
  model->to(dev);
  model->train();
  auto optimizer = make_optimizer(ocfg, named);
  ScheduleConfig sched = cfg.schedule;
  if (sched.total_steps == 0) sched.total_steps = tc.steps;

  std::unique_ptr<dist::DataParallel> dp;
  if (group.distributed()) {
    dist::DataParallelOptions o;
    o.bucket_cap_mb = cfg.dist.bucket_cap_mb;
    o.find_unused_parameters = true;  // text-only batches leave the vision tower without gradients
    dp = std::make_unique<dist::DataParallel>(*model, group, o);
  }

  int64_t step = 0, tokens_seen = 0, samples_seen = 0, skips = 0;
  SpikeDetector spikes(SpikeDetectorOptions{tc.spike_window, std::min<int64_t>(20, tc.spike_window), tc.spike_z});
  nlohmann::json loader_state;
  bool have_loader_state = false;
  if (resume_from) {
    load_model_state(*model, resume_from->model, resume_from->path + "/model.safetensors");
    optimizer->load_state_dict(resume_from->optimizer);
    const auto& st = resume_from->state;
    step = st.at("step").get<int64_t>();
    tokens_seen = st.value("tokens_seen", int64_t{0});
    samples_seen = st.value("samples_seen", int64_t{0});
    skips = st.value("consecutive_skips", int64_t{0});
    if (st.contains("spike_history")) spikes.set_history(st["spike_history"].get<std::deque<double>>());
    if (st.contains("rng_cpu")) {
      at::Generator gen = at::detail::getDefaultCPUGenerator();
      gen.set_state(from_hex(st["rng_cpu"].get<std::string>()));
    }
    const auto& loaders = st.at("loaders");
    MM_CHECK(loaders.is_array() && !loaders.empty(), "{}: state.json key 'loaders': expected one state per rank",
             resume_from->path);
    // Another rank count: make_loader redistributes every rank's state (see loader_reshard.h).
    loader_state = static_cast<int>(loaders.size()) == world ? loaders.at(static_cast<size_t>(group.rank()))
                                                             : loaders;
    have_loader_state = true;
    log->info("stage '{}': resuming from {} (step {}, {} tokens seen)", tc.stage, resume_from->path, step,
              tokens_seen);
  }

  // ---- Data -------------------------------------------------------------------------------------
  MM_CHECK(!cfg.data.sources.empty(), "data.sources: stage '{}' lists no data sources", tc.stage);
  const tok::Tokenizer tokenizer = tok::Tokenizer::load(cfg.tokenizer);
  // Carried into every checkpoint as tokenizer.model: eval/generate/export and later stages use the
  // vocabulary this stage trained with even when tokenizer.model_path is regenerated.
  const std::string tokenizer_bytes = io::read_file(cfg.tokenizer.model_path);
  auto quarantine = main ? std::make_unique<data::Quarantine>((fs::path(sdir) / "quarantine.jsonl").string())
                         : std::make_unique<data::Quarantine>();
  data::ReshardSummary reshard;
  LoaderConfig loader_cfg = cfg.loader;
  loader_cfg.pin_batches = dev.is_cuda();  // collated into pinned memory: asynchronous copies to the GPU
  auto loader = data::make_loader(cfg.data.sources, cfg.data.mixture, cfg.image, tokenizer, model->tokens_per_tile(),
                                  loader_cfg, quarantine.get(), group.rank(), world,
                                  have_loader_state ? &loader_state : nullptr, &reshard);
  if (main && reshard.old_world > 0)
    log->warn("stage '{}': {} was written by {} ranks, resuming with {}: {} stream positions not yet delivered ({} "
              "never drawn, {} partly delivered long texts) are carried over round-robin, then the stream continues "
              "at position {}; the global batch is now {} sequences ({} ranks x micro_batch {} x grad_accum {})",
              tc.stage, resume_from->path, reshard.old_world, reshard.new_world, reshard.carried, reshard.holes,
              reshard.partial, reshard.resume_position, world * cfg.loader.micro_batch * tc.grad_accum, world,
              cfg.loader.micro_batch, tc.grad_accum);

  // ---- Sinks --------------------------------------------------------------------------------------
  std::unique_ptr<MetricsJsonl> metrics;
  std::unique_ptr<TensorBoardWriter> tb;
  if (main) {
    // The stage's resolved config, standalone: `previous` becomes the checkpoint it named, so
    // `mmtrain eval/train --config <stage>/config.yaml` works on it.
    RunConfig saved = cfg;
    if (saved.train.init_from == "previous") saved.train.init_from = opts.init_override;
    io::write_file_atomic((fs::path(sdir) / "config.yaml").string(), dump_yaml(saved));
    const std::string mpath = (fs::path(sdir) / "metrics.jsonl").string();
    if (resume_from) truncate_metrics(mpath, step);
    else if (fs::exists(mpath)) fs::remove(mpath);
    metrics = std::make_unique<MetricsJsonl>(mpath);
    tb = std::make_unique<TensorBoardWriter>((fs::path(sdir) / "tb").string());
    log->info("stage '{}': {} steps x {} micro-batches x {} ranks x {} sequences of {} tokens; {:.2f}M of {:.2f}M "
              "parameters train; {} on {}",
              tc.stage, tc.steps, tc.grad_accum, world, cfg.loader.micro_batch, cfg.loader.seq_len,
              n_trainable / 1e6, n_total / 1e6, optimizer->name(), dev.str());
  }

  auto save = [&](bool complete) {
    // Every rank's loader state is needed for exact resume; rank 0 writes.
    std::vector<std::string> states = dist::all_gather_strings(group, loader->state().dump());
    if (!main) {
      dist::barrier(group);  // rank 0 has written it when the barrier opens
      return (fs::path(ckpt_dir) / CheckpointManager::folder_name(step)).string();
    }
    nlohmann::json st;
    st["step"] = step;
    st["stage"] = tc.stage;
    st["stage_complete"] = complete;
    st["tokens_seen"] = tokens_seen;
    st["samples_seen"] = samples_seen;
    st["consecutive_skips"] = skips;
    st["world_size"] = world;
    st["config_hash"] = config_hash(cfg);
    st["spike_history"] = spikes.history();
    st["rng_cpu"] = to_hex(at::detail::getDefaultCPUGenerator().get_state());
    st["loaders"] = nlohmann::json::array();
    for (const auto& s : states) st["loaders"].push_back(nlohmann::json::parse(s));
    TensorMap weights = model_state(*model);
    for (auto& [k, v] : weights) v = v.to(torch::kCPU);
    TensorMap opt = optimizer->state_dict();
    for (auto& [k, v] : opt) v = v.to(torch::kCPU);
    std::string path = ckpts.save(step, weights, opt, st, dump_yaml(cfg), tokenizer_bytes);
    dist::barrier(group);
    log->info("checkpoint {}{}", path, complete ? " (stage complete)" : "");
    return path;
  };

  // Loss of every held-out source (data.heldout) on its first heldout_batches batches: the same
  // batches at every eval, no update. Rank 0 only. The batches are read once, at the first eval,
  // and kept (a few micro-batches), instead of reopening and re-indexing the sources each time.
  std::map<std::string, std::vector<data::Batch>> heldout_batches;
  auto heldout_losses = [&]() {
    nlohmann::json out = nlohmann::json::object();
    torch::NoGradGuard ng;
    model->eval();
    for (const auto& src : cfg.data.heldout) {
      auto& batches = heldout_batches[src.name];
      if (batches.empty()) {
        data::Quarantine q;
        MixtureConfig flat;
        auto hl = data::make_loader({src}, flat, cfg.image, tokenizer, model->tokens_per_tile(), loader_cfg, &q);
        for (int64_t b = 0; b < cfg.data.heldout_batches; ++b) batches.push_back(hl->next());
      }
      double sum = 0, count = 0;
      for (const data::Batch& batch : batches) {
        AutocastScope autocast(tc.precision == "bf16", dev);
        MultimodalOutput o = model->forward(to_model_batch(batch, dev));
        sum += o.loss_sum.item<double>();
        count += o.loss_count.item<double>();
      }
      out[src.name] = sum / std::max(1.0, count);
    }
    model->train();
    return out;
  };

  auto run_eval = [&]() {
    if (main && !cfg.data.heldout.empty()) {
      const nlohmann::json hl = heldout_losses();
      metrics->log(step, {{"stage", tc.stage}, {"heldout_loss", hl}});
      std::vector<std::pair<std::string, float>> sc;
      for (const auto& [k, v] : hl.items()) sc.emplace_back("heldout/" + k, v.get<float>());
      tb->add_scalars(step, sc);
      std::string line;
      for (const auto& [k, v] : hl.items()) line += fmt::format("{}{} {:.4f}", line.empty() ? "" : ", ", k, v.get<double>());
      log->info("held-out loss at step {}: {}", step, line);
    }
    if (!opts.evaluate || cfg.eval.sets.empty()) {
      dist::barrier(group);
      return;
    }
    nlohmann::json res;
    if (main) {
      model->eval();
      const std::string out = (fs::path(sdir) / "eval" / (CheckpointManager::folder_name(step) + ".json")).string();
      res = opts.evaluate(model, cfg, step, out);
      model->train();
      result.last_eval = res;
      const nlohmann::json categories = res.value("categories", nlohmann::json::object());
      nlohmann::json rec = {{"stage", tc.stage}, {"eval", categories}};
      if (res.contains("mmbase")) rec["eval_mmbase"] = res["mmbase"];
      metrics->log(step, rec);
      std::vector<std::pair<std::string, float>> sc;
      for (const auto& [k, v] : categories.items())
        if (v.is_number()) sc.emplace_back("eval/" + k, v.get<float>());
      if (!sc.empty()) tb->add_scalars(step, sc);
    }
    dist::barrier(group);
  };

  // ---- The loop ----------------------------------------------------------------------------------
  double interval_loss = 0, interval_time = 0, interval_wait = 0;
  int64_t interval_steps = 0, interval_tokens = 0;
  bool first_logged = false;
  std::map<std::string, double> src_sum;
  std::map<std::string, int64_t> src_count;
  const auto t_start = Clock::now();
  bool stopped = false;

  while (step < tc.steps && (tc.max_tokens == 0 || tokens_seen < tc.max_tokens)) {
    const auto t0 = Clock::now();
    const bool log_step = (step + 1) % tc.log_interval == 0 || step + 1 == tc.steps;
    // Fetch every micro-batch first: the loss is normalised by the global batch's loss tokens.
    std::vector<data::Batch> batches;
    double wait = 0;
    int64_t local_targets = 0, local_tokens = 0, local_samples = 0;
    for (int64_t m = 0; m < tc.grad_accum; ++m) {
      batches.push_back(loader->next());
      wait += batches.back().data_wait_s;
      local_targets += llm::causal_lm_targets(batches.back().labels, batches.back().doc_ids).sum().item<int64_t>();
      local_tokens += batches.back().real_tokens;
      local_samples += static_cast<int64_t>(batches.back().docs.size());
    }
    const auto sums = dist::all_reduce(group, {static_cast<double>(local_targets), static_cast<double>(local_tokens),
                                               static_cast<double>(local_samples)});
    const double global_targets = std::max(1.0, sums[0]);

    const double lr = lr_at(sched, cfg.optimizer.lr, step);
    optimizer->set_lr(lr);
    double loss_sum = 0, aux = 0;
    for (int64_t m = 0; m < tc.grad_accum; ++m) {
      const bool sync = m + 1 == tc.grad_accum;
      if (dp) dp->prepare_forward(sync);
      MultimodalBatch mb = to_model_batch(batches[static_cast<size_t>(m)], dev);
      MultimodalOutput out;
      {
        AutocastScope autocast(tc.precision == "bf16", dev);
        out = model->forward(mb);
      }
      torch::Tensor extra = (out.aux_loss + out.z_loss) / static_cast<double>(tc.grad_accum);
      torch::Tensor loss = out.loss_sum * (static_cast<double>(world) / global_targets) + extra;
      if (dp) dp->backward(loss);
      else loss.backward();
      loss_sum += out.loss_sum.item<double>();
      aux += extra.item<double>();
      if (log_step) add_source_losses(out.logits.detach(), batches[static_cast<size_t>(m)], src_sum, src_count);
    }
    const double step_loss = dist::all_reduce(group, loss_sum) / global_targets + aux;

    // Non-finite loss or gradient: every rank agrees, the update is skipped.
    const bool bad = dist::any_rank(group, !all_finite(step_loss, trainable));
    double grad_norm = 0;
    if (bad) {
      ++skips;
      std::vector<const data::Batch*> bp;
      for (const auto& b : batches) bp.push_back(&b);
      log->warn("step {}: non-finite loss or gradient (loss {}), update skipped ({} in a row); samples: {}", step + 1,
                step_loss, skips, docs_summary(bp));
      MM_CHECK(skips < tc.max_skipped_steps, "stage '{}': {} consecutive non-finite steps (train.max_skipped_steps)",
               tc.stage, skips);
    } else {
      skips = 0;
      grad_norm = clip_grad_norm(trainable, tc.clip_grad_norm);
      optimizer->step();
      if (spikes.update(step_loss)) {
        std::vector<const data::Batch*> bp;
        for (const auto& b : batches) bp.push_back(&b);
        log->warn("step {}: loss spike {:.4f} (z = {:.1f}); samples: {}", step + 1, step_loss, spikes.last_z(),
                  docs_summary(bp));
      }
    }
    optimizer->zero_grad();
    ++step;
    tokens_seen += static_cast<int64_t>(sums[1]);
    samples_seen += static_cast<int64_t>(sums[2]);

    const double dt = seconds_since(t0);
    interval_loss += step_loss, interval_time += dt, interval_wait += wait;
    interval_tokens += static_cast<int64_t>(sums[1]);
    ++interval_steps;
    if (log_step && group.distributed()) {  // per-source losses over the whole global batch
      std::vector<double> v;
      for (const auto& sc : cfg.data.sources) v.push_back(src_sum[sc.name]), v.push_back(src_count[sc.name]);
      v = dist::all_reduce(group, v);
      for (size_t i = 0; i < cfg.data.sources.size(); ++i) {
        src_sum[cfg.data.sources[i].name] = v[2 * i];
        src_count[cfg.data.sources[i].name] = static_cast<int64_t>(v[2 * i + 1]);
      }
    }
    if (log_step && main) {
      const double mean_loss = interval_loss / interval_steps;
      if (!first_logged) result.first_loss = mean_loss, first_logged = true;
      result.last_loss = mean_loss;
      nlohmann::json rec = {{"stage", tc.stage},
                            {"loss", mean_loss},
                            {"lr", lr},
                            {"grad_norm", grad_norm},
                            {"tokens_seen", tokens_seen},
                            {"samples_seen", samples_seen},
                            {"tokens_per_s", interval_tokens / std::max(1e-9, interval_time)},
                            {"step_time_s", interval_time / interval_steps},
                            {"data_wait_frac", interval_wait / std::max(1e-9, interval_time)},
                            {"skipped", bad}};
      if (aux != 0) rec["moe_aux_loss"] = aux;
      nlohmann::json by_src = nlohmann::json::object();
      std::vector<std::pair<std::string, float>> scalars = {
          {"train/loss", static_cast<float>(mean_loss)},
          {"train/lr", static_cast<float>(lr)},
          {"train/grad_norm", static_cast<float>(grad_norm)},
          {"train/tokens_per_s", static_cast<float>(rec["tokens_per_s"].get<double>())}};
      for (const auto& [src, s] : src_sum)
        if (src_count[src] > 0) {
          by_src[src] = s / src_count[src];
          scalars.emplace_back("loss/" + src, static_cast<float>(s / src_count[src]));
        }
      rec["loss_by_source"] = by_src;
      metrics->log(step, rec);
      tb->add_scalars(step, scalars);
      if (opts.progress) {
        ProgressInfo p{tc.stage,
                       step,
                       tc.steps,
                       mean_loss,
                       lr,
                       rec["tokens_per_s"].get<double>(),
                       rec["data_wait_frac"].get<double>(),
                       interval_time / interval_steps};
        log->info("{}", format_progress(p));
      }
      interval_loss = interval_time = interval_wait = 0;
      interval_steps = interval_tokens = 0;
    }
    if (log_step) src_sum.clear(), src_count.clear();

    const bool stop = dist::any_rank(group, stop_requested().load());
    const bool last = step >= tc.steps || (tc.max_tokens > 0 && tokens_seen >= tc.max_tokens);
    if (stop && !last) {
      log->warn("stop requested: saving step {} of stage '{}' and exiting (resume with --resume auto)", step,
                tc.stage);
      result.final_checkpoint = save(false);
      stopped = true;
      break;
    }
    if (!last && tc.checkpoint_interval > 0 && step % tc.checkpoint_interval == 0) result.final_checkpoint = save(false);
    if (!last && cfg.eval.interval > 0 && step % cfg.eval.interval == 0) run_eval();
  }

  if (!stopped) {
    run_eval();
    result.final_checkpoint = save(true);
    result.completed = true;
    if (main)
      log->info("stage '{}' done: {} steps, {} tokens, {} in this process, {} samples quarantined", tc.stage, step,
                format_count(static_cast<double>(tokens_seen)), format_duration(seconds_since(t_start)),
                quarantine->size());
  }
  result.steps_done = step;
  return result;
}

}  // namespace mm::train
