// YAML -> ConfigTree (with inherit and origins), --set overrides, deep merge. One of the two
// files that include yaml-cpp (the other is yaml_emit.cpp).
#include "core/config/config_tree.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/io.h"

namespace mm::cfg {
namespace {

namespace fs = std::filesystem;
using Origins = std::map<std::string, std::string>;

std::string join_key(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

bool is_under(const std::string& key, const std::string& path) {
  if (path.empty()) return true;
  if (key.compare(0, path.size(), path) != 0) return false;
  return key.size() == path.size() || key[path.size()] == '.' || key[path.size()] == '[';
}

void erase_under(Origins& o, const std::string& path) {
  for (auto it = o.lower_bound(path); it != o.end();) {
    if (it->first.compare(0, path.size(), path) != 0) break;  // past the prefix range
    if (is_under(it->first, path))
      it = o.erase(it);
    else
      ++it;
  }
}

void copy_under(Origins& to, const Origins& from, const std::string& path) {
  for (auto it = from.lower_bound(path); it != from.end(); ++it) {
    if (it->first.compare(0, path.size(), path) != 0) break;
    if (is_under(it->first, path)) to[it->first] = it->second;
  }
}

// file:line (1-based) of a node, or just the source when the node has no position (--set).
std::string mark_of(const std::string& source, const YAML::Mark& m, bool with_line) {
  if (!with_line || m.line < 0) return source;
  return source + ":" + std::to_string(m.line + 1);
}

// Bounds the expansion of one document: YAML aliases share nodes, so a few lines of nested aliases
// (the "billion laughs" shape) would expand into billions of nodes. A config has hundreds.
struct Budget {
  static constexpr size_t kMaxNodes = 100000;
  static constexpr size_t kMaxScalarBytes = size_t{16} << 20;
  size_t nodes = 0;
  size_t scalar_bytes = 0;

  void take(const YAML::Node& n, const std::string& source) {
    if (++nodes > kMaxNodes) {
      throw ConfigError(
          fmt::format("{}: more than {} values once aliases are expanded; a config is far smaller "
                      "(nested YAML aliases?)",
                      source, kMaxNodes));
    }
    if (n.IsScalar() && (scalar_bytes += n.Scalar().size()) > kMaxScalarBytes) {
      throw ConfigError(fmt::format("{}: more than {} MiB of text once aliases are expanded (nested YAML aliases?)",
                                    source, kMaxScalarBytes >> 20));
    }
  }
};

// YAML node -> Json with scalars kept as text; records origins under `path`.
void convert(const YAML::Node& n, const std::string& path, const std::string& source, bool with_line, Json& out,
             Origins& origins, Budget& budget) {
  budget.take(n, source);
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out = nullptr;
      return;
    case YAML::NodeType::Scalar:
      out = n.Scalar();
      return;
    case YAML::NodeType::Sequence: {
      out = Json::array();
      size_t i = 0;
      for (const auto& item : n) {
        std::string p = path + "[" + std::to_string(i++) + "]";
        origins[p] = mark_of(source, item.Mark(), with_line);
        Json j;
        convert(item, p, source, with_line, j, origins, budget);
        out.push_back(std::move(j));
      }
      return;
    }
    case YAML::NodeType::Map: {
      out = Json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) {
          throw ConfigError(fmt::format("{}: keys must be plain names{}", mark_of(source, kv.first.Mark(), with_line),
                                        path.empty() ? "" : " (under '" + path + "')"));
        }
        const std::string& key = kv.first.Scalar();
        std::string p = join_key(path, key);
        if (out.contains(key)) {
          throw ConfigError(fmt::format("duplicate key '{}' in {}", p, mark_of(source, kv.first.Mark(), with_line)));
        }
        origins[p] = mark_of(source, kv.first.Mark(), with_line);
        Json j;
        convert(kv.second, p, source, with_line, j, origins, budget);
        out[key] = std::move(j);
      }
      return;
    }
  }
}

YAML::Node parse_yaml(const std::string& text, const std::string& source, bool with_line = true) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp quotes the offending character in some messages ("unknown escape character: \0").
    const std::string msg = io::printable(e.msg);
    if (e.mark.is_null() || !with_line) throw ConfigError(fmt::format("{}: invalid YAML: {}", source, msg));
    throw ConfigError(fmt::format("{}:{}:{}: invalid YAML: {}", source, e.mark.line + 1, e.mark.column + 1, msg));
  }
}

void merge_node(Json& base, Origins& base_origins, const Json& over, const Origins& over_origins,
                const std::string& path) {
  if (base.is_object() && over.is_object()) {
    for (auto it = over.begin(); it != over.end(); ++it) {
      std::string p = join_key(path, it.key());
      auto found = base.find(it.key());
      if (found != base.end()) {
        merge_node(*found, base_origins, it.value(), over_origins, p);
      } else {
        base[it.key()] = it.value();
        copy_under(base_origins, over_origins, p);
      }
    }
    if (auto o = over_origins.find(path); o != over_origins.end()) base_origins[path] = o->second;
    return;
  }
  erase_under(base_origins, path);
  base = over;
  copy_under(base_origins, over_origins, path);
}

// The tree of one YAML document with its `inherit:` parents merged underneath it. Files are read
// from disk, or through `read` when it is not null.
ConfigTree tree_from_text(const std::string& text, const std::string& source, const fs::path& dir,
                          std::vector<std::pair<std::string, std::string>>& chain, const TextReader* read);

ConfigTree tree_from_file(const fs::path& shown, std::vector<std::pair<std::string, std::string>>& chain,
                          const TextReader* read) {
  std::string name = shown.lexically_normal().generic_string();
  std::error_code ec;
  std::string canon = read ? name : fs::weakly_canonical(shown, ec).generic_string();
  if (ec) canon = name;
  for (size_t i = 0; i < chain.size(); ++i) {
    if (chain[i].second == canon) {
      std::string cycle;
      for (size_t j = i; j < chain.size(); ++j) cycle += chain[j].first + " -> ";
      throw ConfigError(fmt::format("inherit cycle: {}{}", cycle, name));
    }
  }
  // Regular files of config size only: /dev/zero would be read forever, a FIFO would block.
  const std::string inherited = chain.empty() ? std::string() : " (inherited by " + chain.back().first + ")";
  std::string text;
  if (read) {
    std::optional<std::string> t = (*read)(name);
    if (!t) throw ConfigError(fmt::format("cannot read config file '{}'{}", name, inherited));
    text = std::move(*t);
  } else {
    if (std::string why = io::regular_file_problem(shown.string(), io::kMaxConfigBytes); !why.empty()) {
      // the full path tried, whatever the working directory
      throw ConfigError(fmt::format("config file '{}' {}{}", fs::absolute(shown).lexically_normal().generic_string(),
                                    why, inherited));
    }
    try {
      text = io::read_small_file(shown.string(), io::kMaxConfigBytes, "config file");
    } catch (const mm::Error& e) {
      throw ConfigError(e.what() + inherited);
    }
  }
  chain.emplace_back(name, canon);
  ConfigTree tree = tree_from_text(text, name, shown.parent_path(), chain, read);
  chain.pop_back();
  return tree;
}

ConfigTree tree_from_text(const std::string& text, const std::string& source, const fs::path& dir,
                          std::vector<std::pair<std::string, std::string>>& chain, const TextReader* read) {
  YAML::Node doc = parse_yaml(text, source);
  ConfigTree self;
  if (doc.IsNull() || !doc.IsDefined()) return self;
  if (!doc.IsMap()) {
    throw ConfigError(fmt::format("{}: expected a map of keys at the top level", source));
  }
  Budget budget;
  convert(doc, "", source, true, self.root, self.origins, budget);

  std::vector<std::string> parents;
  if (auto it = self.root.find("inherit"); it != self.root.end()) {
    const Json& inh = *it;
    std::string where = self.origin_of("inherit");
    if (inh.is_string()) {
      parents.push_back(inh.get<std::string>());
    } else if (inh.is_array()) {
      for (const auto& p : inh) {
        if (!p.is_string()) throw ConfigError(fmt::format("inherit: expected a list of file names ({})", where));
        parents.push_back(p.get<std::string>());
      }
    } else if (!inh.is_null()) {
      throw ConfigError(fmt::format("inherit: expected a file name or a list of file names ({})", where));
    }
    self.root.erase("inherit");
    erase_under(self.origins, "inherit");
  }
  if (parents.empty()) return self;
  ConfigTree merged;
  for (const auto& p : parents) {
    fs::path pp(p);
    merge_into(merged, tree_from_file(pp.is_absolute() ? pp : dir / pp, chain, read));
  }
  merge_into(merged, self);
  return merged;
}

// "a.b[2].c" -> {"a", "b", "[2]", "c"}; empty on a malformed path.
std::vector<std::string> split_path(const std::string& key) {
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '.') {
      if (cur.empty() && (parts.empty() || parts.back()[0] != '[')) return {};
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else if (c == '[') {
      if (!cur.empty())
        parts.push_back(cur);
      else if (parts.empty())
        return {};
      cur.clear();
      size_t close = key.find(']', i);
      if (close == std::string::npos || close == i + 1) return {};
      std::string idx = key.substr(i + 1, close - i - 1);  // an index, or the name of an entry
      if (idx.find_first_of("[ \t") != std::string::npos) return {};
      parts.push_back("[" + idx + "]");
      i = close;
      if (i + 1 < key.size() && key[i + 1] != '.' && key[i + 1] != '[') return {};
    } else if (c == ']' || c == ' ' || c == '\t') {
      return {};
    } else {
      cur += c;
    }
  }
  if (!cur.empty())
    parts.push_back(cur);
  else if (!key.empty() && key.back() == '.')
    return {};
  return parts;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string ConfigTree::origin_of(const std::string& path) const {
  std::string p = path;
  while (true) {
    if (auto it = origins.find(p); it != origins.end()) return it->second;
    if (p.empty()) return "";
    size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
}

ConfigTree load_yaml_file(const std::string& path) {
  std::vector<std::pair<std::string, std::string>> chain;
  return tree_from_file(fs::path(path), chain, nullptr);
}

ConfigTree load_yaml_file(const std::string& path, const TextReader& read) {
  std::vector<std::pair<std::string, std::string>> chain;
  return tree_from_file(fs::path(path), chain, &read);
}

ConfigTree parse_yaml_text(const std::string& text, const std::string& source) {
  std::vector<std::pair<std::string, std::string>> chain;
  return tree_from_text(text, source, fs::current_path(), chain, nullptr);
}

void merge_into(ConfigTree& base, const ConfigTree& over) {
  merge_node(base.root, base.origins, over.root, over.origins, "");
}

namespace {

// The index of the entry of list `node` whose `name` is `name` (--set groups[single-image].weight=...);
// one ConfigError line listing the names there are, with the closest suggested, when none is.
size_t entry_named(const Json& node, const std::string& name, const std::string& path, const std::string& origin) {
  if (!node.is_array()) {
    throw ConfigError(
        fmt::format("{}: '{}' is not a list in the config files, so it has no entry named '{}'", origin, path, name));
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    const Json& e = node[i];
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) continue;
    if (e["name"].get<std::string>() == name) return i;
    names.push_back(e["name"].get<std::string>());
  }
  const std::string close = closest_key(name, names);
  throw ConfigError(
      fmt::format("{}: '{}' has no entry named '{}'{} (entries: {})", origin, path, name,
                  close.empty() ? "" : " (did you mean '" + close + "'?)",
                  names.empty() ? std::string("none with a name") : fmt::format("{}", fmt::join(names, ", "))));
}

}  // namespace

void apply_set(ConfigTree& tree, const std::string& assignment) {
  const std::string origin = "--set " + assignment;
  size_t eq = assignment.find('=');
  if (eq == std::string::npos) {
    throw ConfigError(fmt::format("{}: expected key.path=value", origin));
  }
  std::string key = trim(assignment.substr(0, eq));
  std::vector<std::string> parts = split_path(key);
  if (parts.empty() || parts.front()[0] == '[') {
    throw ConfigError(
        fmt::format("{}: '{}' is not a key path like model.llm.layers or data.sources[0].weight", origin, key));
  }
  // Resolve the target node, creating maps on the way.
  Json* cur = &tree.root;
  std::string path;
  for (const auto& part : parts) {
    if (part[0] == '[') {
      const std::string inner = part.substr(1, part.size() - 2);
      size_t idx = 0;
      if (inner.find_first_not_of("0123456789") == std::string::npos) {
        idx = std::stoul(inner);
        if (!cur->is_array() || idx >= cur->size()) {
          throw ConfigError(
              fmt::format("{}: '{}' has no element {} in the config files (set the whole list: --set {}=[...])", origin,
                          path, part, path));
        }
      } else {
        idx = entry_named(*cur, inner, path, origin);
      }
      path += "[" + std::to_string(idx) + "]";
      cur = &(*cur)[idx];
    } else {
      if (cur->is_null()) *cur = Json::object();
      if (!cur->is_object()) {
        throw ConfigError(
            fmt::format("{}: '{}' is not a map, it holds {}", origin, path.empty() ? "config" : path, cur->dump()));
      }
      path = join_key(path, part);
      if (!cur->contains(part)) tree.origins[path] = origin;  // a map this --set creates
      cur = &(*cur)[part];
    }
  }
  // Parse the value as YAML (so lists and maps work) and merge it in like a file would.
  YAML::Node value = parse_yaml(assignment.substr(eq + 1), origin, false);
  Json parsed;
  Origins value_origins;
  value_origins[path] = origin;
  Budget budget;
  convert(value, path, origin, false, parsed, value_origins, budget);
  merge_node(*cur, tree.origins, parsed, value_origins, path);
  tree.origins[path] = origin;
}

}  // namespace mm::cfg
