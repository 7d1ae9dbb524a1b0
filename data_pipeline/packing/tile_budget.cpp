#include "data_pipeline/packing/tile_budget.h"

#include "core/check.h"

namespace mm::data {

std::string TileRequest::describe() const {
  return single_tile ? std::string("single tile") : "nmax=" + std::to_string(nmax);
}

BudgetResult encode_with_tile_budget(const tok::SampleEncoder& encoder, const RawSample& sample,
                                     const LayoutCallback& layouts, const BudgetOptions& opts) {
  MM_CHECK(opts.max_len > 0, "tile budget: sequence length must be positive, got {}", opts.max_len);
  MM_CHECK(opts.nmin >= 1 && opts.nmin <= opts.nmax, "tile budget: expected 1 <= nmin <= nmax, got nmin {} nmax {}",
           opts.nmin, opts.nmax);
  BudgetResult r;
  try {
    const tok::TemplatedSample t = encoder.templated(sample);
    if (opts.require_loss) {
      bool any = false;
      for (const auto& p : t.parts) any = any || (p.loss && !p.ids.empty());
      if (!any) {
        r.reason = "no token carries loss (no assistant turn and no Text turn)";
        return r;
      }
    }
    if (t.num_images == 0) {
      if (!opts.split_long_text && t.text_tokens > opts.max_len) {
        r.reason =
            fmt::format("text-only sample of {} tokens exceeds the sequence length {}", t.text_tokens, opts.max_len);
        return r;
      }
      r.sample = encoder.expand(t, {});
      return r;
    }
    std::vector<TileRequest> plan;
    for (int64_t n = opts.nmax; n >= opts.nmin; --n) plan.push_back({n, false});
    if (opts.single_tile_fallback) plan.push_back({1, true});
    int64_t len = 0;
    for (const TileRequest& req : plan) {
      r.tried.push_back(req);
      const auto l = layouts(req);
      len = encoder.length(t, l);
      if (len <= opts.max_len) {
        r.used = req;
        r.sample = encoder.expand(t, l);
        return r;
      }
    }
    r.reason = fmt::format("{} tokens with {} exceed the sequence length {} (image tokens are never cut)", len,
                           r.tried.back().describe(), opts.max_len);
  } catch (const tok::SampleError& e) {
    r.reason = e.what();
  }
  return r;
}

}  // namespace mm::data
