// Constraints a config struct declares on its fields (the optional 4th argument of v(...) in
// visit()) and the Problems list a struct's optional validate() fills for cross-field checks.
#pragma once
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mm::cfg {

// One field's constraints; combine with &: `cfg::required() & cfg::one_of({"a", "b"})`.
// Numeric bounds apply to numbers and to every number inside a list/map; one_of and non_empty
// to strings (one_of also to each string of a list); non_empty and nonzero_sum to lists/maps.
struct Rule {
  bool required = false;           // the key must be given (in a file or with --set)
  std::optional<double> min, max;  // numeric bounds
  bool min_exclusive = false, max_exclusive = false;
  std::vector<std::string> choices;  // allowed string values (empty = any)
  bool non_empty = false;            // string/list/map must not be empty
  bool nonzero_sum = false;          // numbers of a list/map (weights) must not sum to zero
  // A file or folder mmtrain reads: a relative value is resolved against the folder of the config
  // file that wrote it (--set values and defaults: the working directory) and becomes absolute.
  // `path_words` are values that are not paths (init_from: previous).
  bool input_path = false;
  std::vector<std::string> path_words;

  Rule operator&(const Rule& o) const {
    Rule r = *this;
    r.required |= o.required;
    if (o.min) r.min = o.min, r.min_exclusive = o.min_exclusive;
    if (o.max) r.max = o.max, r.max_exclusive = o.max_exclusive;
    if (!o.choices.empty()) r.choices = o.choices;
    r.non_empty |= o.non_empty;
    r.nonzero_sum |= o.nonzero_sum;
    r.input_path |= o.input_path;
    if (!o.path_words.empty()) r.path_words = o.path_words;
    return r;
  }
  bool empty() const {
    return !required && !min && !max && choices.empty() && !non_empty && !nonzero_sum && !input_path;
  }
};

inline Rule required() {
  Rule r;
  r.required = true;
  return r;
}
inline Rule at_least(double lo) {
  Rule r;
  r.min = lo;
  return r;
}
inline Rule at_most(double hi) {
  Rule r;
  r.max = hi;
  return r;
}
inline Rule greater_than(double lo) {
  Rule r;
  r.min = lo;
  r.min_exclusive = true;
  return r;
}
inline Rule in_range(double lo, double hi) {
  Rule r;
  r.min = lo;
  r.max = hi;
  return r;
}
inline Rule positive() { return greater_than(0); }  // sizes, counts, epsilons
inline Rule non_negative() { return at_least(0); }  // counts where 0 means "off", weights
inline Rule probability() { return in_range(0, 1); }
inline Rule non_empty() {
  Rule r;
  r.non_empty = true;
  return r;
}
inline Rule nonzero_sum() {
  Rule r;
  r.nonzero_sum = true;
  return r;
}
inline Rule one_of(std::initializer_list<const char*> values) {
  Rule r;
  for (const char* s : values) r.choices.emplace_back(s);
  return r;
}

// A file or folder that mmtrain reads (see Rule::input_path); `words` are values kept as written.
inline Rule input_path(std::initializer_list<const char*> words = {}) {
  Rule r;
  r.input_path = true;
  for (const char* s : words) r.path_words.emplace_back(s);
  return r;
}

// Cross-field problems found by a struct's `void validate(cfg::Problems& p) const`:
// p.add("kv_heads", "must divide heads (6)") is reported as "model.llm.kv_heads: must divide ...".
class Problems {
 public:
  // key: a field of the validated struct (empty: the struct itself); message: what is wrong.
  void add(std::string key, std::string message) { items_.emplace_back(std::move(key), std::move(message)); }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

}  // namespace mm::cfg
