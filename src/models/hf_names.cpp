// Checked tensor renaming for the HF adapters (see hf_names.h).
#include "models/hf_names.h"

#include <set>
#include <sstream>

#include "core/check.h"

namespace mm::hf {
namespace {

std::string shape_str(torch::IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

}  // namespace

const torch::Tensor& need(const TensorMap& m, const std::string& name,
                          const std::vector<int64_t>& shape, const std::string& what) {
  auto it = m.find(name);
  MM_CHECK(it != m.end(), "{}: missing tensor '{}'", what, name);
  MM_CHECK(it->second.sizes() == torch::IntArrayRef(shape),
           "{}: tensor '{}' has shape {}, expected {}", what, name, shape_str(it->second.sizes()),
           shape_str(shape));
  return it->second;
}

TensorMap rename(const TensorMap& in, const std::vector<NamePair>& pairs, bool to_theirs,
                 const std::string& scope, const std::string& what) {
  TensorMap out;
  std::set<std::string> used;
  for (const auto& p : pairs) {
    const std::string& from = to_theirs ? p.ours : p.theirs;
    const std::string& to = to_theirs ? p.theirs : p.ours;
    out[to] = need(in, from, p.shape, what);
    used.insert(from);
  }
  for (const auto& [name, t] : in) {
    if (name.compare(0, scope.size(), scope) != 0) continue;
    MM_CHECK(used.count(name) != 0, "{}: unexpected tensor '{}' (not part of the mapped model)",
             what, name);
  }
  return out;
}

}  // namespace mm::hf
