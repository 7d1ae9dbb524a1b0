// The train loop of one stage (trainer.h): a table of contents over stage_run.h and train_step.h.
#include "trainers/loop/trainer.h"

#include <csignal>

#include "core/logging.h"
#include "core/timer.h"
#include "data_pipeline/quarantine.h"
#include "dist/collectives.h"
#include "trainers/loop/recipe.h"
#include "trainers/loop/stage_run.h"
#include "trainers/lr_schedule.h"
#include "trainers/metrics/progress.h"

namespace mm::train {

std::atomic<bool>& stop_requested() {
  static std::atomic<bool> flag{false};
  return flag;
}

namespace {
extern "C" void on_stop_signal(int) { stop_requested().store(true); }
}  // namespace

void install_stop_handlers() {
  // Ctrl-C, schedulers (Slurm: SIGTERM, or SIGUSR1/SIGUSR2 with --signal), a closed terminal.
  for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGHUP}) std::signal(sig, on_stop_signal);
}

StageResult train_stage(const RunConfig& cfg, const dist::Group& group, const TrainOptions& opts) {
  const TrainConfig& tc = cfg.train;
  std::unique_ptr<StageRun> run = open_stage(cfg, group, opts);
  if (run->result.completed) return run->result;  // completed earlier: nothing to do
  TrainState& st = run->state;
  bool stopped = false;
  while (!run->finished()) {
    const Stopwatch step_time;
    const bool log_now = due(st.step + 1, tc.log_interval) || st.step + 1 == tc.steps;
    const MicroBatches mb = next_micro_batches(*run);
    const double lr = lr_at(run->schedule, cfg.optimizer.lr, st.step);
    const StepResult r =
        train_step(run->step, mb.model, mb.counts, lr, log_now ? run->metrics->source_losses(mb.batches) : nullptr);
    run->health->account(st.step + 1, r, [&] { return docs_summary(mb.batches); });
    ++st.step;
    st.tokens_seen += static_cast<int64_t>(r.global.tokens);
    st.samples_seen += static_cast<int64_t>(r.global.samples);
    int64_t batch_tiles = 0;  // the most image tiles of one micro-batch (metrics: max_batch_tiles)
    for (const auto& b : mb.batches) batch_tiles = std::max(batch_tiles, b.num_tiles());
    run->metrics->add_step(r, step_time.seconds(), mb.data_wait, batch_tiles);
    if (log_now) {
      run->metrics->log_interval(st.step, lr, r, st.tokens_seen, st.samples_seen, group);
      check_data_quality(*run);
    }

    const bool stop = dist::any_rank(group, stop_requested().load()), last = run->finished();
    if (stop && !last) {
      mm::log::get("trainer")->warn(
          "stop requested: saving step {} of stage '{}' and exiting (resume with --resume "
          "auto)",
          st.step, tc.stage);
      run->result.final_checkpoint = save_checkpoint(*run, /*complete=*/false);
      stopped = true;
      break;
    }
    if (!last && due(st.step, tc.checkpoint_interval)) run->result.final_checkpoint = save_checkpoint(*run, false);
    if (!last && due(st.step, cfg.eval.interval)) evaluate_stage(*run);
  }
  if (!stopped) {
    evaluate_stage(*run);
    run->result.final_checkpoint = save_checkpoint(*run, /*complete=*/true);
    run->result.completed = true;
    if (group.is_main())
      mm::log::get("trainer")->info("stage '{}' done: {} steps, {} tokens, {} in this process, {} samples quarantined",
                                    tc.stage, st.step, format_count(static_cast<double>(st.tokens_seen)),
                                    format_duration(run->started.seconds()), run->quarantine->size());
  }
  run->result.steps_done = st.step;
  run->result.first_loss = run->metrics->first_loss();
  run->result.last_loss = run->metrics->last_loss();
  return run->result;
}

}  // namespace mm::train
