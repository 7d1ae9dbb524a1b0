// Metric dispatch.
#include "eval/metrics/score.h"

#include "core/check.h"
#include "eval/metrics/anls.h"
#include "eval/metrics/box_iou.h"
#include "eval/metrics/exact_match.h"
#include "eval/metrics/multiple_choice.h"
#include "eval/metrics/perplexity.h"
#include "eval/metrics/vqa_accuracy.h"

namespace mm::eval {

double score_item(const EvalItem& item, const Prediction& p) {
  switch (item.metric) {
    case Metric::kVqaAccuracy:
      return vqa_accuracy(p.text, item.answers);
    case Metric::kAnls:
      return anls(p.text, item.answers);
    case Metric::kExactMatch:
      return exact_match(p.text, item.answers);
    case Metric::kMultipleChoice:
      return multiple_choice_accuracy(p.text, item.answers.front(), item.choices);
    case Metric::kIouAt50:
      return iou_accuracy(p.text, item.answers);
    case Metric::kPerplexity:
      MM_CHECK(!p.token_logprobs.empty(), "{}: perplexity item '{}' got no token log-probabilities from the predictor",
               item.source, item.id);
      return perplexity(p.token_logprobs);
  }
  MM_FAIL("unknown metric");
}

}  // namespace mm::eval
