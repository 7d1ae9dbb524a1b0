// Layer probe (never built by the normal build): eval and trainers are siblings, so this include
// must not compile with eval's include path.
#include "trainers/loop/trainer.h"
