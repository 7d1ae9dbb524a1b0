// Loader: the training data stream. Worker threads encode the samples of the mixture stream by
// index into a reorder buffer; one assembler thread packs them in stream order into sequences
// and batches, pushed into a bounded prefetch queue. Batches are identical for any worker count;
// state() after a batch restores the exact continuation (sampler state + packer carry-over).
#pragma once
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/config/loader_config.h"
#include "core/config/mixture_config.h"
#include "data_pipeline/formats/source.h"
#include "data_pipeline/loader/batch.h"
#include "data_pipeline/loader/loader_reshard.h"
#include "data_pipeline/loader/sample_pipeline.h"
#include "data_pipeline/mixture/mixture_sampler.h"

namespace mm::data {

class Quarantine;

class Loader {
 public:
  // sources: in the sampler's plan order. quarantine (optional, must outlive the loader) receives
  // every dropped sample in stream order. rank/world: this rank takes positions rank, rank +
  // world, ... of the global stream. state: a Loader::state() to resume from (null: the start),
  // saved by this rank and world, or made for them by redistribute_loader_states (its "carry"
  // entries are delivered first, then the stream goes on from the saved sampler position).
  Loader(std::vector<std::shared_ptr<const Source>> sources, MixtureSampler sampler, SamplePipeline pipeline,
         LoaderConfig cfg, Quarantine* quarantine = nullptr, int rank = 0, int world = 1,
         const nlohmann::json* state = nullptr);
  ~Loader();  // stops and joins every thread, whatever they are waiting on
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch (the stream is endless: sources restart in new epochs). Blocks while the
  // prefetch queue is empty; that time is the batch's data_wait_s. Rethrows a worker's error.
  Batch next();

  // Resume point after the last batch next() returned: {"sampler": mixture state, "ready": the
  // packed sequences not yet batched, "open": the documents waiting in open sequences, "carry"
  // (only while some are left): redistributed positions not yet drawn, ...}.
  nlohmann::json state() const;

  // Each source's name and the records it holds (those that passed the checks at open).
  std::vector<std::pair<std::string, int64_t>> source_records() const;

  double total_wait_s() const { return total_wait_s_; }  // sum of data_wait_s so far
  int64_t batches() const { return batches_; }           // batches returned by next()
  const LoaderConfig& config() const { return cfg_; }

 private:
  struct Draw {
    int64_t position = 0;
    int32_t source = 0;
    int64_t index = 0;
  };
  struct Result {  // one encoded stream position (reorder buffer entry)
    Draw draw;
    std::shared_ptr<const EncodedItem> item;
    nlohmann::json sampler_state;  // the sampler's state just after this draw
    int64_t from = 0;              // first token to pack (> 0: the owed tail of a long text)
    bool carried = false;          // an entry of carry_, not a sampler draw
    std::exception_ptr error;      // a bug (not bad data) in the worker
  };
  struct Live {  // a sample (or tail of one) inside the packer or the ready list
    Draw draw;
    std::shared_ptr<const EncodedItem> item;
    int64_t base = 0;           // first token of the item added to the packer
    std::vector<char> emitted;  // per chunk: its sequence left the packer
    int64_t pending = 0;        // chunks not yet delivered in a batch
  };
  struct Slot {  // a prefetched batch with the state after it
    Batch batch;
    nlohmann::json state;
    std::exception_ptr error;
  };

  void worker_loop();
  void assembler_loop();
  Result take_result();  // next stream position, in order (blocks)
  // Adds tokens [from, from + len) of item (len < 0: to the end) as one packer sample.
  void add_to_packer(Packer& packer, const Draw& d, std::shared_ptr<const EncodedItem> item, int64_t from,
                     std::vector<int64_t>& id_map, int64_t len = -1);
  void collect(Packer& packer, const std::vector<int64_t>& id_map);  // packer.take() -> ready_
  void restore(const nlohmann::json& state);
  nlohmann::json snapshot() const;  // assembler-side state (after the last batch built)
  std::shared_ptr<const EncodedItem> encode(const Draw& d) const;
  PackOptions pack_options(int64_t open_sequences) const;

  std::vector<std::shared_ptr<const Source>> sources_;
  MixtureSampler sampler_;
  SamplePipeline pipeline_;
  LoaderConfig cfg_;
  Quarantine* quarantine_;
  int rank_, world_;

  // Redistributed positions delivered before the sampler's (restore; read-only afterwards).
  struct Carry {
    Draw draw;
    int64_t from = 0;
  };
  std::vector<Carry> carry_;
  int64_t carry_taken_ = 0;  // entries the assembler has consumed (assembler side)

  // Worker side (mu_).
  std::mutex mu_;
  std::condition_variable work_cv_, result_cv_;
  int64_t next_seq_ = 0;   // next stream slot handed to a worker
  int64_t taken_seq_ = 0;  // next slot the assembler consumes
  int64_t window_ = 0;     // slots encoded ahead of the assembler
  std::map<int64_t, Result> results_;

  // Assembler side (its thread only, and the constructor before threads start).
  std::unique_ptr<Packer> packer_;
  std::vector<int64_t> packer_ids_;  // packer sample id -> live uid
  std::map<int64_t, Live> live_;     // uid -> sample
  int64_t next_uid_ = 0;
  std::deque<PackedSequence> ready_;  // complete sequences (doc/image .sample = uid)
  nlohmann::json last_sampler_state_;

  // Batch queue (qmu_).
  mutable std::mutex qmu_;
  std::condition_variable q_cv_;
  std::deque<Slot> queue_;
  nlohmann::json consumer_state_;  // state after the last batch next() returned

  bool stop_ = false;  // guarded by mu_ and qmu_ (set under both)
  std::vector<std::thread> threads_;
  double total_wait_s_ = 0.0;
  int64_t batches_ = 0;
};

// Opens every source (their open-time issues go to `quarantine`), resolves the mixture and
// builds a Loader whose stream seed is cfg.seed. tokens_per_tile is the connector's M.
// state: this rank's Loader::state(), or a JSON array of every rank's state from a run with
// another number of ranks: it is redistributed to `world` ranks (redistribute_loader_states,
// same result on every rank) and *reshard (when given) says what was carried over.
std::unique_ptr<Loader> make_loader(const std::vector<SourceConfig>& sources, const MixtureConfig& mixture,
                                    const ImageConfig& image, const tok::Tokenizer& tokenizer, int64_t tokens_per_tile,
                                    const LoaderConfig& cfg, Quarantine* quarantine = nullptr, int rank = 0,
                                    int world = 1, const nlohmann::json* state = nullptr,
                                    ReshardSummary* reshard = nullptr);

// data.max_bad_fraction applied to a training's sources: throws mm::Error (one line naming the
// source, its bad and total records, the threshold and the way out) when the records of a source of
// `loader` quarantined so far in `quarantine` exceed `max_fraction` of all its records
// (bad / (bad + held)). Call it after make_loader (open-time problems: malformed records) and again
// as training goes (read-time problems, e.g. missing images, are found as records are drawn; the
// count only grows, so a later call never clears an earlier verdict). Returns the fractions.
std::vector<std::pair<std::string, double>> check_bad_fraction(const Loader& loader, const Quarantine& quarantine,
                                                               double max_fraction);

}  // namespace mm::data
