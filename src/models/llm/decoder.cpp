#include "models/llm/decoder.h"

#include "core/check.h"
#include "models/layer_hooks.h"
#include "models/recompute.h"

namespace mm::llm {

namespace nn = torch::nn;

DecoderImpl::DecoderImpl(const LLMConfig& cfg_, bool activation_checkpointing_)
    : cfg(cfg_), activation_checkpointing(activation_checkpointing_) {
  MM_CHECK(cfg.vocab_size > 0 && cfg.dim > 0 && cfg.layers > 0, "llm: vocab_size, dim and layers must be positive");
  embed_tokens = register_module("embed_tokens", nn::Embedding(cfg.vocab_size, cfg.dim));
  layers = register_module("layers", nn::ModuleList());
  for (int64_t i = 0; i < cfg.layers; ++i) {
    layer_list.push_back(DecoderLayer(cfg, is_moe_layer(cfg, i)));
    layers->push_back(layer_list.back());
  }
  norm = register_module("norm", RMSNorm(cfg.dim, cfg.norm_eps));
  if (!cfg.tie_embeddings) {
    lm_head = register_module("lm_head", nn::Linear(nn::LinearOptions(cfg.dim, cfg.vocab_size).bias(false)));
  }
  reset_parameters();
}

void DecoderImpl::reset_parameters(double std) {
  torch::NoGradGuard no_grad;
  for (auto& item : named_parameters()) {
    auto& p = item.value();
    if (p.dim() >= 2) {
      p.normal_(0.0, std);
    } else if (item.key().size() >= 4 && item.key().compare(item.key().size() - 4, 4, "bias") == 0) {
      p.zero_();  // q/k/v biases (llm.attention_bias)
    } else {
      p.fill_(1.0);  // RMSNorm weights
    }
  }
}

torch::Tensor DecoderImpl::embed(const torch::Tensor& ids) {
  auto out = run_unit(
      "llm.embed_tokens", [&] { return std::vector<torch::Tensor>{embed_tokens->weight}; },
      [&] { return std::vector<torch::Tensor>{embed_tokens(ids)}; });
  return out[0];  // (B, T, D)
}

torch::Tensor DecoderImpl::lm_logits(const torch::Tensor& hidden) {
  return cfg.tie_embeddings ? torch::linear(hidden, embed_tokens->weight) : lm_head(hidden);
}

DecoderOutput DecoderImpl::forward(const torch::Tensor& ids, const torch::Tensor& positions,
                                   const torch::Tensor& doc_ids, KVCache* cache) {
  return forward_embeds(embed(ids), positions, doc_ids, cache);
}

DecoderOutput DecoderImpl::forward_embeds(const torch::Tensor& embeds, const torch::Tensor& positions,
                                          const torch::Tensor& doc_ids, KVCache* cache, bool compute_logits) {
  MM_CHECK(embeds.dim() == 3 && embeds.size(2) == cfg.dim, "decoder: embeds must be (B, T, {})", cfg.dim);
  MM_CHECK(positions.sizes() == embeds.sizes().slice(0, 2) && doc_ids.sizes() == positions.sizes(),
           "decoder: positions and doc_ids must be (B, T) = ({}, {})", embeds.size(0), embeds.size(1));
  const auto dtype = embeds.scalar_type();
  auto rope = rope_tables(positions, head_dim_of(cfg), cfg.rope_theta, dtype, cfg.rope_scaling);
  torch::Tensor k_doc = doc_ids;
  if (cache != nullptr) {
    if (cache->layers.empty()) cache->layers.resize(cfg.layers);
    if (cache->doc_ids.defined()) k_doc = torch::cat({cache->doc_ids, doc_ids}, 1);  // (B, T_past + T)
    cache->doc_ids = k_doc;
  }
  auto mask = make_document_mask(doc_ids, k_doc, dtype);

  auto x = embeds;
  auto aux = torch::zeros({}, embeds.options().dtype(torch::kFloat));
  auto z = torch::zeros({}, embeds.options().dtype(torch::kFloat));
  // Checkpointed blocks keep only their input; rope and mask are constants of the recompute.
  const bool recompute = activation_checkpointing && is_training() && cache == nullptr && torch::GradMode::is_enabled();
  for (int64_t i = 0; i < cfg.layers; ++i) {
    // One unit of parameters (layer_hooks.h); the hooks stay outside the recompute.
    const auto outs = run_unit(
        "llm.layer", [&] { return layer_list[i]->parameters(); },
        [&] {
          if (recompute) {
            DecoderLayer layer = layer_list[i];
            auto fn = [layer, rope, mask](const std::vector<torch::Tensor>& in) mutable {
              auto o = layer->forward(in[0], rope, mask, nullptr);
              return std::vector<torch::Tensor>{o.hidden, o.aux_loss, o.z_loss};
            };
            return mm::recomputed(fn, {x}, layer->parameters());
          }
          auto o = layer_list[i]->forward(x, rope, mask, cache ? &cache->layers[i] : nullptr);
          return std::vector<torch::Tensor>{o.hidden, o.aux_loss, o.z_loss};
        });
    x = outs[0];
    aux = aux + outs[1];
    z = z + outs[2];
  }
  DecoderOutput result;
  auto head_params = [&] {
    std::vector<torch::Tensor> p = norm->parameters();
    p.push_back(cfg.tie_embeddings ? embed_tokens->weight : lm_head->weight);
    return p;
  };
  const auto head = run_unit("llm.head", head_params, [&] {
    auto h = norm(x);
    return std::vector<torch::Tensor>{h, compute_logits ? lm_logits(h) : torch::Tensor()};
  });
  result.hidden = head[0];
  if (compute_logits) result.logits = head[1];
  result.aux_loss = aux;
  result.z_loss = z;
  return result;
}

std::vector<torch::Tensor> DecoderImpl::expert_counts() const {
  std::vector<torch::Tensor> counts;
  for (const auto& layer : layer_list) {
    if (layer->use_moe) counts.push_back(layer->block_sparse_moe->last_counts);
  }
  return counts;
}

}  // namespace mm::llm
