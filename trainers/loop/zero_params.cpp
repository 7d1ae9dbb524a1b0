// ZeRO-3 over c10d (zero_params.h).
#include "trainers/loop/zero_params.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/check.h"
#include "dist/collectives.h"
#include "dist/process_group.h"
#include "trainers/loop/zero_optimizer.h"  // partition_by_bytes

namespace mm::train {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// One unit pass, kept alive by its two backward nodes.
struct PassState : torch::CustomClassHolder {
  ZeroParams* zp = nullptr;
  std::vector<size_t> slots;
  bool dummy = false;
};

c10::intrusive_ptr<PassState> state_of(AutogradContext* ctx) {
  return c10::static_intrusive_pointer_cast<PassState>(ctx->saved_data["pass"].toCapsule());
}

// Identity on the anchor in forward; its backward runs once the unit's backward is done (its only input is the
// zero gradient the gather node below gives it, and it was created before every node of the unit, so the engine
// runs the unit's nodes and their gradient accumulation first): reduce the unit's gradients, release.
struct ReduceNode : public torch::autograd::Function<ReduceNode> {
  static torch::Tensor forward(AutogradContext* ctx, c10::intrusive_ptr<PassState> pass, const torch::Tensor& anchor) {
    ctx->saved_data["pass"] = c10::IValue::make_capsule(std::move(pass));
    return anchor.clone();
  }
  static variable_list backward(AutogradContext* ctx, variable_list) {
    auto pass = state_of(ctx);
    pass->zp->reduce_and_release(pass->slots, pass->dummy);
    return {torch::Tensor(), torch::Tensor()};
  }
};

// Identity on the unit's outputs (and takes the reduce node's output); its backward runs before the unit's
// backward: gather the unit's parameters again.
struct GatherNode : public torch::autograd::Function<GatherNode> {
  static variable_list forward(AutogradContext* ctx, c10::intrusive_ptr<PassState> pass, at::TensorList outputs,
                               const torch::Tensor& anchor_out) {
    ctx->saved_data["pass"] = c10::IValue::make_capsule(std::move(pass));
    ctx->saved_data["anchor"] = anchor_out.detach();  // for the zero gradient's options
    return variable_list(outputs.begin(), outputs.end());
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto pass = state_of(ctx);
    pass->zp->gather_for_backward(pass->slots);
    variable_list out;
    out.push_back(torch::Tensor());  // the pass state
    for (auto& g : grads) out.push_back(g);
    out.push_back(torch::zeros_like(ctx->saved_data["anchor"].toTensor()));
    return out;
  }
};

}  // namespace

ZeroParams::ZeroParams(torch::nn::Module& model, const dist::Group& group) : group_(group), scope_(this) {
  std::vector<int64_t> bytes;
  for (const auto& item : model.named_parameters()) {
    const torch::Tensor& p = item.value();
    MM_CHECK(!by_impl_.count(p.unsafeGetTensorImpl()), "dist.shard parameters: '{}' is registered twice", item.key());
    const int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
    MM_CHECK(p.is_contiguous() && p.storage_offset() == 0 && static_cast<int64_t>(p.storage().nbytes()) == b,
             "dist.shard parameters: '{}' does not own its whole storage (a view or shared tensor): not supported",
             item.key());
    by_impl_[p.unsafeGetTensorImpl()] = slots_.size();
    by_name_[item.key()] = slots_.size();
    slots_.push_back(Slot{item.key(), p, 0, b});
    bytes.push_back(b);
    total_ += b;
  }
  const std::vector<int> owner = partition_by_bytes(bytes, group_.world_size());
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].owner = owner[i];
    if (mine(slots_[i])) owned_ += slots_[i].bytes;
  }
  resident_ = peak_ = total_;
  // On the model's device: the backward nodes then run on the device's autograd thread, in one order.
  const torch::Device dev = slots_.empty() ? torch::Device(torch::kCPU) : slots_.front().param.device();
  anchor_ = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat).device(dev)).requires_grad_(true);
}

ZeroParams::~ZeroParams() = default;

bool ZeroParams::mine(const Slot& s) const { return s.owner == group_.rank(); }

int64_t ZeroParams::owned_tensors() const {
  return std::count_if(slots_.begin(), slots_.end(), [&](const Slot& s) { return mine(s); });
}

int ZeroParams::owner_of(const std::string& name) const {
  const auto it = by_name_.find(name);
  MM_CHECK(it != by_name_.end(), "dist.shard: '{}' is not a parameter of the model", name);
  return slots_[it->second].owner;
}

bool ZeroParams::owns(const std::string& name) const { return owner_of(name) == group_.rank(); }

TensorMap ZeroParams::owned_entries(const TensorMap& state) const {
  TensorMap out;
  for (const auto& [key, t] : state) {
    const size_t dot = key.rfind('.');  // "<param name>.<slot>": slot names hold no '.'
    const auto it = by_name_.find(dot == std::string::npos ? key : key.substr(0, dot));
    if (it == by_name_.end() || mine(slots_[it->second])) out[key] = t;
  }
  return out;
}

void ZeroParams::allocate(Slot& s) {
  c10::StorageImpl* st = s.param.unsafeGetTensorImpl()->storage().unsafeGetStorageImpl();
  if (static_cast<int64_t>(st->nbytes()) == s.bytes) return;
  st->set_data_ptr_noswap(st->allocator()->allocate(static_cast<size_t>(s.bytes)));
  st->set_nbytes(static_cast<size_t>(s.bytes));
  resident_ += s.bytes;
  peak_ = std::max(peak_, resident_);
}

void ZeroParams::free(Slot& s) {
  c10::StorageImpl* st = s.param.unsafeGetTensorImpl()->storage().unsafeGetStorageImpl();
  if (st->nbytes() == 0) return;
  st->set_data_ptr_noswap(at::DataPtr(nullptr, s.param.device()));
  st->set_nbytes(0);
  resident_ -= s.bytes;
}

void ZeroParams::shard() {
  if (!group_.distributed()) return;
  // The same start as data parallel: rank 0's weights everywhere (every rank built them from the same seed).
  std::vector<torch::Tensor> all;
  for (const Slot& s : slots_) all.push_back(s.param);
  dist::broadcast_tensors(group_, all, 0);
  for (Slot& s : slots_)
    if (!mine(s)) free(s);
  sharded_ = true;
  peak_ = resident_;
}

std::vector<size_t> ZeroParams::slots_of(const std::vector<torch::Tensor>& params) const {
  std::vector<size_t> out;
  for (const auto& p : params) {
    const auto it = by_impl_.find(p.unsafeGetTensorImpl());
    if (it != by_impl_.end()) out.push_back(it->second);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void ZeroParams::before_unit(const char*, const std::vector<torch::Tensor>& params) {
  if (!sharded_ || all_gathered_ > 0) return;
  Open o;
  o.slots = slots_of(params);
  // A tensor an enclosing open unit holds is that unit's to gather and reduce (the tied embedding).
  for (const Open& outer : open_)
    o.slots.erase(
        std::remove_if(o.slots.begin(), o.slots.end(),
                       [&](size_t i) { return std::binary_search(outer.slots.begin(), outer.slots.end(), i); }),
        o.slots.end());
  int64_t unit = 0;
  for (size_t i : o.slots) unit += slots_[i].bytes;
  largest_unit_ = std::max(largest_unit_, unit);
  // Prefetched during the previous unit's forward, else (nothing prefetched, or the sequence changed, on every
  // rank alike) gathered now; the next unit of the previous forward then travels while this unit computes.
  gather_in_sequence(forward_, o.slots, traffic_.prefetched);
  if (torch::GradMode::is_enabled()) {
    auto pass = c10::make_intrusive<PassState>();
    pass->zp = this;
    pass->slots = o.slots;
    pass->dummy = dummy_;
    o.pass = pass;
    // Made before every node of the unit: among ready nodes autograd runs the later-made first, so this one runs
    // after the unit's backward (and its gradient accumulation); the gather node takes its output.
    o.anchor_out = ReduceNode::apply(pass, anchor_);
    ++open_backward_;
  }
  open_.push_back(std::move(o));
}

std::vector<torch::Tensor> ZeroParams::after_unit(const char* unit, const std::vector<torch::Tensor>&,
                                                  std::vector<torch::Tensor> outputs) {
  if (!sharded_ || all_gathered_ > 0) return outputs;
  MM_CHECK(!open_.empty(), "dist.shard parameters: unit '{}' ended without starting", unit);
  Open o = std::move(open_.back());
  open_.pop_back();
  if (o.anchor_out.defined()) {
    std::vector<size_t> defined;
    std::vector<torch::Tensor> ins;
    for (size_t i = 0; i < outputs.size(); ++i)
      if (outputs[i].defined()) defined.push_back(i), ins.push_back(outputs[i]);
    variable_list wrapped =
        GatherNode::apply(c10::static_intrusive_pointer_cast<PassState>(o.pass), at::TensorList(ins), o.anchor_out);
    for (size_t k = 0; k < defined.size(); ++k) outputs[defined[k]] = wrapped[k];
  }
  release(o.slots);
  return outputs;
}

void ZeroParams::gather_all() {
  if (!sharded_) return;
  drop_prefetch();
  std::vector<size_t> all(slots_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  const int64_t peak = peak_;  // the step's peak and traffic stay the training ones
  const ZeroParamsTraffic traffic = traffic_;
  gather_slots(all);
  peak_ = peak;
  traffic_ = traffic;
  ++all_gathered_;
}

void ZeroParams::release_all() {
  if (!sharded_) return;
  MM_CHECK(all_gathered_ > 0, "dist.shard parameters: release_all without gather_all");
  std::vector<size_t> all(slots_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  release(all);
  --all_gathered_;
}

void ZeroParams::begin_step() {
  traffic_ = {};
  peak_ = resident_;
}

void ZeroParams::begin_micro_batch() {
  if (!sharded_) return;
  drop_prefetch();  // a forward shorter than the one before left its prefetch unused
  for (Sequence* seq : {&forward_, &backward_}) {
    if (!seq->now.empty()) seq->last = std::move(seq->now);
    seq->now.clear();
  }
  for (Slot& s : slots_)
    if (mine(s)) {
      s.earlier = s.param.grad();
      s.param.mutable_grad() = torch::Tensor();
    }
}

void ZeroParams::end_backward() {
  if (!sharded_) return;
  MM_CHECK(open_backward_ == 0 && open_.empty(),
           "dist.shard parameters: {} unit passes were not reduced in backward (a unit's output did not reach the "
           "loss)",
           open_backward_);
  for (const Slot& s : slots_)
    MM_CHECK(mine(s) || !s.param.grad().defined(), "dist.shard parameters: rank {} kept a gradient of '{}' (rank {})",
             group_.rank(), s.name, s.owner);
  drop_prefetch();  // nothing stays gathered into the optimizer step
}

}  // namespace mm::train
