// SampleEncoder: a sample's turns + per-image layouts -> EncodedSample {input_ids, labels, image slots}.
// Image placeholders expand to tiles x tokens_per_tile image-slot tokens plus the layout's
// position indicators; image tokens never carry loss.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/image_layout.h"
#include "tokenizer/tokenizer.h"

namespace mm::tok {

inline constexpr int32_t kIgnoreIndex = -100;  // label of tokens without loss

// Where one image sits in a sample's tokens.
struct ImageSlots {
  int64_t begin = 0;                 // first token of the image's run (markers included)
  int64_t end = 0;                   // one past its last token
  std::vector<int64_t> tile_starts;  // first slot of each tile, tile order (overview last)
};

// One tokenised sample. Labels are aligned with input_ids (not shifted): labels[t] is input_ids[t]
// where token t carries loss, else kIgnoreIndex. The trainer shifts (logits[t] predicts labels[t+1]).
struct EncodedSample {
  std::vector<int32_t> input_ids;       // (T)
  std::vector<int32_t> labels;          // (T)
  std::vector<ImageSlots> image_slots;  // per image, in image order
  int64_t tokens_per_tile = 0;          // slots per tile (the connector's M)

  int64_t size() const { return static_cast<int64_t>(input_ids.size()); }
  int64_t loss_tokens() const;
  int64_t tiles() const;
};

class SampleEncoder {
 public:
  SampleEncoder(Tokenizer tok, int64_t tokens_per_tile);

  const Tokenizer& tokenizer() const { return tok_; }
  int64_t tokens_per_tile() const { return tokens_per_tile_; }

  // Step 1: the template (text tokens; independent of the images' layouts). Throws SampleError.
  // `Sample`: anything with `turns` and `images` (data::RawSample).
  template <class Sample>
  TemplatedSample templated(const Sample& s) const {
    return apply_chat_template(tok_, s.turns, s.images.size());
  }
  // Tokens one image occupies with `layout`, markers included.
  int64_t image_length(const ImageLayout& layout) const;
  // Total length of `t` with these layouts (one per image), without building it.
  int64_t length(const TemplatedSample& t, const std::vector<ImageLayout>& layouts) const;
  // Step 2: expand the image placeholders. Throws SampleError when layouts.size() != images.
  EncodedSample expand(const TemplatedSample& t, const std::vector<ImageLayout>& layouts) const;
  // Both steps.
  template <class Sample>
  EncodedSample encode(const Sample& s, const std::vector<ImageLayout>& layouts) const {
    return expand(templated(s), layouts);
  }

 private:
  Tokenizer tok_;
  int64_t tokens_per_tile_;
};

// The sample as text with every loss-carrying span wrapped in `open` ... `close`; bos/eos/pad as
// their pieces, each image slot as the image token. For tests and `data lint` style inspection.
std::string render_with_loss(const Tokenizer& tok, const EncodedSample& e, const std::string& open = "[[",
                             const std::string& close = "]]");

}  // namespace mm::tok
