// Layer probe (never built by the normal build): the tokenizer sits below the data pipeline, so
// this include must not compile with the tokenizer's include path.
#include "data_pipeline/sample.h"
