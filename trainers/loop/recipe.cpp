#include "trainers/loop/recipe.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/config/config.h"
#include "core/config/config_tree.h"
#include "models/llm/hf_import.h"
#include "models/presets.h"
#include "models/vision/hf_vision_import.h"
#include "trainers/loop/recipe_tokenizer.h"

namespace fs = std::filesystem;

namespace mm::train {

size_t Recipe::index_of(const std::string& name) const {
  std::string names;
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].train.stage == name) return i;
    names += (i ? ", " : "") + stages[i].train.stage;
  }
  MM_FAIL("{}: no stage named '{}' (stages: {})", path, name, names);
}

namespace {

// The sub-tree of `tree` under key path `prefix` (e.g. "stages[1]"), with its origins.
cfg::ConfigTree subtree(const cfg::ConfigTree& tree, const cfg::Json& node, const std::string& prefix) {
  cfg::ConfigTree out;
  out.root = node;
  for (const auto& [k, origin] : tree.origins) {
    if (k == prefix)
      out.origins[""] = origin;
    else if (k.rfind(prefix + ".", 0) == 0)
      out.origins[k.substr(prefix.size() + 1)] = origin;
  }
  if (!out.origins.count("")) out.origins[""] = tree.origin_of(prefix);
  return out;
}

// Where the user wrote `path` (the recipe, a stage file or --set), "" when nowhere or only in a model
// preset (configs/models/<preset>.yaml) or the defaults.
std::string explicit_origin(const cfg::ConfigTree& tree, const std::string& path) {
  auto it = tree.origins.find(path);
  if (it == tree.origins.end()) return "";
  if (it->second.rfind("--set ", 0) == 0) return it->second;
  const size_t colon = it->second.find_last_of(':');
  const fs::path file(colon == std::string::npos ? it->second : it->second.substr(0, colon));
  const auto names = model_preset_names();
  const bool preset = file.parent_path().filename() == "models" && file.extension() == ".yaml" &&
                      std::find(names.begin(), names.end(), file.stem().string()) != names.end();
  return preset ? "" : it->second;
}

// A scalar of the tree (kept as written) or of config.json, as text.
std::string scalar_text(const cfg::Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  try {
    size_t ia = 0, ib = 0;
    const double x = std::stod(a, &ia), y = std::stod(b, &ib);
    return ia == a.size() && ib == b.size() && x == y;
  } catch (const std::exception&) {
    return false;
  }
}

// model.llm.from: hf:DIR, applied to the stage's tree before it is read: every key config.json
// determines takes the folder's value; a key the user wrote that disagrees is one error naming both.
// Then the folder's tokenizer (recipe_tokenizer.h).
void apply_pretrained_decoder(cfg::ConfigTree& tree) {
  const cfg::Json& root = tree.root;
  if (!root.contains("model") || !root["model"].is_object() || !root["model"].contains("llm") ||
      !root["model"]["llm"].is_object())
    return;
  const cfg::Json& llm_node = root["model"]["llm"];
  if (!llm_node.contains("from") || !llm_node["from"].is_string() || llm_node["from"].get<std::string>().empty())
    return;
  const std::string from = cfg::detail::resolve_input_path(llm_node["from"].get<std::string>(),
                                                           tree.origin_of("model.llm.from"), cfg::input_path());
  const llm::HfDecoder dec = llm::read_hf_decoder(from);
  const int64_t default_hd = dec.llm.dim / dec.llm.heads;
  for (const auto& k : llm::hf_decoder_keys(dec)) {
    const std::string path = "model.llm." + k.key;
    cfg::Json* node = &tree.root["model"]["llm"];
    for (size_t b = 0, e; b <= k.key.size(); b = e + 1) {  // walk (creating) "rope_scaling.factor"
      e = std::min(k.key.find('.', b), k.key.size());
      if (!node->is_object()) *node = cfg::Json::object();
      node = &(*node)[k.key.substr(b, e - b)];
    }
    const std::string theirs = scalar_text(k.value), where = explicit_origin(tree, path);
    if (!where.empty() && !node->is_null() && !node->is_object()) {
      const std::string ours = scalar_text(*node);
      if (k.user_wins) continue;
      if (k.key == "max_seq_len") {
        if (!same_value(ours, theirs) && std::stod(ours) > std::stod(theirs))
          throw cfg::ConfigError(fmt::format("model.llm.max_seq_len: {} in {} exceeds {} of {} in {}", ours, where,
                                             theirs, k.source, dec.config_file));
        continue;  // a shorter RoPE cache
      }
      if (k.key == "vocab_size" && std::stod(ours) >= std::stod(theirs)) continue;  // grown rows (added tokens)
      const bool same =
          same_value(ours, theirs) ||
          (k.key == "head_dim" && (same_value(ours, std::to_string(default_hd)) || same_value(ours, "0")) &&
           same_value(theirs, "0"));
      if (!same)
        throw cfg::ConfigError(fmt::format("model.llm.{}: {} in {} disagrees with {} {} in {}", k.key, ours, where,
                                           k.source, theirs, dec.config_file));
      continue;
    }
    *node = theirs;
    tree.origins[path] = dec.config_file;
  }
  apply_pretrained_tokenizer(tree, dec.dir, dec.llm.vocab_size,
                             !explicit_origin(tree, "tokenizer.chat_template").empty());
}

// model.vision.from: hf:DIR, as the decoder's: every key config.json determines takes the folder's value, a
// key the user wrote that disagrees is one error naming both; the stage's tiles must cut into whole patches
// (a tile other than the folder's image_size interpolates the position table, vision/pos_embed.h).
void apply_pretrained_vision(cfg::ConfigTree& tree) {
  const cfg::Json& root = tree.root;
  if (!root.contains("model") || !root["model"].is_object() || !root["model"].contains("vision") ||
      !root["model"]["vision"].is_object())
    return;
  const cfg::Json& node = root["model"]["vision"];
  if (!node.contains("from") || !node["from"].is_string() || node["from"].get<std::string>().empty()) return;
  const std::string from = cfg::detail::resolve_input_path(node["from"].get<std::string>(),
                                                           tree.origin_of("model.vision.from"), cfg::input_path());
  const vision::HfVision v = vision::read_hf_vision(from);
  for (const auto& k : vision::hf_vision_keys(v)) {
    const std::string path = "model.vision." + k.key;
    cfg::Json& slot = tree.root["model"]["vision"][k.key];
    const std::string theirs = scalar_text(k.value), where = explicit_origin(tree, path);
    if (!where.empty() && !slot.is_null() && !slot.is_object()) {
      if (!same_value(scalar_text(slot), theirs))
        throw cfg::ConfigError(fmt::format("model.vision.{}: {} in {} disagrees with {} {} in {}", k.key,
                                           scalar_text(slot), where, k.source, theirs, v.config_file));
      continue;
    }
    slot = theirs;
    tree.origins[path] = v.config_file;
  }
  int64_t tile = ImageConfig{}.tile_size;
  if (root.contains("image") && root["image"].is_object() && root["image"].contains("tile_size")) {
    try {
      tile = std::stoll(scalar_text(root["image"]["tile_size"]));
    } catch (const std::exception&) {
      return;  // not a number: the image config's own check names it
    }
  }
  if (tile % v.vision.patch_size != 0)
    throw cfg::ConfigError(fmt::format(
        "image.tile_size: {} in {} is not a multiple of patch_size {} of {} (model.vision.from): a tile is cut "
        "into whole patches (e.g. {} or {})",
        tile, tree.origin_of("image.tile_size"), v.vision.patch_size, v.config_file,
        std::max<int64_t>(1, tile / v.vision.patch_size) * v.vision.patch_size,
        (tile / v.vision.patch_size + 1) * v.vision.patch_size));
}

}  // namespace

Recipe load_recipe(const std::string& path, const std::vector<std::string>& sets) {
  MM_CHECK(fs::exists(path), "{}: no such recipe file", path);
  Recipe recipe;
  recipe.path = path;
  cfg::ConfigTree base = cfg::load_yaml_file(path);
  cfg::Json stages = cfg::Json::array();
  if (base.root.contains("stages")) {
    stages = base.root["stages"];
    base.root.erase("stages");
    if (!stages.is_array() || stages.empty())
      throw cfg::ConfigError(
          fmt::format("stages: expected a non-empty list of stage entries ({})", base.origin_of("stages")));
  }
  // --set entries: "stages.NAME.key=value" apply to one stage, the rest to all.
  std::vector<std::string> common;
  std::vector<std::pair<std::string, std::string>> per_stage;  // (stage, "key=value")
  for (const auto& s : sets) {
    if (s.rfind("stages.", 0) == 0) {
      auto dot = s.find('.', 7);
      auto eq = s.find('=');
      if (dot == std::string::npos || (eq != std::string::npos && dot > eq))
        throw cfg::ConfigError(fmt::format("--set {}: expected stages.NAME.key=value", s));
      per_stage.emplace_back(s.substr(7, dot - 7), s.substr(dot + 1));
    } else {
      common.push_back(s);
    }
  }

  const size_t n = stages.empty() ? 1 : stages.size();
  std::set<std::string> seen;
  std::set<std::string> used_stage_sets;
  for (size_t i = 0; i < n; ++i) {
    cfg::ConfigTree tree = base;
    std::string name;
    const std::string where = fmt::format("stages[{}]", i);
    if (!stages.empty()) {
      cfg::Json entry = stages[i];
      if (!entry.is_object())
        throw cfg::ConfigError(fmt::format("{}: expected a map with `stage: NAME`, got {} ({})", where, entry.dump(),
                                           base.origin_of(where)));
      if (!entry.contains("stage") || !entry["stage"].is_string() || entry["stage"].get<std::string>().empty())
        throw cfg::ConfigError(fmt::format("{}: missing `stage: NAME` ({})", where, base.origin_of(where)));
      name = entry["stage"].get<std::string>();
      entry.erase("stage");
      // Stage-level inherit: files relative to the recipe, merged under the entry's own keys.
      cfg::ConfigTree stage_tree;
      if (entry.contains("inherit")) {
        cfg::Json inh = entry["inherit"];
        entry.erase("inherit");
        if (inh.is_string()) inh = cfg::Json::array({inh});
        if (!inh.is_array())
          throw cfg::ConfigError(
              fmt::format("{}.inherit: expected a list of files ({})", where, base.origin_of(where + ".inherit")));
        for (const auto& f : inh) {
          fs::path p = f.get<std::string>();
          if (p.is_relative()) p = fs::absolute(fs::path(path).parent_path() / p).lexically_normal();
          if (!fs::exists(p))
            throw cfg::ConfigError(
                fmt::format("{}.inherit: no such file {} ({})", where, p.string(), base.origin_of(where + ".inherit")));
          cfg::merge_into(stage_tree, cfg::load_yaml_file(p.string()));
        }
      }
      cfg::merge_into(stage_tree, subtree(base, entry, where));
      cfg::merge_into(tree, stage_tree);
    } else {
      name =
          tree.root.contains("train") && tree.root["train"].contains("stage") && tree.root["train"]["stage"].is_string()
              ? tree.root["train"]["stage"].get<std::string>()
              : TrainConfig{}.stage;
    }
    if (!seen.insert(name).second) throw cfg::ConfigError(fmt::format("{}: duplicate stage name '{}'", where, name));
    for (const auto& s : common) cfg::apply_set(tree, s);
    for (const auto& [st, s] : per_stage)
      if (st == name) cfg::apply_set(tree, s), used_stage_sets.insert(st);
    cfg::apply_set(tree, "train.stage=" + name);
    apply_pretrained_decoder(tree);
    apply_pretrained_vision(tree);
    RunConfig rc = cfg::from_tree<RunConfig>(tree);
    if (i == 0 && rc.train.init_from == "previous")
      throw cfg::ConfigError(
          fmt::format("{}: stage '{}' is the first stage: train.init_from 'previous' has no "
                      "previous stage (use '' or a checkpoint path)",
                      path, name));
    recipe.stages.push_back(std::move(rc));
  }
  for (const auto& [st, s] : per_stage)
    if (!used_stage_sets.count(st)) recipe.index_of(st);  // throws naming the stages
  return recipe;
}

std::string stage_dir(const RunConfig& stage) { return (fs::path(stage.run_dir) / stage.train.stage).string(); }

std::string resolved_recipe_yaml(const Recipe& recipe) {
  std::string out = "# The resolved recipe of this run (mmtrain train wrote it from " + recipe.path +
                    "): every stage's whole config.\n# `mmtrain train --run-dir DIR --resume auto` continues "
                    "with it.\nstages:\n";
  for (const RunConfig& stage : recipe.stages) {
    out += "  - stage: " + stage.train.stage + "\n";
    const std::string yaml = dump_yaml(stage);
    for (size_t b = 0, e; b < yaml.size(); b = e + 1) {
      e = yaml.find('\n', b);
      if (e == std::string::npos) e = yaml.size();
      if (e > b) out += "    " + yaml.substr(b, e - b) + "\n";
    }
  }
  return out;
}

}  // namespace mm::train
