#include "data_pipeline/loader/loader.h"

#include <chrono>
#include <map>

#include "core/check.h"
#include "core/logging.h"
#include "core/timer.h"
#include "data_pipeline/formats/registry.h"
#include "data_pipeline/mixture/mixture_plan.h"
#include "data_pipeline/quarantine.h"

namespace mm::data {
namespace {

struct Stopped {};  // unwinds the assembler when the loader is destroyed

int64_t num_chunks(int64_t n, int64_t L) { return n <= L ? 1 : (n + L - 1) / L; }

}  // namespace

Loader::Loader(std::vector<std::shared_ptr<const Source>> sources, MixtureSampler sampler, SamplePipeline pipeline,
               LoaderConfig cfg, Quarantine* quarantine, int rank, int world, const nlohmann::json* state)
    : sources_(std::move(sources)),
      sampler_(std::move(sampler)),
      pipeline_(std::move(pipeline)),
      cfg_(cfg),
      quarantine_(quarantine),
      rank_(rank),
      world_(world) {
  MM_CHECK(cfg_.seq_len > 0 && cfg_.micro_batch > 0 && cfg_.workers > 0 && cfg_.prefetch > 0,
           "loader: seq_len, micro_batch, workers and prefetch must be positive");
  MM_CHECK(world_ >= 1 && rank_ >= 0 && rank_ < world_, "loader: rank {} outside world {}", rank_, world_);
  MM_CHECK(sources_.size() == sampler_.plan().sources.size(), "loader: {} sources for a mixture of {}", sources_.size(),
           sampler_.plan().sources.size());
  MM_CHECK(pipeline_.options().seq_len == cfg_.seq_len, "loader: pipeline seq_len {} != loader seq_len {}",
           pipeline_.options().seq_len, cfg_.seq_len);
  window_ = 4 * cfg_.workers + 4;
  packer_ = std::make_unique<Packer>(pack_options(cfg_.packing ? cfg_.open_sequences : 1));
  last_sampler_state_ = sampler_.state();
  if (state) restore(*state);
  consumer_state_ = snapshot();
  threads_.emplace_back([this] { assembler_loop(); });
  for (int64_t i = 0; i < cfg_.workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

Loader::~Loader() {
  {
    std::lock_guard<std::mutex> a(mu_);
    std::lock_guard<std::mutex> b(qmu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  result_cv_.notify_all();
  q_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

PackOptions Loader::pack_options(int64_t open_sequences) const {
  PackOptions o;
  o.seq_len = cfg_.seq_len;
  o.open_sequences = open_sequences;
  o.split_long_text = cfg_.split_long_text;
  o.pad_id = pipeline_.encoder().tokenizer().pad_id();
  return o;
}

std::shared_ptr<const EncodedItem> Loader::encode(const Draw& d) const {
  MM_CHECK(d.source >= 0 && d.source < static_cast<int32_t>(sources_.size()), "loader: source {} out of range",
           d.source);
  return std::make_shared<EncodedItem>(pipeline_.encode(*sources_[d.source], d.index));
}

void Loader::worker_loop() {
  for (;;) {
    Result r;
    int64_t seq = 0;
    {
      std::unique_lock<std::mutex> lk(mu_);
      work_cv_.wait(lk, [&] { return stop_ || next_seq_ < taken_seq_ + window_; });
      if (stop_) return;
      seq = next_seq_++;
      try {
        if (seq < static_cast<int64_t>(carry_.size())) {  // carried positions first; the sampler waits
          r.draw = carry_[seq].draw;
          r.from = carry_[seq].from;
          r.carried = true;
        } else {
          const MixtureDraw md = world_ == 1 ? sampler_.next() : sampler_.next_batch(world_, rank_, world_).front();
          r.draw = {md.position, md.source, md.index};
        }
        r.sampler_state = sampler_.state();
      } catch (...) {
        r.error = std::current_exception();
      }
    }
    if (!r.error) {
      try {
        r.item = encode(r.draw);
      } catch (...) {
        r.error = std::current_exception();
      }
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      results_[seq] = std::move(r);
    }
    result_cv_.notify_all();
  }
}

Loader::Result Loader::take_result() {
  std::unique_lock<std::mutex> lk(mu_);
  result_cv_.wait(lk, [&] { return stop_ || results_.count(taken_seq_) > 0; });
  if (stop_) throw Stopped{};
  auto it = results_.find(taken_seq_);
  Result r = std::move(it->second);
  results_.erase(it);
  ++taken_seq_;
  lk.unlock();
  work_cv_.notify_all();
  return r;
}

void Loader::add_to_packer(Packer& packer, const Draw& d, std::shared_ptr<const EncodedItem> item, int64_t from,
                           std::vector<int64_t>& id_map, int64_t len) {
  const tok::EncodedSample& s = item->sample;
  tok::EncodedSample part;
  const tok::EncodedSample* p = &s;
  if (from > 0 || (len >= 0 && len < s.size())) {  // a chunk of a long text-only sample (no images)
    MM_CHECK(s.image_slots.empty(), "loader: cannot resume a chunk of a sample with images ({})", item->id);
    const int64_t end = len < 0 ? s.size() : from + len;
    MM_CHECK(from >= 0 && end <= s.size() && from < end, "loader: chunk [{}, {}) outside sample {} of {} tokens", from,
             end, item->id, s.size());
    part.input_ids.assign(s.input_ids.begin() + from, s.input_ids.begin() + end);
    part.labels.assign(s.labels.begin() + from, s.labels.begin() + end);
    part.tokens_per_tile = s.tokens_per_tile;
    p = &part;
  }
  std::string reason;
  const int64_t pid = packer.add(*p, &reason);
  if (pid < 0) {
    if (quarantine_) quarantine_->add({item->source, item->id, QuarantineKind::Other, "packing: " + reason});
    return;
  }
  MM_CHECK(pid == static_cast<int64_t>(id_map.size()), "loader: packer id {} out of order", pid);
  const int64_t uid = next_uid_++;
  id_map.push_back(uid);
  Live lv;
  lv.draw = d;
  lv.item = std::move(item);
  lv.base = from;
  const int64_t chunks = num_chunks(p->size(), cfg_.seq_len);
  lv.emitted.assign(chunks, 0);
  lv.pending = chunks;
  live_.emplace(uid, std::move(lv));
}

void Loader::collect(Packer& packer, const std::vector<int64_t>& id_map) {
  for (PackedSequence& seq : packer.take()) {
    for (PackedDoc& d : seq.docs) {
      d.sample = id_map.at(d.sample);
      live_.at(d.sample).emitted.at(d.chunk) = 1;
    }
    for (PackedImage& im : seq.images) im.sample = id_map.at(im.sample);
    ready_.push_back(std::move(seq));
  }
}

void Loader::assembler_loop() {
  const int64_t B = cfg_.micro_batch;
  const int64_t M = pipeline_.encoder().tokens_per_tile();
  const int64_t r = pipeline_.options().image.tile_size;
  auto lookup = [this](int64_t uid) {
    const Live& lv = live_.at(uid);
    return DocInfo{lv.draw.position, &lv.item->source, &lv.item->id, &lv.item->tiles};
  };
  try {
    for (;;) {
      while (static_cast<int64_t>(ready_.size()) < B) {
        Result res = take_result();
        if (res.error) std::rethrow_exception(res.error);
        last_sampler_state_ = std::move(res.sampler_state);
        if (res.carried) ++carry_taken_;
        if (!res.item->ok()) {
          if (quarantine_) quarantine_->add(*res.item->error);
          continue;
        }
        add_to_packer(*packer_, res.draw, res.item, res.from, packer_ids_);
        if (!cfg_.packing) packer_->flush();  // one sample per sequence
        collect(*packer_, packer_ids_);
      }
      std::vector<PackedSequence> seqs;
      for (int64_t i = 0; i < B; ++i) {
        seqs.push_back(std::move(ready_.front()));
        ready_.pop_front();
      }
      Slot slot;
      slot.batch = collate_batch(seqs, lookup, M, r, cfg_.pin_batches);
      for (const PackedSequence& s : seqs) {
        for (const PackedDoc& d : s.docs) {
          auto it = live_.find(d.sample);
          if (--it->second.pending == 0) live_.erase(it);
        }
      }
      slot.state = snapshot();
      std::unique_lock<std::mutex> lk(qmu_);
      q_cv_.wait(lk, [&] { return stop_ || static_cast<int64_t>(queue_.size()) < cfg_.prefetch; });
      if (stop_) return;
      queue_.push_back(std::move(slot));
      lk.unlock();
      q_cv_.notify_all();
    }
  } catch (const Stopped&) {
    return;
  } catch (...) {
    Slot slot;
    slot.error = std::current_exception();
    {
      std::lock_guard<std::mutex> lk(qmu_);
      queue_.push_back(std::move(slot));
    }
    q_cv_.notify_all();
  }
}

Batch Loader::next() {
  const Stopwatch watch;
  std::unique_lock<std::mutex> lk(qmu_);
  q_cv_.wait(lk, [&] { return !queue_.empty(); });
  if (queue_.front().error) std::rethrow_exception(queue_.front().error);  // stays: later calls fail too
  Slot slot = std::move(queue_.front());
  queue_.pop_front();
  consumer_state_ = std::move(slot.state);
  lk.unlock();
  q_cv_.notify_all();
  const double wait = watch.seconds();
  slot.batch.data_wait_s = wait;
  total_wait_s_ += wait;
  ++batches_;
  return std::move(slot.batch);
}

nlohmann::json Loader::state() const {
  std::lock_guard<std::mutex> lk(qmu_);
  return consumer_state_;
}

nlohmann::json Loader::snapshot() const {
  auto doc_json = [](const Draw& d, int64_t from, int64_t len) {
    return nlohmann::json{
        {"position", d.position}, {"source", d.source}, {"index", d.index}, {"from", from}, {"length", len}};
  };
  nlohmann::json ready = nlohmann::json::array();
  for (const PackedSequence& s : ready_) {
    nlohmann::json docs = nlohmann::json::array();
    for (const PackedDoc& d : s.docs) {
      const Live& lv = live_.at(d.sample);
      docs.push_back(doc_json(lv.draw, lv.base + d.chunk * cfg_.seq_len, d.length));
    }
    ready.push_back(std::move(docs));
  }
  nlohmann::json open = nlohmann::json::array();
  for (const auto& [uid, lv] : live_) {
    for (size_t c = 0; c < lv.emitted.size(); ++c) {
      if (lv.emitted[c]) continue;
      const int64_t from = lv.base + static_cast<int64_t>(c) * cfg_.seq_len;
      open.push_back(doc_json(lv.draw, from, lv.item->sample.size() - from));
    }
  }
  nlohmann::json st = {{"version", 1},
                       {"rank", rank_},
                       {"world", world_},
                       {"seq_len", cfg_.seq_len},
                       {"packing", cfg_.packing},
                       {"open_sequences", cfg_.open_sequences},
                       {"sampler", last_sampler_state_},
                       {"ready", std::move(ready)},
                       {"open", std::move(open)}};
  if (carry_taken_ < static_cast<int64_t>(carry_.size())) {
    nlohmann::json carry = nlohmann::json::array();
    for (size_t i = static_cast<size_t>(carry_taken_); i < carry_.size(); ++i) {
      const Carry& c = carry_[i];
      carry.push_back(
          {{"position", c.draw.position}, {"source", c.draw.source}, {"index", c.draw.index}, {"from", c.from}});
    }
    st["carry"] = std::move(carry);
  }
  return st;
}

void Loader::restore(const nlohmann::json& st) {
  MM_CHECK(st.is_object() && st.value("version", 0) == 1, "loader state: expected an object with \"version\": 1");
  MM_CHECK(st.at("seq_len").get<int64_t>() == cfg_.seq_len && st.at("packing").get<bool>() == cfg_.packing &&
               st.at("open_sequences").get<int64_t>() == cfg_.open_sequences,
           "loader state: saved with seq_len {} packing {} open_sequences {}, the config has {} {} {}",
           st.at("seq_len").dump(), st.at("packing").dump(), st.at("open_sequences").dump(), cfg_.seq_len, cfg_.packing,
           cfg_.open_sequences);
  MM_CHECK(st.at("rank").get<int>() == rank_ && st.at("world").get<int>() == world_,
           "loader state: saved by rank {} of {}, resumed as rank {} of {}", st.at("rank").dump(),
           st.at("world").dump(), rank_, world_);
  sampler_.load_state(st.at("sampler"));
  last_sampler_state_ = st.at("sampler");
  auto draw_of = [](const nlohmann::json& j) {
    return Draw{j.at("position").get<int64_t>(), j.at("source").get<int32_t>(), j.at("index").get<int64_t>()};
  };
  auto item_of = [&](const Draw& d) {
    auto item = encode(d);
    MM_CHECK(item->ok(), "loader state: sample {} of source {} no longer encodes: {}", d.index, d.source,
             item->error->reason);
    return item;
  };
  // Ready sequences: each rebuilt alone from its documents, in order.
  for (const auto& docs : st.at("ready")) {
    Packer one(pack_options(1));
    std::vector<int64_t> ids;
    for (const auto& j : docs) {
      const Draw d = draw_of(j);
      add_to_packer(one, d, item_of(d), j.at("from").get<int64_t>(), ids, j.at("length").get<int64_t>());
    }
    one.flush();
    const size_t before = ready_.size();
    collect(one, ids);
    MM_CHECK(ready_.size() == before + 1, "loader state: a ready sequence did not rebuild as one sequence");
  }
  // Open sequences: re-adding their documents in stream order rebuilds them exactly (first-fit
  // only ever saw these documents in those sequences).
  for (const auto& j : st.at("open")) {
    const Draw d = draw_of(j);
    add_to_packer(*packer_, d, item_of(d), j.at("from").get<int64_t>(), packer_ids_);
  }
  MM_CHECK(packer_->take().empty(), "loader state: replaying the open documents completed a sequence");
  // Redistributed positions (redistribute_loader_states): drawn by the workers before the sampler.
  if (st.contains("carry")) {
    for (const auto& j : st.at("carry")) {
      carry_.push_back({draw_of(j), j.at("from").get<int64_t>()});
      MM_CHECK(carry_.back().from >= 0, "loader state: carry entry at position {} owes tokens from {}",
               carry_.back().draw.position, carry_.back().from);
    }
  }
}

std::vector<std::pair<std::string, int64_t>> Loader::source_records() const {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& s : sources_) out.emplace_back(s->config().name, static_cast<int64_t>(s->size()));
  return out;
}

std::vector<std::pair<std::string, double>> check_bad_fraction(const Loader& loader, const Quarantine& quarantine,
                                                               double max_fraction) {
  std::map<std::string, int64_t> bad;
  for (const auto& e : quarantine.entries()) ++bad[e.source];
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [name, held] : loader.source_records()) {
    const int64_t b = bad.count(name) ? bad.at(name) : 0;
    const double fraction = b > 0 ? double(b) / double(b + held) : 0.0;
    out.emplace_back(name, fraction);
    if (fraction <= max_fraction) continue;
    throw mm::Error(
        fmt::format("data source '{}': {} of {} records are quarantined ({:.1f}% > data.max_bad_fraction "
                    "{:.1f}%); see quarantine.jsonl or run `mmtrain data lint`, fix the data or raise "
                    "data.max_bad_fraction",
                    name, b, b + held, 100.0 * fraction, 100.0 * max_fraction));
  }
  return out;
}

std::unique_ptr<Loader> make_loader(const std::vector<SourceConfig>& sources, const MixtureConfig& mixture,
                                    const ImageConfig& image, const tok::Tokenizer& tokenizer, int64_t tokens_per_tile,
                                    const LoaderConfig& cfg, Quarantine* quarantine, int rank, int world,
                                    const nlohmann::json* state, ReshardSummary* reshard) {
  std::vector<std::shared_ptr<const Source>> opened;
  std::vector<int64_t> sizes;
  for (const SourceConfig& sc : sources) {
    opened.push_back(open_source(sc, quarantine));
    sizes.push_back(static_cast<int64_t>(opened.back()->size()));
    MM_CHECK(sizes.back() > 0, "data source '{}' ({}): no valid records", sc.name, sc.path);
  }
  MixtureSamplerOptions so;
  so.seed = cfg.seed;
  so.sampling = mixture.sampling;
  so.batch_size = mixture.batch_size > 0 ? mixture.batch_size : cfg.micro_batch * world;
  MixtureSampler sampler(compute_mixture_plan(mixture, sources), sizes, so);
  SamplePipelineOptions po;
  po.image = image;
  po.seq_len = cfg.seq_len;
  po.split_long_text = cfg.split_long_text;
  SamplePipeline pipeline(tok::SampleEncoder(tokenizer, tokens_per_tile), po);
  if (state && state->is_array()) {  // every rank's state from a run with another rank count
    const std::vector<nlohmann::json> old(state->begin(), state->end());
    const std::vector<nlohmann::json> mine = redistribute_loader_states(old, world, sampler, reshard);
    return std::make_unique<Loader>(std::move(opened), std::move(sampler), std::move(pipeline), cfg, quarantine, rank,
                                    world, &mine.at(static_cast<size_t>(rank)));
  }
  return std::make_unique<Loader>(std::move(opened), std::move(sampler), std::move(pipeline), cfg, quarantine, rank,
                                  world, state);
}

}  // namespace mm::data
