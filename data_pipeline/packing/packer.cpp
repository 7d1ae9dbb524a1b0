#include "data_pipeline/packing/packer.h"

#include "core/check.h"

namespace mm::data {

Packer::Packer(const PackOptions& opts) : opts_(opts) {
  MM_CHECK(opts_.seq_len > 0, "packing: sequence length must be positive, got {}", opts_.seq_len);
  MM_CHECK(opts_.open_sequences >= 1, "packing: open_sequences must be >= 1, got {}", opts_.open_sequences);
}

int64_t Packer::add(const tok::EncodedSample& s, std::string* reason) {
  const int64_t L = opts_.seq_len;
  const int64_t n = s.size();
  auto reject = [&](std::string why) -> int64_t {
    ++stats_.rejected;
    if (reason) *reason = std::move(why);
    return -1;
  };
  MM_CHECK(s.labels.size() == s.input_ids.size(), "packing: sample with {} ids but {} labels", n, s.labels.size());
  if (n == 0) return reject("empty sample");
  if (n > L && !s.image_slots.empty()) {
    return reject(fmt::format("{} tokens with {} image(s) exceed the sequence length {} (image tokens are never cut)",
                              n, s.image_slots.size(), L));
  }
  if (n > L && !opts_.split_long_text) {
    return reject(fmt::format("text-only sample of {} tokens exceeds the sequence length {}", n, L));
  }
  const int64_t id = next_sample_++;
  ++stats_.samples;
  // Text-only samples longer than L: full L-token chunks fill sequences of their own, the rest is
  // packed like any sample.
  int64_t from = 0, chunk = 0;
  for (; n - from > L; from += L, ++chunk) {
    PackedSequence seq;
    place(seq, s, from, L, id, chunk);
    finish(std::move(seq));
  }
  place_first_fit(s, from, n - from, id, chunk);
  return id;
}

void Packer::place_first_fit(const tok::EncodedSample& s, int64_t from, int64_t len, int64_t sample, int64_t chunk) {
  for (auto it = open_.begin(); it != open_.end(); ++it) {
    if (it->used + len <= opts_.seq_len) {
      place(*it, s, from, len, sample, chunk);
      if (it->used == opts_.seq_len) {  // full: nothing else can join it
        finish(std::move(*it));
        open_.erase(it);
      }
      return;
    }
  }
  if (static_cast<int64_t>(open_.size()) >= opts_.open_sequences) {
    finish(std::move(open_.front()));
    open_.pop_front();
  }
  open_.emplace_back();
  place(open_.back(), s, from, len, sample, chunk);
  if (open_.back().used == opts_.seq_len) {
    finish(std::move(open_.back()));
    open_.pop_back();
  }
}

void Packer::place(PackedSequence& seq, const tok::EncodedSample& s, int64_t from, int64_t len, int64_t sample,
                   int64_t chunk) {
  const int64_t begin = seq.used;
  const int32_t doc = static_cast<int32_t>(seq.docs.size());
  for (int64_t t = 0; t < len; ++t) {
    seq.input_ids.push_back(s.input_ids[from + t]);
    // The first token of a document is never a target: the shifted loss would predict it from
    // the previous document's last token.
    seq.labels.push_back(t == 0 ? tok::kIgnoreIndex : s.labels[from + t]);
    seq.positions.push_back(static_cast<int32_t>(t));
    seq.doc_ids.push_back(doc);
  }
  seq.docs.push_back({sample, chunk, begin, len});
  for (size_t k = 0; k < s.image_slots.size(); ++k) {
    const auto& im = s.image_slots[k];
    MM_CHECK(im.begin >= from && im.end <= from + len, "packing: image {} of sample {} would be split", k, sample);
    PackedImage p{sample, static_cast<int64_t>(k), begin + im.begin - from, begin + im.end - from, {}};
    for (int64_t st : im.tile_starts) p.tile_starts.push_back(begin + st - from);
    seq.images.push_back(std::move(p));
  }
  seq.used += len;
  ++stats_.docs;
}

void Packer::finish(PackedSequence&& seq) {
  const int64_t L = opts_.seq_len;
  stats_.real_tokens += seq.used;
  stats_.capacity += L;
  ++stats_.sequences;
  seq.input_ids.resize(L, opts_.pad_id);
  seq.labels.resize(L, tok::kIgnoreIndex);
  seq.positions.resize(L, 0);
  seq.doc_ids.resize(L, -1);
  done_.push_back(std::move(seq));
}

std::vector<PackedSequence> Packer::take() {
  std::vector<PackedSequence> out;
  out.swap(done_);
  return out;
}

void Packer::flush() {
  while (!open_.empty()) {
    finish(std::move(open_.front()));
    open_.pop_front();
  }
}

std::vector<PackedSequence> pack_samples(const std::vector<tok::EncodedSample>& samples, const PackOptions& opts,
                                         PackStats* stats, std::vector<std::pair<int64_t, std::string>>* rejected) {
  Packer packer(opts);
  std::string reason;
  for (size_t i = 0; i < samples.size(); ++i) {
    if (packer.add(samples[i], &reason) < 0 && rejected) rejected->push_back({static_cast<int64_t>(i), reason});
  }
  packer.flush();
  if (stats) *stats = packer.stats();
  return packer.take();
}

}  // namespace mm::data
