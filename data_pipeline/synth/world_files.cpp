// The files that describe a synthetic world (world_files.h): its README.md, and the recipe
// fragments common.yaml and stages/*.yaml that configs/recipes/debug.yaml inherits.
#include "data_pipeline/synth/world_files.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>

#include "core/config/config.h"
#include "core/config/run_config.h"
#include "core/config/tokenizer_config.h"
#include "core/io.h"

namespace mm::data::synth {

namespace fs = std::filesystem;

namespace {

// The fields of `value` that differ from T's defaults (keys from T's visit(), nested structs and
// lists of structs the same way): a recipe fragment sets what it means to set and nothing else,
// so it overrides no other parent's keys with defaults.
template <class T>
cfg::Json changed_fields(const T& value) {
  const cfg::Json defaults = cfg::to_ordered_json(T{});
  cfg::Json out = cfg::Json::object();
  auto add = [&](const char* key, auto& field, const char*, const cfg::Rule& = cfg::Rule{}) {
    using F = std::decay_t<decltype(field)>;
    if constexpr (cfg::detail::has_visit<F>::value) {
      cfg::Json j = changed_fields(field);
      if (!j.empty()) out[key] = std::move(j);
    } else if (cfg::Json j = cfg::to_ordered_json(field); j != defaults.at(key)) {
      if constexpr (cfg::detail::is_vector<F>::value) {
        if constexpr (cfg::detail::has_visit<typename F::value_type>::value) {
          j = cfg::Json::array();
          for (const auto& item : field) j.push_back(changed_fields(item));
        }
      }
      out[key] = std::move(j);
    }
  };
  const_cast<T&>(value).visit(add);  // visit() is non-const by convention; `add` only reads
  return out;
}

}  // namespace

void write_world_readme(const SynthConfig& config, const fs::path& dir, const World& world,
                        const SynthSummary& summary) {
  std::string md = fmt::format(
      "# The synthetic world\n\n"
      "Written by `mmtrain data synth` (seed {}, tile {} px). Same seed and settings give the same bytes.\n"
      "Regenerate with `mmtrain data synth --out DIR --seed {}` plus the `--set synth.KEY=VALUE` overrides used.\n"
      "Formats are the real ones of docs/data_formats.md; image paths are relative to the JSONL file's folder.\n\n"
      "Shapes: {} in {}; answers use this small vocabulary, digits and the words on signs.\n"
      "Text is drawn with a cap height of {:.1f} px: legible with the dynamic split (tiles of {} px),\n"
      "not in one downscaled tile. Receipts are tall and strips are long (unusual aspect ratios).\n"
      "Boxes are `[x1, y1, x2, y2]` on the 0..999 grid of the whole image (pixel edges, x' = int(x*1000/W)).\n\n"
      "| file | stage | format | category | metric | samples | images |\n|---|---|---|---|---|---|---|\n",
      config.seed, config.tile, config.seed, "circle, square, triangle, star",
      "red, green, blue, yellow, purple, orange", world.text.cap_px, config.tile);
  for (const auto& s : summary.sets)
    md += fmt::format("| `{}` | {} | {} | {} | {} | {} | {} |\n", s.path, s.stage, s.format, s.category,
                      s.metric.empty() ? "-" : s.metric, s.samples, s.images);
  md +=
      "\n## What each part is\n\n"
      "- `pretrain/captions-*.tar`: WebDataset shards, members `KEY.png` + `KEY.txt` (the caption): shape scenes\n"
      "  and signs.\n"
      "- `pretrain/interleaved.jsonl`: OBELICS layout `{\"texts\": [...], \"images\": [...]}`, position i holds a\n"
      "  text or an image (null in the other list).\n"
      "- `pretrain/text.jsonl`: `{\"text\"}` documents: arithmetic, facts, descriptions (held-out sums excluded).\n"
      "- `ocr/{docs,receipts,strips,signs}.jsonl`: the OCR stage's four sources, `{\"image\", \"caption\"}` where\n"
      "  the caption is the exact transcription (lines joined by newlines). Sample them equally per batch.\n"
      "- `sft/*.jsonl`: LLaVA conversations per category: general (colour, kind, count, side, exists),\n"
      "  text_rich (documents, receipts, strips, signs), refer_ground (grounding answers a box; referring\n"
      "  prompts give one), knowledge (count and add, compare sizes as multiple choice, rendered sums),\n"
      "  multi_image (2-3 images: more shapes, which has, both have a colour, common colour),\n"
      "  text_only (arithmetic and facts).\n"
      "- `eval/*.jsonl`: held-out benchmarks, one JSON per line: `id, benchmark, category, metric, task,\n"
      "  question` (with `<image>` placeholders), `images` (paths), `answers` (references), `choices` for\n"
      "  multiple choice; `text_ppl` scores the perplexity of its answer (an empty question). Drawn from a different "
      "seed stream than training;\n"
      "  text-only arithmetic holds out an eighth of the operand pairs and facts use a phrasing never trained.\n"
      "- `tokenizer/corpus.txt`: every training text; `tokenizer/spm.model` (+ `.vocab`): SentencePiece trained\n"
      "  on it with the special tokens of the default tokenizer config (`<image>`, role markers, indicators).\n"
      "- `stages/{pretrain,ocr,sft}.yaml`: each stage's `data:` section (sources: name, format, path, category,\n"
      "  weight; the mixture), and `common.yaml`: the tokenizer model and the eval sets; paths relative to\n"
      "  the file that names them (so the folder can move), for recipes to inherit (configs/recipes/debug.yaml).\n";
  io::write_file_atomic((dir / "README.md").string(), md);
}

void write_world_configs(const SynthConfig& config, const fs::path& dir, const SynthSummary& summary) {
  // Config fragments a recipe inherits (configs/recipes/debug.yaml): stages/<stage>.yaml holds a
  // RunConfig `data:` section (sources + mixture), common.yaml the tokenizer and the eval sets.
  // Both are RunConfig values written by changed_fields(): the keys are the config structs'.
  // Paths are relative to the file that names them (docs/configuration.md, "Paths"): stages/*.yaml
  // sit one folder below the world, common.yaml in it, so a moved world keeps working.
  // Each stage's mixture follows the paper's shape: pretraining caption : interleaved : text =
  // 50 : 10 : 40; the four OCR sources equally in every batch; SFT single-image 0.8 (alphas to
  // general; knowledge stands for math + code + science = 0.8), multi-image 0.1, text-only 0.1.
  auto group = [](const std::string& name, double weight) {
    MixtureGroupConfig g;
    g.name = name, g.weight = weight;
    return g;
  };
  std::map<std::string, MixtureConfig> mixtures;
  mixtures["pretrain"].groups = {group("caption", 50), group("interleaved", 10), group("text", 40)};
  mixtures["ocr"].sampling = "per_batch";
  MixtureGroupConfig single = group("single-image", 0.8);
  single.reference = "general";
  for (const auto& [name, alpha] : std::vector<std::pair<std::string, double>>{
           {"general", 1.0}, {"text-rich", 3.3}, {"refer&ground", 2.0}, {"knowledge", 0.8}}) {
    MixtureCategoryConfig c;
    c.name = name, c.alpha = alpha;
    single.categories.push_back(c);
  }
  mixtures["sft"].groups = {single, group("multi-image", 0.1), group("text-only", 0.1)};

  fs::create_directories(dir / "stages");
  for (const std::string stage : {"pretrain", "ocr", "sft"}) {
    RunConfig run;
    for (const auto& s : summary.sets) {
      if (s.stage != stage) continue;
      SourceConfig src;
      src.name = s.name, src.format = s.format, src.path = "../" + s.path, src.category = s.category;
      run.data.sources.push_back(src);
    }
    run.data.mixture = mixtures.at(stage);
    io::write_file_atomic(dir / "stages" / (stage + ".yaml"),
                          fmt::format("# The {} stage's data in the synthetic world (mmtrain data synth, seed {}).\n",
                                      stage, config.seed) +
                              cfg::emit_yaml(changed_fields(run)));
  }
  RunConfig common;
  std::string sets;
  for (const auto& s : summary.sets) {
    if (s.stage != "eval") continue;
    common.eval.sets.push_back(s.path);
    sets += fmt::format("#   {}: {}, {}\n", s.name, s.category, s.metric);
  }
  if (!summary.tokenizer_model.empty()) common.tokenizer.model_path = summary.tokenizer_model;
  io::write_file_atomic(
      dir / "common.yaml",
      fmt::format("# Tokenizer and held-out eval sets of the synthetic world (seed {}); the sets in order:\n",
                  config.seed) +
          sets + cfg::emit_yaml(changed_fields(common)));
}

}  // namespace mm::data::synth
