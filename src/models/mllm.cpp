// MultimodalModel forward: encode tiles, scatter image tokens at the image slots, decode, loss.
#include "models/mllm.h"

#include "core/check.h"
#include "models/layer_hooks.h"
#include "models/llm/lm_loss.h"

namespace mm {

torch::Tensor MultimodalOutput::loss() const {
  auto ce = loss_sum / loss_count.clamp_min(1).to(loss_sum.scalar_type());
  return ce + aux_loss + z_loss;
}

MultimodalModelImpl::MultimodalModelImpl(const ModelConfig& cfg) : cfg_(cfg) {
  vision = register_module("vision", vision::VisionTransformer(cfg.vision, cfg.activation_checkpointing));
  connector = register_module("connector",
                              connectors::build_connector(cfg.connector, cfg.vision.width,
                                                          cfg.vision.image_size / cfg.vision.patch_size, cfg.llm.dim));
  llm = register_module("llm", llm::Decoder(cfg.llm, cfg.activation_checkpointing));
}

void MultimodalModelImpl::set_activation_checkpointing(bool on) {
  cfg_.activation_checkpointing = on;
  vision->set_activation_checkpointing(on);
  llm->activation_checkpointing = on;
}

torch::Tensor MultimodalModelImpl::encode_images(const torch::Tensor& tiles) {
  auto features = vision->forward(tiles);  // (N, P, D)
  return run_unit(
      "connector", [&] { return connector->parameters(); },
      [&] { return std::vector<torch::Tensor>{connector->forward(features)}; })[0];  // (N, M, d_llm)
}

torch::Tensor MultimodalModelImpl::embed_with_images(const torch::Tensor& ids, const torch::Tensor& image_tokens,
                                                     const torch::Tensor& slots,
                                                     const torch::Tensor& tiles_per_sample) {
  MM_CHECK(ids.dim() == 2, "mllm: input_ids must be (B, T), got {} dims", ids.dim());
  const int64_t b = ids.size(0), t = ids.size(1), m = tokens_per_tile();
  auto embeds = llm->embed(ids.to(torch::kLong));  // (B, T, d)
  const int64_t n_tok = image_tokens.defined() ? image_tokens.size(0) : 0;
  const int64_t k = slots.defined() ? slots.numel() : 0;
  if (k == 0 && n_tok == 0) {
    if (tiles_per_sample.defined()) {
      MM_CHECK(tiles_per_sample.sum().item<int64_t>() == 0,
               "mllm: tiles_per_sample lists tiles but the batch has no tiles and no image slots");
    }
    return embeds;
  }
  const int64_t d = embeds.size(2);
  MM_CHECK(!image_tokens.defined() || (image_tokens.dim() == 2 && image_tokens.size(1) == d),
           "mllm: image tokens must be (N*M, {})", d);
  auto s = slots.reshape({-1}).to(torch::kCPU, torch::kLong);  // (K)
  if (k > 0) {
    const int64_t lo = s.min().item<int64_t>(), hi = s.max().item<int64_t>();
    MM_CHECK(lo >= 0 && hi < b * t, "mllm: image slot {} is outside the batch ({} rows x {} tokens; slots are b*T+t)",
             lo < 0 ? lo : hi, b, t);
  }
  auto rows = s.div(t, "floor");                                            // (K) batch row of each slot
  auto counts = torch::bincount(rows, /*weights=*/{}, b).to(torch::kLong);  // (B) slots per row
  auto c = counts.accessor<int64_t, 1>();
  if (tiles_per_sample.defined()) {
    auto tps = tiles_per_sample.reshape({-1}).to(torch::kCPU, torch::kLong);
    MM_CHECK(tps.numel() == b, "mllm: tiles_per_sample has {} entries for {} batch rows", tps.numel(), b);
    auto tp = tps.accessor<int64_t, 1>();
    for (int64_t r = 0; r < b; ++r) {
      MM_CHECK(c[r] == tp[r] * m,
               "mllm: sample {} (batch row {}) has {} image slots but {} tiles x {} tokens per tile = {} image tokens",
               r, r, c[r], tp[r], m, tp[r] * m);
    }
  }
  for (int64_t r = 0; r < b; ++r) {
    MM_CHECK(c[r] % m == 0,
             "mllm: sample {} (batch row {}) has {} image slots, not a multiple of the {} tokens per tile", r, r, c[r],
             m);
  }
  if (k != n_tok) {
    if (k > n_tok) {
      const int64_t r = rows[n_tok].item<int64_t>();
      MM_FAIL(
          "mllm: sample {} (batch row {}) has image slots without image tokens: the batch has {} image slots "
          "but {} tiles x {} tokens per tile = {} image tokens",
          r, r, k, n_tok / m, m, n_tok);
    }
    const int64_t r = k > 0 ? rows[k - 1].item<int64_t>() : 0;
    MM_FAIL(
        "mllm: {} tiles x {} tokens per tile = {} image tokens but only {} image slots: tile {} onward has no "
        "slots (the slots end in sample {}, batch row {})",
        n_tok / m, m, n_tok, k, k / m, r, r);
  }
  // Every tile's M slots lie in one batch row.
  auto tile_rows = rows.view({-1, m});  // (N, M)
  auto split = tile_rows.amax(1).ne(tile_rows.amin(1)).nonzero();
  if (split.size(0) > 0) {
    const int64_t i = split[0][0].item<int64_t>();
    MM_FAIL("mllm: tile {} spans batch rows {} and {}: a tile's {} image slots must lie in one sample", i,
            tile_rows[i].min().item<int64_t>(), tile_rows[i].max().item<int64_t>(), m);
  }
  auto sorted = std::get<0>(s.sort());
  auto dup = sorted.slice(0, 1).eq(sorted.slice(0, 0, k - 1)).nonzero();
  if (dup.size(0) > 0) {
    const int64_t slot = sorted[dup[0][0]].item<int64_t>();
    MM_FAIL("mllm: sample {} (batch row {}) lists image slot {} (token {}) twice", slot / t, slot / t, slot, slot % t);
  }
  auto flat = embeds.reshape({b * t, d});                                                   // (B*T, d)
  flat = flat.index_copy(0, s.to(embeds.device()), image_tokens.to(embeds.scalar_type()));  // (B*T, d)
  return flat.view({b, t, d});
}

MultimodalOutput MultimodalModelImpl::forward(const MultimodalBatch& batch) {
  MM_CHECK(batch.input_ids.defined() && batch.positions.defined() && batch.doc_ids.defined(),
           "mllm: a batch needs input_ids, positions and doc_ids");
  torch::Tensor image_tokens, dummy_tokens;
  if (batch.tiles.defined() && batch.tiles.size(0) > 0) {
    auto tok = encode_images(batch.tiles);          // (N, M, d)
    image_tokens = tok.reshape({-1, tok.size(2)});  // (N*M, d)
  } else if (LayerHooks* h = layer_hooks(); h && h->needs_every_unit() && is_training()) {
    // Sharded parameters (layer_hooks.h): every rank runs every unit's collectives in the same order, so a
    // batch without images runs the image encoder on one blank tile, joined to the embeddings with weight 0
    // (its gradients are zero and the hooks count them as unused).
    const int64_t r = cfg_.vision.image_size;
    h->dummy_units(true);
    auto tok = encode_images(torch::zeros({1, 3, r, r}, torch::TensorOptions().device(batch.input_ids.device())));
    h->dummy_units(false);
    dummy_tokens = tok.reshape({-1, tok.size(2)});
  }
  // The tied token embedding serves the first and the last unit of the decoder: one unit around the whole
  // decoder holds it (layer_hooks.h; the inner units leave it to this one), so it is gathered and reduced once.
  auto tied = [&] {
    return cfg_.llm.tie_embeddings ? std::vector<torch::Tensor>{llm->embed_tokens->weight}
                                   : std::vector<torch::Tensor>{};
  };
  const auto dec = run_unit("llm.tied_embeddings", tied, [&] {
    auto embeds = embed_with_images(batch.input_ids, image_tokens, batch.image_slots, batch.tiles_per_sample);
    if (dummy_tokens.defined()) embeds = embeds + dummy_tokens.sum().to(embeds.scalar_type()) * 0;
    auto d = llm->forward_embeds(embeds, batch.positions.to(torch::kLong), batch.doc_ids.to(torch::kLong));
    return std::vector<torch::Tensor>{d.logits, d.aux_loss, d.z_loss};
  });
  MultimodalOutput out;
  out.logits = dec[0];  // (B, T, V)
  out.aux_loss = dec[1];
  out.z_loss = dec[2];
  if (batch.labels.defined()) {
    std::tie(out.loss_sum, out.loss_count) = causal_lm_loss_sum(out.logits, batch.labels, batch.doc_ids);
  } else {
    out.loss_sum = torch::zeros({}, out.logits.options().dtype(torch::kFloat));
    out.loss_count = torch::zeros({}, torch::kLong);
  }
  return out;
}

std::pair<torch::Tensor, torch::Tensor> causal_lm_loss_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                                                           const torch::Tensor& doc_ids) {
  return llm::causal_lm_nll_sum(logits, labels, doc_ids);
}

torch::Tensor image_slots_from_mask(const torch::Tensor& mask) {
  MM_CHECK(mask.dim() == 2, "image_slots_from_mask: expected a (B, T) mask, got {} dims", mask.dim());
  return mask.to(torch::kBool).reshape({-1}).nonzero().reshape({-1});  // (K) row-major
}

MultimodalBatch to_device(const MultimodalBatch& b, const torch::Device& d) {
  if (d.is_cpu()) return b;
  // Asynchronous from pinned memory (LoaderConfig::pin_batches): the host keeps queueing kernels.
  auto mv = [&](const torch::Tensor& t) { return t.defined() ? t.to(d, /*non_blocking=*/true) : t; };
  MultimodalBatch o = b;  // image_slots, tiles_per_sample: see the header
  o.input_ids = mv(b.input_ids);
  o.labels = mv(b.labels);
  o.positions = mv(b.positions);
  o.doc_ids = mv(b.doc_ids);
  o.tiles = mv(b.tiles);
  return o;
}

torch::Tensor image_slots_from_tile_starts(const std::vector<std::vector<int64_t>>& tile_starts_per_row,
                                           int64_t seq_len, int64_t tokens_per_tile) {
  std::vector<int64_t> slots;
  for (size_t r = 0; r < tile_starts_per_row.size(); ++r) {
    for (int64_t start : tile_starts_per_row[r]) {
      MM_CHECK(start >= 0 && start + tokens_per_tile <= seq_len,
               "image slots: sample {} has a tile at token {} whose {} slots run past the sequence length {}", r, start,
               tokens_per_tile, seq_len);
      for (int64_t j = 0; j < tokens_per_tile; ++j) slots.push_back(static_cast<int64_t>(r) * seq_len + start + j);
    }
  }
  return torch::tensor(slots, torch::kLong);
}

}  // namespace mm
