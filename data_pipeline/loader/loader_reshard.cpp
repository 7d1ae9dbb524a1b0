#include "data_pipeline/loader/loader_reshard.h"

#include <algorithm>
#include <tuple>

#include "core/check.h"

namespace mm::data {
namespace {

struct Owed {
  int64_t position = 0;
  int32_t source = 0;
  int64_t index = 0;
  int64_t from = 0;  // first token still owed
  int64_t end = -1;  // one past the last token of this range; -1: to the end of the sample
  int rank = 0;      // old rank that owed it (for messages)
};

}  // namespace

std::vector<nlohmann::json> redistribute_loader_states(const std::vector<nlohmann::json>& states, int new_world,
                                                       const MixtureSampler& stream, ReshardSummary* summary) {
  const int W = static_cast<int>(states.size());
  MM_CHECK(W >= 1, "loader states: none to redistribute");
  MM_CHECK(new_world >= 1, "loader states: cannot redistribute to {} ranks", new_world);
  std::vector<Owed> owed;
  int furthest = 0;
  std::vector<int64_t> pos(W, 0);
  try {
    const nlohmann::json& first = states[0];
    for (int r = 0; r < W; ++r) {
      const nlohmann::json& st = states[r];
      MM_CHECK(st.is_object() && st.value("version", 0) == 1,
               "loader state of rank {}: expected an object with \"version\": 1", r);
      MM_CHECK(st.at("rank").get<int>() == r && st.at("world").get<int>() == W,
               "loader state {} of {}: saved by rank {} of {} (expected rank {} of {})", r, W, st.at("rank").dump(),
               st.at("world").dump(), r, W);
      for (const char* key : {"seq_len", "packing", "open_sequences"})
        MM_CHECK(st.at(key) == first.at(key), "loader state of rank {}: {} {} differs from rank 0's {}", r, key,
                 st.at(key).dump(), first.at(key).dump());
      pos[r] = st.at("sampler").at("position").get<int64_t>();
      if (pos[r] > pos[furthest]) furthest = r;
      auto add = [&](const nlohmann::json& j, bool to_end) {
        Owed o;
        o.position = j.at("position").get<int64_t>();
        o.source = j.at("source").get<int32_t>();
        o.index = j.at("index").get<int64_t>();
        o.from = j.at("from").get<int64_t>();
        o.end = to_end ? -1 : o.from + j.at("length").get<int64_t>();
        o.rank = r;
        owed.push_back(o);
      };
      for (const auto& seq : st.at("ready"))
        for (const auto& d : seq) add(d, false);
      for (const auto& d : st.at("open")) add(d, true);  // the tail of its sample
      if (st.contains("carry"))
        for (const auto& d : st.at("carry")) add(d, true);
    }
  } catch (const nlohmann::json::exception& e) {
    MM_FAIL("loader states: malformed JSON state ({})", e.what());
  }
  const int64_t pmax = pos[furthest];
  // Holes: rank r's next draws are P_r + r, P_r + r + W, ...; those below P_max were drawn by no one.
  int64_t holes = 0;
  for (int r = 0; r < W; ++r) {
    if (pos[r] >= pmax) continue;
    MixtureSampler s = stream;
    s.load_state(states[r].at("sampler"));
    for (int64_t q = pos[r]; q < pmax; ++q) {
      const MixtureDraw d = s.next();
      if ((q - pos[r]) % W != r) continue;
      owed.push_back({d.position, d.source, d.index, 0, -1, r});
      ++holes;
    }
  }
  std::sort(owed.begin(), owed.end(),
            [](const Owed& a, const Owed& b) { return std::tie(a.position, a.from) < std::tie(b.position, b.from); });
  // One entry per position: its owed ranges must be contiguous (a FIFO of chunks, then the tail).
  std::vector<Owed> merged;
  for (const Owed& o : owed) {
    if (!merged.empty() && merged.back().position == o.position) {
      Owed& m = merged.back();
      MM_CHECK(m.rank == o.rank && m.end == o.from,
               "loader states: stream position {} is owed twice or with a gap (tokens from {} by rank {}, from {} by "
               "rank {})",
               o.position, m.from, m.rank, o.from, o.rank);
      m.end = o.end;
      continue;
    }
    merged.push_back(o);
  }
  std::vector<nlohmann::json> carry(new_world, nlohmann::json::array());
  int64_t partial = 0;
  for (size_t i = 0; i < merged.size(); ++i) {
    const Owed& o = merged[i];
    partial += o.from > 0;
    carry[i % new_world].push_back(
        {{"position", o.position}, {"source", o.source}, {"index", o.index}, {"from", o.from}});
  }
  std::vector<nlohmann::json> out;
  const nlohmann::json& ref = states[furthest];
  for (int r = 0; r < new_world; ++r) {
    out.push_back({{"version", 1},
                   {"rank", r},
                   {"world", new_world},
                   {"seq_len", ref.at("seq_len")},
                   {"packing", ref.at("packing")},
                   {"open_sequences", ref.at("open_sequences")},
                   {"sampler", ref.at("sampler")},
                   {"ready", nlohmann::json::array()},
                   {"open", nlohmann::json::array()},
                   {"carry", std::move(carry[r])}});
  }
  if (summary) *summary = {W, new_world, static_cast<int64_t>(merged.size()), holes, partial, pmax};
  return out;
}

}  // namespace mm::data
