// The evaluation run inside `mmtrain train` (after each stage and every eval.interval steps):
// greedy generation over the stage's eval sets, report written under <stage>/eval/.
#pragma once
#include "trainers/loop/trainer.h"

namespace mm::cli {

train::EvalHook make_eval_hook();

}  // namespace mm::cli
