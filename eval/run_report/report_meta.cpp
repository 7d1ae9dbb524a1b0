// The report's section on the run itself (report_blocks.h): model and sizes, commit, date, machine,
// wall time, links to the run's configs, checkpoints and export folder, the TensorBoard command, and
// one row of settings per stage. What the run directory does not record is said so.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "eval/run_report/report_blocks.h"

namespace fs = std::filesystem;

namespace mm::eval::report {
namespace {

// The value at `path` in a config tree as text ("" when absent).
std::string cfg(const nlohmann::ordered_json& root, std::initializer_list<const char*> path) {
  const nlohmann::ordered_json* j = &root;
  for (const char* key : path) {
    if (!j->is_object() || !j->contains(key)) return "";
    j = &(*j)[key];
  }
  return j->is_string() ? j->get<std::string>() : j->is_null() ? "" : j->dump();
}

// "debug: vision ViT 128 wide x 3 layers ...": the model section of a stage's config.
std::string model_text(const nlohmann::ordered_json& c) {
  if (cfg(c, {"model", "llm", "dim"}).empty()) return "";
  auto v = [&](std::initializer_list<const char*> p) { return cfg(c, p); };
  std::string moe = "dense";
  if (const std::string e = v({"model", "llm", "moe", "num_experts"}); !e.empty() && e != "0")
    moe = fmt::format("MoE {} experts, top-{}, every {} layers", e, v({"model", "llm", "moe", "top_k"}),
                      v({"model", "llm", "moe", "every"}));
  return fmt::format(
      "{}: image encoder ViT, {} px images in {} px patches, width {}, {} layers, {} heads; connector {}, {} "
      "tokens per image tile; decoder {} wide, {} layers, {} heads ({} key/value), FFN {}, vocabulary {}, {}",
      v({"model", "name"}), v({"model", "vision", "image_size"}), v({"model", "vision", "patch_size"}),
      v({"model", "vision", "width"}), v({"model", "vision", "layers"}), v({"model", "vision", "heads"}),
      v({"model", "connector", "type"}), v({"model", "connector", "num_tokens"}), v({"model", "llm", "dim"}),
      v({"model", "llm", "layers"}), v({"model", "llm", "heads"}), v({"model", "llm", "kv_heads"}),
      v({"model", "llm", "ffn_hidden"}), v({"model", "llm", "vocab_size"}), moe);
}

// From the train.log line "stage 'x': 400 steps x 1 micro-batches x 2 ranks x 8 sequences of 384
// tokens; 2.92M of 2.92M parameters train; adamw on cpu".
struct LogFacts {
  std::string ranks, trainable, total, device;
};
LogFacts log_facts(const std::string& line) {
  LogFacts f;
  std::smatch m;
  if (std::regex_search(line, m, std::regex(R"(x (\d+) ranks)"))) f.ranks = m[1];
  if (std::regex_search(line, m, std::regex(R"(([0-9.]+[kMGT]?) of ([0-9.]+[kMGT]?) parameters train)")))
    f.trainable = m[1], f.total = m[2];
  if (std::regex_search(line, m, std::regex(R"( on ([A-Za-z0-9:_]+)\s*$)"))) f.device = m[1];
  return f;
}

}  // namespace

std::vector<Block> meta_blocks(const Context& ctx) {
  const RunSummary& run = ctx.run;
  std::vector<Block> out;
  Table t;
  t.header = {"", ""};
  t.right = {false, false};
  auto row = [&](const std::string& key, Cell value) { t.rows.push_back({key, std::move(value)}); };
  auto link = [&](const std::string& text, const std::string& path) {
    Cell c;
    c.links.push_back({text, rel_href(path, ctx.out_dir)});
    return c;
  };
  row("run directory", link(run.run_dir, run.run_dir));
  Cell recipe = run.recipe_path.empty() && run.recipe_yaml.empty() ? Cell("not recorded") : Cell();
  if (!run.recipe_path.empty()) recipe.links.push_back({run.recipe_path, rel_href(run.recipe_path, ctx.out_dir)});
  if (!run.recipe_yaml.empty())
    recipe.links.push_back({"recipe.yaml (resolved, as training wrote it)", rel_href(run.recipe_yaml, ctx.out_dir)});
  row("recipe", recipe);

  std::string model, params;
  std::set<std::string> tb_hosts, devices;
  std::optional<double> tb_started, wall;
  bool wall_from_history = false;
  for (const auto& s : run.stages) {
    if (const std::string m = model_text(s.meta.config); !m.empty()) model = m;  // the last stage's
    const LogFacts f = log_facts(s.meta.log_line);
    if (!f.total.empty()) params = f.total;
    if (!f.device.empty()) devices.insert(f.device);
    if (!s.meta.hostname.empty()) tb_hosts.insert(s.meta.hostname);
    if (s.meta.started) tb_started = tb_started ? std::min(*tb_started, *s.meta.started) : *s.meta.started;
    if (const auto w = s.meta.history_wall_seconds ? s.meta.history_wall_seconds : s.meta.wall_seconds) {
      wall = wall.value_or(0) + *w;
      wall_from_history |= s.meta.history_wall_seconds.has_value();
    }
  }
  // The sessions of run_history.jsonl: commit, version, time, host, command.
  std::vector<std::string> commits, hosts, starts, commands;
  auto add_unique = [](std::vector<std::string>* v, const std::string& x) {
    if (!x.empty() && std::find(v->begin(), v->end(), x) == v->end()) v->push_back(x);
  };
  for (const auto& r : run.history) {
    if (r.value("event", "") != "start") continue;
    const std::string version =
        r.contains("version") && r["version"].is_string() ? r["version"].get<std::string>() : "";
    if (r.contains("commit") && r["commit"].is_string())
      add_unique(&commits, r["commit"].get<std::string>() + (version.empty() ? "" : " (mmtrain " + version + ")"));
    if (r.contains("host") && r["host"].is_string())
      add_unique(
          &hosts,
          r["host"].get<std::string>() +
              (r.contains("cpus") && r["cpus"].is_number() ? fmt::format(", {} CPUs", r["cpus"].dump()) : "") +
              (r.contains("cpu_model") && r["cpu_model"].is_string() && !r["cpu_model"].get<std::string>().empty()
                   ? " (" + r["cpu_model"].get<std::string>() + ")"
                   : ""));
    if (r.contains("time") && r["time"].is_string()) starts.push_back(r["time"].get<std::string>());
    if (r.contains("command") && r["command"].is_string()) commands.push_back(r["command"].get<std::string>());
  }
  row("model", model.empty() ? "not recorded (no stage config.yaml with a model section)" : model);
  row("parameters", params.empty() ? "not recorded (no stage line in train.log)" : params + " (train.log)");
  row("commit", commits.empty() ? "not recorded (no run_history.jsonl with a commit in the run directory)"
                                : fmt::format("{} (run_history.jsonl)", fmt::join(commits, "; ")));
  if (!starts.empty())
    row("started", fmt::format("{} (run_history.jsonl{})", starts.front(),
                               starts.size() > 1 ? fmt::format("; {} sessions", starts.size()) : ""));
  else
    row("started", tb_started ? utc_time(*tb_started) + " (the first TensorBoard event)" : "not recorded");
  std::string machine = !hosts.empty()      ? fmt::format("host {} (run_history.jsonl)", fmt::join(hosts, "; "))
                        : !tb_hosts.empty() ? fmt::format("host {} (TensorBoard file names)", fmt::join(tb_hosts, ", "))
                                            : "host not recorded";
  machine +=
      devices.empty() ? "; device not recorded" : fmt::format("; device {} (train.log)", fmt::join(devices, ", "));
  row("machine", machine);
  for (size_t i = 0; i < commands.size(); ++i) {
    Cell c(commands[i]);
    c.code = true;
    row(commands.size() > 1 ? fmt::format("command (session {})", i + 1) : "command", c);
  }
  std::string w = wall ? fmt::format("{} in the stages ({})", duration(*wall),
                                     wall_from_history ? "run_history.jsonl" : "their TensorBoard spans, summed")
                       : "stages: not recorded";
  if (run.wall_seconds)
    w += fmt::format("; {} in all, as measured (demo_time.txt: {:.0f} s)", duration(*run.wall_seconds),
                     *run.wall_seconds);
  row("wall time", w);
  if (!run.export_dir.empty())
    row("export", link("export/", run.export_dir));
  else
    row("export", "none (no export/ folder)");
  const fs::path log = fs::path(run.run_dir) / "train.log";
  if (fs::is_regular_file(log)) row("log", link("train.log", log.string()));
  out.push_back(table_block(std::move(t)));
  out.push_back(paragraph("The curves of every scalar logged, in TensorBoard:"));
  out.push_back(code_block("tensorboard --logdir " + run.run_dir));

  // One row per stage.
  Table st;
  st.header = {"stage",     "steps",  "optimizer",  "batch (sequences x tokens)", "image mode", "trains", "started",
               "wall time", "config", "checkpoints"};
  st.right = {false, true, false, false, false, true, false, true, false, false};
  for (const auto& s : run.stages) {
    const auto& c = s.meta.config;
    const LogFacts f = log_facts(s.meta.log_line);
    std::string steps = std::to_string(s.steps);
    if (const std::string planned = cfg(c, {"train", "steps"}); !planned.empty() && planned != steps)
      steps += " of " + planned;
    std::string opt = "-";
    if (!cfg(c, {"optimizer", "name"}).empty()) {
      opt = fmt::format("{}, lr {}", cfg(c, {"optimizer", "name"}), cfg(c, {"optimizer", "lr"}));
      if (!cfg(c, {"schedule", "kind"}).empty())
        opt += fmt::format(", {} ({} warm-up)", cfg(c, {"schedule", "kind"}), cfg(c, {"schedule", "warmup_steps"}));
    }
    std::string batch = "-";
    const std::string micro = cfg(c, {"loader", "micro_batch"}), accum = cfg(c, {"train", "grad_accum"}),
                      seq = cfg(c, {"loader", "seq_len"});
    if (!micro.empty() && !seq.empty()) {
      const std::string ranks = f.ranks.empty() ? "1" : f.ranks;
      try {
        const int64_t n = std::stoll(ranks) * std::stoll(micro) * std::stoll(accum.empty() ? "1" : accum);
        batch = fmt::format("{} x {} ({} rank(s) x {} x {})", n, seq, ranks, micro, accum.empty() ? "1" : accum);
      } catch (const std::exception&) {
        batch = fmt::format("{} x {}", micro, seq);
      }
    }
    std::string image = cfg(c, {"image", "mode"});
    if (!image.empty() && !cfg(c, {"image", "tile_size"}).empty())
      image += fmt::format(", {} px tiles", cfg(c, {"image", "tile_size"}));
    if (image.empty()) image = "-";
    Cell config = s.meta.config_path.empty() ? Cell("-") : Cell();
    if (!s.meta.config_path.empty()) config.links.push_back({"config.yaml", rel_href(s.meta.config_path, ctx.out_dir)});
    Cell ckpts = s.meta.checkpoints.empty() ? Cell("none kept") : Cell();
    for (const auto& p : s.meta.checkpoints)
      ckpts.links.push_back({fs::path(p).filename().string(), rel_href(p, ctx.out_dir)});
    st.rows.push_back({s.name, steps, opt, batch, image, f.trainable.empty() ? "-" : f.trainable,
                       s.meta.started ? utc_time(*s.meta.started) : "not recorded",
                       s.meta.history_wall_seconds ? duration(*s.meta.history_wall_seconds)
                       : s.meta.wall_seconds       ? duration(*s.meta.wall_seconds)
                                                   : "not recorded",
                       config, ckpts});
  }
  out.push_back(heading("Stages", 3));
  out.push_back(table_block(std::move(st)));
  out.push_back(paragraph(
      "steps: logged (of train.steps when they differ); sequences per step = ranks x loader.micro_batch x "
      "train.grad_accum (ranks from train.log); trains: parameters updated (train.log); started: the stage's first "
      "TensorBoard event; wall time: run_history.jsonl's stage ends when the run has one, else the stage's first to "
      "last TensorBoard event (training, evaluations and checkpoints).",
      "note"));
  return out;
}

}  // namespace mm::eval::report
