// mmtrain info: prints the resolved configuration (YAML, or one JSON object with --json), its
// hash, the model summary (parameters per component, image tokens), the data mixture's effective shares
// and the reference of every config key (--keys).
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/config/config.h"
#include "core/config/run_config.h"
#include "data_pipeline/mixture/mixture_plan.h"  // effective mixture shares
#include "models/llm/hf_import.h"                // model.llm.from: what the folder holds
#include "models/model_size.h"                   // model summary
#include "models/vision/hf_vision_import.h"      // model.vision.from: what the folder holds
#include "tokenizer/hub_tokens.h"                // the tokenizer block
#include "tokenizer/tokenizer.h"
#include "trainers/loop/preflight.h"
#include "trainers/loop/recipe.h"
#include "trainers/plan/memory_plan.h"  // --plan

namespace mm::cli {
namespace {

struct InfoArgs {
  std::string config;
  std::vector<std::string> sets;
  bool json = false;
  bool keys = false;
  std::string stage;
  bool plan = false;  // --plan: the memory planner instead of the config
  int64_t world = 1;
  std::string gpu_memory = "80GiB";
  int64_t tiles = -1;
  int64_t batch_tiles = -1;
  std::string plan_device = "auto";
};

// --plan: per-rank memory of every shard mode, per stage of a recipe (or the --stage one).
void print_plan(const InfoArgs& a, const train::Recipe& recipe) {
  const int64_t budget = train::parse_bytes(a.gpu_memory, "info: --gpu-memory");
  MM_CHECK(a.world >= 1, "info: --world must be >= 1, got {}", a.world);
  MM_CHECK(a.tiles >= -1, "info: --tiles must be >= 0 (or -1 for the image config's split), got {}", a.tiles);
  train::PlanOptions opt;
  opt.world = a.world;
  opt.tiles_per_seq = a.tiles;
  opt.batch_tiles = a.batch_tiles;
  opt.device = a.plan_device;
  cfg::Json stages = cfg::Json::array();
  for (size_t i = 0; i < recipe.stages.size(); ++i) {
    if (!a.stage.empty() && i != recipe.index_of(a.stage)) continue;
    const RunConfig& st = recipe.stages[i];
    const train::MemoryPlan plan = train::plan_memory(st, opt);
    if (a.json) {
      auto j = train::plan_json(st, plan, opt, budget);
      j["stage"] = st.train.stage;
      stages.push_back(j);
    } else {
      if (recipe.stages.size() > 1) std::cout << "# stage " << st.train.stage << "\n";
      std::cout << train::plan_text(st, plan, opt, budget);
    }
  }
  if (a.json) std::cout << cfg::Json{{"config", a.config}, {"stages", stages}}.dump(2) << "\n";
}

// The key reference as a Markdown table (docs/configuration.md embeds this output).
void print_keys() {
  std::cout << "| key | type | default | constraint | meaning |\n|---|---|---|---|---|\n";
  for (const auto& k : cfg::key_reference<RunConfig>()) {
    std::string def = k.default_value;
    for (size_t p = def.find('|'); p != std::string::npos; p = def.find('|', p + 2)) def.replace(p, 1, "\\|");
    std::string rule = k.rule, doc = k.doc;
    for (std::string* s : {&rule, &doc})
      for (size_t p = s->find('|'); p != std::string::npos; p = s->find('|', p + 2)) s->replace(p, 1, "\\|");
    std::cout << fmt::format("| `{}` | {} | {} | {} | {} |\n", k.path, k.section ? "section" : k.type,
                             def.empty() ? "" : "`" + def + "`", rule, doc);
  }
}

void run_info(const InfoArgs& a) {
  if (a.keys) {
    print_keys();
    return;
  }
  MM_CHECK(!a.config.empty(), "info: --config FILE is required (or --keys for the key reference)");
  // A recipe shows one stage (--stage, default the first) and lists the others.
  const train::Recipe recipe = train::load_recipe(a.config, a.sets);
  const RunConfig cfg = recipe.stages[a.stage.empty() ? 0 : recipe.index_of(a.stage)];
  init_logging(cfg);  // log.level / MM_LOG_LEVEL; info writes no run directory
  if (a.plan) {
    print_plan(a, recipe);
    return;
  }
  const std::string hash = config_hash(cfg);
  // Every stage checked as training would before step 1; files missing here are listed, not failed.
  train::PreflightOptions pre_opts;
  pre_opts.require_files = false;
  const train::PreflightReport pre = train::preflight(recipe, pre_opts);
  std::vector<std::string> pretrained;  // model.llm.from: what was read (its errors stop here, before training)
  if (!cfg.model.llm.from.empty()) {
    const auto dec = llm::read_hf_decoder(cfg.model.llm.from);
    pretrained = llm::describe_hf_decoder(dec, hf::list_weights(dec.dir));
  }
  std::vector<std::string> pretrained_vision;  // model.vision.from: what was read
  if (!cfg.model.vision.from.empty()) {
    const auto v = vision::read_hf_vision(cfg.model.vision.from);
    pretrained_vision = vision::describe_hf_vision(v, hf::list_weights(v.dir), cfg.model.vision, cfg.image.tile_size);
  }
  std::vector<std::string> tokenizer;  // kind, file, vocabulary, added tokens, chat template
  if (!cfg.tokenizer.model_path.empty() && std::filesystem::is_regular_file(cfg.tokenizer.model_path))
    tokenizer = tok::describe_tokenizer(tok::Tokenizer::load(cfg.tokenizer));
  if (a.json) {
    cfg::Json out = cfg::Json::object();
    out["config"] = cfg::to_ordered_json(cfg);
    out["config_hash"] = hash;
    // The model summary (models/model_size.h): "params" per component, total and active (MoE).
    const auto summary = model_summary_json(cfg.model);
    out["params"] = summary["params"];
    out["model_summary"] = summary;
    if (!pretrained.empty()) out["pretrained_decoder"] = pretrained;
    if (!pretrained_vision.empty()) out["pretrained_vision"] = pretrained_vision;
    if (!tokenizer.empty()) out["tokenizer"] = tokenizer;
    if (!cfg.data.sources.empty())
      out["mixture"] = data::compute_mixture_plan(cfg.data.mixture, cfg.data.sources).to_json();
    out["preflight"] = {{"problems", pre.problems}, {"not_on_this_machine", pre.missing}};
    std::cout << out.dump(2) << "\n";
  } else {
    if (recipe.stages.size() > 1) {
      std::cout << "# recipe " << a.config << ": " << recipe.stages.size() << " stages (--stage NAME shows one)\n";
      for (const auto& st : recipe.stages)
        std::cout << fmt::format("#   {:<10} {:>7} steps  image {:<8} {} lr {:.2g}  {} source(s)  init_from '{}'\n",
                                 st.train.stage, st.train.steps, st.image.mode, st.optimizer.name, st.optimizer.lr,
                                 st.data.sources.size(), st.train.init_from);
    }
    std::cout << "# resolved config of " << a.config
              << (recipe.stages.size() > 1 ? ", stage " + cfg.train.stage : std::string()) << " (config_hash " << hash
              << ")\n"
              << dump_yaml(cfg) << model_summary_text(cfg.model);
    for (const auto& line : pretrained) std::cout << "# " << line << "\n";
    for (const auto& line : pretrained_vision) std::cout << "# " << line << "\n";
    for (const auto& line : tokenizer) std::cout << "# " << line << "\n";
    if (!cfg.data.sources.empty()) {  // the mixture's effective shares, as comments (the output stays YAML)
      std::cout << "# mixture: effective share of every group, category and source\n";
      const std::string table = data::compute_mixture_plan(cfg.data.mixture, cfg.data.sources).to_table();
      for (size_t b = 0, e; b < table.size(); b = e + 1) {
        e = table.find('\n', b);
        if (e == std::string::npos) e = table.size();
        std::cout << "#   " << table.substr(b, e - b) << "\n";
      }
    }
    std::cout << fmt::format("# pre-flight of the {} stage(s): {}\n", pre.stages_checked,
                             pre.ok() ? "no problem" : std::to_string(pre.problems.size()) + " problem(s)");
    for (const auto& p : pre.problems) std::cout << "#   problem: " << p << "\n";
    for (const auto& m : pre.missing) std::cout << "#   not on this machine: " << m << "\n";
  }
  if (!pre.ok()) {
    std::cerr << "mmtrain: error: " << pre.to_text(a.config) << "\n";
    throw CLI::RuntimeError(1);
  }
}

}  // namespace

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Print the resolved configuration (and the model summary)");
  auto args = std::make_shared<InfoArgs>();
  cmd->add_option("--config", args->config, "YAML config file (inherit: chains are followed)");
  cmd->add_option("--set", args->sets,
                  "override a key, value parsed as YAML: a.b.c=value, "
                  "a.list=[1,2], a.map={k: v} (repeatable, later wins)");
  cmd->add_flag("--json", args->json, "print one JSON object {\"config\": ..., \"config_hash\": ...}");
  cmd->add_option("--stage", args->stage, "stage of a recipe to show (default: the first)");
  cmd->add_flag("--plan", args->plan,
                "print the memory plan instead: per-rank bytes of parameters, gradients, optimizer state and "
                "activations for every dist.shard mode, and the smallest world size that fits");
  cmd->add_option("--world", args->world, "--plan: ranks (data-parallel world size)")->capture_default_str();
  cmd->add_option("--gpu-memory", args->gpu_memory, "--plan: memory per rank, e.g. 80GiB, 80GB, 81920MiB")
      ->capture_default_str();
  cmd->add_option("--tiles", args->tiles, "--plan: image tiles per sequence (-1: one image split as image: says)")
      ->capture_default_str();
  cmd->add_option("--batch-tiles", args->batch_tiles,
                  "--plan: image tiles of a whole micro-batch, overriding --tiles (e.g. max_batch_tiles of a run's "
                  "metrics.jsonl)")
      ->capture_default_str();
  cmd->add_option("--plan-device", args->plan_device,
                  "--plan: whose saved tensors to count: cuda (LibTorch 2.x, bf16 autocast) | cpu (LibTorch 1.13, "
                  "fp32) | auto (cpu when train.device is cpu)")
      ->capture_default_str();
  cmd->add_flag("--keys", args->keys, "print the reference of every config key (Markdown table)");
  cmd->callback([args]() { run_info(*args); });
}

}  // namespace mm::cli
