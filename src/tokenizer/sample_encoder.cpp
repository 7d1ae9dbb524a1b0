#include "tokenizer/sample_encoder.h"

#include "core/check.h"

namespace mm::tok {

int64_t EncodedSample::loss_tokens() const {
  int64_t n = 0;
  for (int32_t l : labels) n += l != kIgnoreIndex ? 1 : 0;
  return n;
}

int64_t EncodedSample::tiles() const {
  int64_t n = 0;
  for (const auto& s : image_slots) n += static_cast<int64_t>(s.tile_starts.size());
  return n;
}

SampleEncoder::SampleEncoder(Tokenizer tok, int64_t tokens_per_tile)
    : tok_(std::move(tok)), tokens_per_tile_(tokens_per_tile) {
  MM_CHECK(tok_.loaded(), "SampleEncoder: tokenizer not loaded");
  MM_CHECK(tokens_per_tile_ > 0, "tokens per tile must be positive, got {}", tokens_per_tile_);
}

int64_t SampleEncoder::image_length(const ImageLayout& layout) const {
  int64_t n = 0;
  for (const auto& it : layout.items) {
    n += it.tile ? tokens_per_tile_ : static_cast<int64_t>(tok_.encode(it.marker).size());
  }
  return n;
}

int64_t SampleEncoder::length(const TemplatedSample& t, const std::vector<ImageLayout>& layouts) const {
  if (static_cast<int64_t>(layouts.size()) != t.num_images) {
    throw SampleError(fmt::format("{} image(s) but {} tile layout(s)", t.num_images, layouts.size()));
  }
  int64_t n = t.text_tokens;
  for (const auto& l : layouts) n += image_length(l);
  return n;
}

EncodedSample SampleEncoder::expand(const TemplatedSample& t, const std::vector<ImageLayout>& layouts) const {
  const int64_t total = length(t, layouts);
  EncodedSample e;
  e.tokens_per_tile = tokens_per_tile_;
  e.input_ids.reserve(total);
  e.labels.reserve(total);
  e.image_slots.resize(t.num_images);
  auto push = [&](int32_t id, bool loss) {
    e.input_ids.push_back(id);
    e.labels.push_back(loss ? id : kIgnoreIndex);
  };
  for (const auto& part : t.parts) {
    if (part.image < 0) {
      for (int32_t id : part.ids) push(id, part.loss);
      continue;
    }
    const ImageLayout& layout = layouts[part.image];
    MM_CHECK(layout.tiles() > 0, "image {}: layout without tiles", part.image);
    ImageSlots& slots = e.image_slots[part.image];
    slots.begin = e.size();
    for (const auto& it : layout.items) {
      if (it.tile) {
        slots.tile_starts.push_back(e.size());
        for (int64_t i = 0; i < tokens_per_tile_; ++i) push(tok_.image_id(), false);
      } else {
        for (int32_t id : tok_.encode(it.marker)) push(id, false);
      }
    }
    slots.end = e.size();
  }
  MM_CHECK(e.size() == total, "internal: expanded {} tokens, expected {}", e.size(), total);
  return e;
}

std::string render_with_loss(const Tokenizer& tok, const EncodedSample& e, const std::string& open,
                             const std::string& close) {
  MM_CHECK(e.input_ids.size() == e.labels.size(), "render_with_loss: {} ids but {} labels", e.input_ids.size(),
           e.labels.size());
  std::string out;
  bool in_loss = false;
  std::vector<int32_t> run;  // plain tokens waiting to be decoded together (keeps UTF-8 intact)
  auto flush = [&] {
    if (!run.empty()) out += tok.decode(run);
    run.clear();
  };
  for (size_t t = 0; t < e.input_ids.size(); ++t) {
    const int32_t id = e.input_ids[t];
    const bool loss = e.labels[t] != kIgnoreIndex;
    if (loss != in_loss) {
      flush();
      out += loss ? open : close;
      in_loss = loss;
    }
    if (tok.is_control(id) || id == tok.image_id()) {
      flush();
      out += tok.id_to_piece(id);
    } else {
      run.push_back(id);
    }
  }
  flush();
  if (in_loss) out += close;
  return out;
}

}  // namespace mm::tok
