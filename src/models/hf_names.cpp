// Checked tensor renaming for the HF adapters (see hf_names.h).
#include "models/hf_names.h"

#include <c10/util/StringUtil.h>  // c10::str: shapes in messages
#include <set>

#include "core/check.h"

namespace mm::hf {
const torch::Tensor& need(const TensorMap& m, const std::string& name, const std::vector<int64_t>& shape,
                          const std::string& what) {
  auto it = m.find(name);
  MM_CHECK(it != m.end(), "{}: missing tensor '{}'", what, name);
  MM_CHECK(it->second.sizes() == torch::IntArrayRef(shape), "{}: tensor '{}' has shape {}, expected {}", what, name,
           c10::str(it->second.sizes()), c10::str(torch::IntArrayRef(shape)));
  return it->second;
}

TensorMap rename(const TensorMap& in, const std::vector<NamePair>& pairs, bool to_theirs, const std::string& scope,
                 const std::string& what) {
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
    MM_CHECK(used.count(name) != 0, "{}: unexpected tensor '{}' (not part of the mapped model)", what, name);
  }
  return out;
}

}  // namespace mm::hf
