// The process-wide layer hooks (layer_hooks.h).
#include "models/layer_hooks.h"

#include <atomic>

namespace mm {
namespace {
std::atomic<LayerHooks*>& installed() {
  static std::atomic<LayerHooks*> hooks{nullptr};
  return hooks;
}
}  // namespace

LayerHooks* layer_hooks() { return installed().load(); }

LayerHooksScope::LayerHooksScope(LayerHooks* hooks) : previous_(installed().exchange(hooks)) {}

LayerHooksScope::~LayerHooksScope() { installed().store(previous_); }

}  // namespace mm
