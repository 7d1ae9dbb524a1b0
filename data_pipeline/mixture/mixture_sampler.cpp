#include "data_pipeline/mixture/mixture_sampler.h"

#include <algorithm>

#include "core/check.h"
#include "core/hash.h"
#include "data_pipeline/mixture/counter_rng.h"

namespace mm::data {

namespace {
constexpr uint64_t kStreamSource = 0x5eed0001;  // which source a position draws from
constexpr uint64_t kStreamPhase = 0x5eed0002;   // per-batch systematic-sampling phase
constexpr uint64_t kStreamSlots = 0x5eed0003;   // per-batch slot shuffle
constexpr uint64_t kStreamEpoch = 0x5eed0004;   // per-(source, epoch) record shuffle
}  // namespace

MixtureSampler::MixtureSampler(MixturePlan plan, std::vector<int64_t> sizes, MixtureSamplerOptions options)
    : plan_(std::move(plan)), sizes_(std::move(sizes)), options_(std::move(options)) {
  MM_CHECK(sizes_.size() == plan_.sources.size(), "mixture sampler: {} sizes for {} sources", sizes_.size(),
           plan_.sources.size());
  MM_CHECK(options_.sampling == "random" || options_.sampling == "per_batch",
           "mixture.sampling: expected random or per_batch, got '{}'", options_.sampling);
  MM_CHECK(options_.sampling != "per_batch" || options_.batch_size > 0,
           "mixture.batch_size: per_batch sampling needs the global batch size (> 0)");
  double acc = 0;
  for (size_t i = 0; i < sizes_.size(); ++i) {
    MM_CHECK(sizes_[i] > 0 || plan_.sources[i].share == 0, "mixture: source '{}' has no records",
             plan_.sources[i].name);
    acc += plan_.sources[i].share;
    cumulative_.push_back(acc);
    name_keys_.push_back(fnv1a64(plan_.sources[i].name));
  }
  MM_CHECK(acc > 0, "mixture: every source has share 0");
  for (double& c : cumulative_) c /= acc;
  cumulative_.back() = 1.0;
  consumed_.assign(sizes_.size(), 0);
}

int32_t MixtureSampler::lookup(double u) const {
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
  int32_t s = static_cast<int32_t>(std::min<size_t>(it - cumulative_.begin(), cumulative_.size() - 1));
  // A zero-share source has an empty interval; upper_bound never lands on it.
  return s;
}

int32_t MixtureSampler::source_at(int64_t position) const {
  const auto p = static_cast<uint64_t>(position);
  if (options_.sampling == "random") return lookup(to_unit(hash3(options_.seed, kStreamSource, p)));
  // per_batch: systematic sampling inside each global batch of B slots (slot j covers
  // u = (j + phase) / B), so every source gets floor or ceil of B * share, and the slots are
  // shuffled so no rank or position is tied to a source.
  const auto B = static_cast<uint64_t>(options_.batch_size);
  const uint64_t batch = p / B, j = p % B;
  const double phase = to_unit(hash3(options_.seed, kStreamPhase, batch));
  const uint64_t slot = FeistelPermutation(B, hash3(options_.seed, kStreamSlots, batch)).at(j);
  return lookup((static_cast<double>(slot) + phase) / static_cast<double>(B));
}

int64_t MixtureSampler::record_index(int32_t source, int64_t k) const {
  const int64_t n = sizes_[source];
  const int64_t epoch = k / n;
  const FeistelPermutation perm(static_cast<uint64_t>(n),
                                hash3(options_.seed ^ name_keys_[source], kStreamEpoch, static_cast<uint64_t>(epoch)));
  return static_cast<int64_t>(perm.at(static_cast<uint64_t>(k % n)));
}

MixtureDraw MixtureSampler::next() {
  MixtureDraw d;
  d.position = position_;
  d.source = source_at(position_);
  const int64_t k = consumed_[d.source]++;
  d.epoch = k / sizes_[d.source];
  d.index = record_index(d.source, k);
  ++position_;
  return d;
}

std::vector<MixtureDraw> MixtureSampler::next_batch(int64_t global_batch, int rank, int world) {
  MM_CHECK(world >= 1 && rank >= 0 && rank < world, "mixture sampler: rank {} of world {}", rank, world);
  MM_CHECK(global_batch >= world && global_batch % world == 0,
           "mixture sampler: global batch {} must be a positive multiple of the {} ranks", global_batch, world);
  std::vector<MixtureDraw> mine;
  mine.reserve(static_cast<size_t>(global_batch / world));
  for (int64_t j = 0; j < global_batch; ++j) {
    MixtureDraw d = next();  // every rank walks the whole batch to keep the cursors global
    if (j % world == rank) mine.push_back(d);
  }
  return mine;
}

nlohmann::ordered_json MixtureSampler::state() const {
  nlohmann::ordered_json j;
  j["seed"] = options_.seed;
  j["position"] = position_;
  j["sampling"] = options_.sampling;
  j["batch_size"] = options_.batch_size;
  j["sources"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < sizes_.size(); ++i)
    j["sources"].push_back({{"name", plan_.sources[i].name}, {"size", sizes_[i]}, {"consumed", consumed_[i]}});
  return j;
}

void MixtureSampler::load_state(const nlohmann::json& j) {
  try {
    const auto& src = j.at("sources");
    MM_CHECK(src.size() == sizes_.size(), "mixture state: {} sources saved, {} configured", src.size(), sizes_.size());
    std::vector<int64_t> consumed(sizes_.size(), -1);
    for (const auto& s : src) {
      const std::string name = s.at("name").get<std::string>();
      size_t i = 0;
      while (i < plan_.sources.size() && plan_.sources[i].name != name) ++i;
      MM_CHECK(i < plan_.sources.size(), "mixture state: saved source '{}' is not in the mixture", name);
      MM_CHECK(s.at("size").get<int64_t>() == sizes_[i],
               "mixture state: source '{}' had {} records when saved, has {} now (the stream would differ)", name,
               s.at("size").get<int64_t>(), sizes_[i]);
      consumed[i] = s.at("consumed").get<int64_t>();
    }
    options_.seed = j.at("seed").get<uint64_t>();
    options_.sampling = j.at("sampling").get<std::string>();
    options_.batch_size = j.at("batch_size").get<int64_t>();
    position_ = j.at("position").get<int64_t>();
    consumed_ = consumed;
  } catch (const nlohmann::json::exception& e) {
    MM_FAIL("mixture state: malformed JSON state ({})", e.what());
  }
}

}  // namespace mm::data
