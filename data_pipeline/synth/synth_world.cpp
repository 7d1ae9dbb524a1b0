#include "data_pipeline/synth/synth_world.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "core/check.h"
#include "core/config/config.h"
#include "core/config/run_config.h"
#include "core/config/tokenizer_config.h"
#include "core/hash.h"
#include "core/logging.h"
#include "core/timer.h"
#include "data_pipeline/synth/scene.h"
#include "data_pipeline/synth/tar_writer.h"
#include "data_pipeline/synth/tasks.h"
#include "data_pipeline/synth/world_files.h"
#include "tokenizer/train_tokenizer.h"

namespace mm::data::synth {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using QaMaker = std::function<Qa(CounterRng&, const World&, int)>;

struct Encoded {
  std::string rel;  // path relative to the output folder
  std::string bytes;
};

// One generated record, ready to write.
struct Item {
  std::string line;  // JSONL line, or the caption of a WebDataset sample
  std::vector<Encoded> images;
  std::string corpus;  // text for the tokenizer corpus (training sets only)
};

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  MM_CHECK(f.good(), "synth: cannot write {}", path.string());
}

std::string without_placeholders(std::string s) {
  for (size_t p; (p = s.find("<image>\n")) != std::string::npos;) s.erase(p, 8);
  for (size_t p; (p = s.find("<image>")) != std::string::npos;) s.erase(p, 7);
  return s;
}

class WorldWriter {
 public:
  WorldWriter(const SynthConfig& cfg, const std::string& out)
      : cfg_(cfg), out_(out), train_(World::from(cfg, false)), eval_(World::from(cfg, true)) {}

  SynthSummary run();

 private:
  // Runs make(i) for i in [0, n) on cfg.threads threads, in chunks, and hands the items to
  // write() in index order: the output does not depend on the number of threads.
  void generate(int64_t n, const std::function<Item(int64_t)>& make, const std::function<void(Item&)>& write);
  Encoded encode(const cv::Mat& img, const std::string& rel) const {
    return {rel, encode_image(img, cfg_.image_ext, static_cast<int>(cfg_.jpeg_quality))};
  }
  std::string image_name(int64_t i, int k = -1) const {
    return k < 0 ? fmt::format("{:06d}.{}", i, cfg_.image_ext) : fmt::format("{:06d}_{}.{}", i, k, cfg_.image_ext);
  }
  CounterRng rng_for(const std::string& set, int64_t i) const {
    return CounterRng(cfg_.seed, fnv1a64(set), static_cast<uint64_t>(i));
  }

  void write_captions_wds(const std::string& name, int64_t n);
  void write_jsonl(SynthSetSummary set, int64_t n, const std::function<Item(int64_t, const std::string&)>& make);
  void write_interleaved(int64_t n);
  void write_text(int64_t n);
  void write_ocr(int kind, int64_t n);
  void write_sft(const std::string& name, const std::string& category, int64_t n, const QaMaker& make);
  void write_eval(const std::string& name, const std::string& category, const std::string& metric, int64_t n,
                  const QaMaker& make, std::vector<int> tasks);
  void write_eval_ppl(int64_t n);
  void train_tokenizer(SynthSummary& summary);

  const SynthConfig& cfg_;
  fs::path out_;
  World train_, eval_;
  std::ofstream corpus_;
  SynthSummary summary_;
};

void WorldWriter::generate(int64_t n, const std::function<Item(int64_t)>& make,
                           const std::function<void(Item&)>& write) {
  const int64_t chunk = 256;
  const int threads = static_cast<int>(std::max<int64_t>(1, cfg_.threads));
  std::vector<Item> items;
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t end = std::min(n, start + chunk);
    items.assign(static_cast<size_t>(end - start), Item{});
    if (threads == 1) {
      for (int64_t i = start; i < end; ++i) items[i - start] = make(i);
    } else {
      std::atomic<int64_t> next{start};
      std::exception_ptr error;
      std::mutex error_mutex;
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
          for (int64_t i; (i = next++) < end;) {
            try {
              items[i - start] = make(i);
            } catch (...) {
              std::lock_guard<std::mutex> lock(error_mutex);
              if (!error) error = std::current_exception();
            }
          }
        });
      for (auto& th : pool) th.join();
      if (error) std::rethrow_exception(error);
    }
    for (auto& it : items) write(it);
  }
}

void WorldWriter::write_captions_wds(const std::string& name, int64_t n) {
  if (n <= 0) return;
  const Stopwatch watch;
  fs::create_directories(out_ / "pretrain");
  SynthSetSummary set{name, "pretrain", "wds", "pretrain/captions-*.tar", "caption", "", n, n, 0};
  std::unique_ptr<TarWriter> shard;
  int64_t index = 0;
  generate(
      n,
      [&](int64_t i) {
        CounterRng rng = rng_for(name, i);
        Captioned c = make_caption_pair(rng, train_);
        Item it;
        it.line = c.caption;
        it.images.push_back(encode(c.image, fmt::format("{:06d}.{}", i, cfg_.image_ext)));
        it.corpus = c.caption;
        return it;
      },
      [&](Item& it) {
        if (index % cfg_.shard_size == 0) {
          if (shard) shard->close();
          shard = std::make_unique<TarWriter>(
              (out_ / "pretrain" / fmt::format("captions-{:06d}.tar", index / cfg_.shard_size)).string());
        }
        const std::string key = fmt::format("{:06d}", index);
        shard->add(it.images[0].rel, it.images[0].bytes);
        shard->add(key + ".txt", it.line);
        corpus_ << it.corpus << "\n";
        ++index;
      });
  if (shard) shard->close();
  set.seconds = watch.seconds();
  summary_.sets.push_back(set);
}

void WorldWriter::write_jsonl(SynthSetSummary set, int64_t n,
                              const std::function<Item(int64_t, const std::string&)>& make) {
  if (n <= 0) return;
  const Stopwatch watch;
  const fs::path file = out_ / set.path;
  const std::string image_dir = file.stem().string();  // images sit next to the file, in <stem>/
  fs::create_directories(file.parent_path() / image_dir);
  std::ofstream f(file, std::ios::binary | std::ios::trunc);
  MM_CHECK(f.good(), "synth: cannot write {}", file.string());
  set.samples = n;
  generate(
      n, [&](int64_t i) { return make(i, image_dir); },
      [&](Item& it) {
        f << it.line << "\n";
        for (const auto& img : it.images) write_file(file.parent_path() / img.rel, img.bytes);
        set.images += static_cast<int64_t>(it.images.size());
        if (!it.corpus.empty() && set.stage != "eval") corpus_ << it.corpus << "\n";
      });
  MM_CHECK(f.good(), "synth: write failed on {}", file.string());
  set.seconds = watch.seconds();
  summary_.sets.push_back(set);
}

void WorldWriter::write_interleaved(int64_t n) {
  SynthSetSummary set{"synth_interleaved", "pretrain", "interleaved", "pretrain/interleaved.jsonl", "interleaved"};
  write_jsonl(set, n, [&](int64_t i, const std::string& dir) {
    CounterRng rng = rng_for(set.name, i);
    Interleaved doc = make_interleaved(rng, train_);
    Item it;
    Json texts = Json::array(), images = Json::array();
    int k = 0;
    for (size_t p = 0; p < doc.texts.size(); ++p) {
      if (doc.images[p].empty()) {
        texts.push_back(doc.texts[p]);
        images.push_back(nullptr);
        it.corpus += doc.texts[p] + "\n";
      } else {
        const std::string rel = dir + "/" + image_name(i, k++);
        texts.push_back(nullptr);
        images.push_back(rel);
        it.images.push_back(encode(doc.images[p], rel));
      }
    }
    it.line = Json{{"id", fmt::format("doc-{:06d}", i)}, {"texts", texts}, {"images", images}}.dump();
    return it;
  });
}

void WorldWriter::write_text(int64_t n) {
  SynthSetSummary set{"synth_text", "pretrain", "text", "pretrain/text.jsonl", "text"};
  write_jsonl(set, n, [&](int64_t i, const std::string&) {
    CounterRng rng = rng_for(set.name, i);
    Item it;
    it.corpus = make_text_document(rng, train_);
    it.line = Json{{"id", fmt::format("text-{:06d}", i)}, {"text", it.corpus}}.dump();
    return it;
  });
}

void WorldWriter::write_ocr(int kind, int64_t n) {
  const std::string k = kOcrKinds[kind];
  SynthSetSummary set{"ocr_" + k, "ocr", "captions", "ocr/" + k + ".jsonl", "ocr"};
  write_jsonl(set, n, [&](int64_t i, const std::string& dir) {
    CounterRng rng = rng_for(set.name, i);
    Captioned c = make_ocr(rng, train_, kind);
    Item it;
    const std::string rel = dir + "/" + image_name(i);
    it.images.push_back(encode(c.image, rel));
    it.corpus = c.caption;
    it.line = Json{{"id", fmt::format("{}-{:06d}", k, i)}, {"image", rel}, {"caption", c.caption}}.dump();
    return it;
  });
}

void WorldWriter::write_sft(const std::string& name, const std::string& category, int64_t n, const QaMaker& make) {
  const std::string stem = name.substr(4);  // "sft_general" -> "general"
  SynthSetSummary set{name, "sft", "llava", "sft/" + stem + ".jsonl", category};
  write_jsonl(set, n, [&, stem](int64_t i, const std::string& dir) {
    CounterRng rng = rng_for(name, i);
    Qa qa = make(rng, train_, -1);
    Item it;
    Json rec{{"id", fmt::format("{}-{:06d}", stem, i)}};
    std::vector<std::string> rels;
    for (size_t k = 0; k < qa.images.size(); ++k) {
      rels.push_back(dir + "/" + image_name(i, qa.images.size() > 1 ? static_cast<int>(k) : -1));
      it.images.push_back(encode(qa.images[k], rels.back()));
    }
    if (rels.size() == 1)
      rec["image"] = rels[0];
    else if (rels.size() > 1)
      rec["image"] = rels;
    Json conv = Json::array();
    for (const auto& [q, a] : qa.turns) {
      conv.push_back({{"from", "human"}, {"value", q}});
      conv.push_back({{"from", "gpt"}, {"value", a}});
      it.corpus += without_placeholders(q) + "\n" + a + "\n";
    }
    rec["conversations"] = conv;
    it.line = rec.dump();
    return it;
  });
}

void WorldWriter::write_eval(const std::string& name, const std::string& category, const std::string& metric, int64_t n,
                             const QaMaker& make, std::vector<int> tasks) {
  SynthSetSummary set{name, "eval", "eval", "eval/" + name + ".jsonl", category, metric};
  write_jsonl(set, n, [&, tasks](int64_t i, const std::string& dir) {
    CounterRng rng(cfg_.seed, fnv1a64("eval/" + name), static_cast<uint64_t>(i));  // disjoint stream
    const int task = tasks.empty() ? -1 : tasks[rng.below(tasks.size())];
    Qa qa = make(rng, eval_, task);
    Item it;
    Json images = Json::array();
    for (size_t k = 0; k < qa.images.size(); ++k) {
      const std::string rel = dir + "/" + image_name(i, qa.images.size() > 1 ? static_cast<int>(k) : -1);
      images.push_back(rel);
      it.images.push_back(encode(qa.images[k], rel));
    }
    Json rec{{"id", fmt::format("{}-{:06d}", name, i)},
             {"benchmark", name},
             {"category", category},
             {"metric", metric},
             {"task", qa.task},
             {"question", qa.turns[0].first},
             {"images", images},
             {"answers", qa.answers}};
    if (!qa.choices.empty()) rec["choices"] = qa.choices;
    it.line = rec.dump();
    return it;
  });
}

void WorldWriter::write_eval_ppl(int64_t n) {
  SynthSetSummary set{"text_ppl", "eval", "eval", "eval/text_ppl.jsonl", "text-only", "perplexity"};
  write_jsonl(set, n, [&](int64_t i, const std::string&) {
    CounterRng rng(cfg_.seed, fnv1a64("eval/text_ppl"), static_cast<uint64_t>(i));
    Item it;
    it.line = Json{{"id", fmt::format("text_ppl-{:06d}", i)},
                   {"benchmark", "text_ppl"},
                   {"category", "text-only"},
                   {"metric", "perplexity"},
                   {"question", ""},
                   {"images", Json::array()},
                   {"answers", Json::array({make_text_document(rng, eval_)})}}
                  .dump();
    return it;
  });
}

void WorldWriter::train_tokenizer(SynthSummary& summary) {
  if (!cfg_.tokenizer) return;
  const Stopwatch watch;
  const std::string prefix = (out_ / "tokenizer" / "spm").string();
  tok::train_tokenizer({(out_ / "tokenizer" / "corpus.txt").string()}, prefix, cfg_.vocab_size, TokenizerConfig{});
  summary.tokenizer_model = "tokenizer/spm.model";
  summary.tokenizer_seconds = watch.seconds();
}

SynthSummary WorldWriter::run() {
  const Stopwatch watch;
  fs::create_directories(out_ / "tokenizer");
  corpus_.open(out_ / "tokenizer" / "corpus.txt", std::ios::binary | std::ios::trunc);
  MM_CHECK(corpus_.good(), "synth: cannot write {}", (out_ / "tokenizer" / "corpus.txt").string());
  const SynthCountsConfig c = cfg_.counts.scaled(cfg_.counts_scale);

  write_captions_wds("synth_captions", c.caption);
  write_interleaved(c.interleaved);
  write_text(c.text);
  for (int k = 0; k < 4; ++k) write_ocr(k, c.ocr);
  write_sft("sft_general", "general", c.general, make_general);
  write_sft("sft_text_rich", "text-rich", c.text_rich, make_text_rich);
  write_sft("sft_refer_ground", "refer&ground", c.refer_ground, make_refer_ground);
  write_sft("sft_knowledge", "knowledge", c.knowledge, make_knowledge);
  write_sft("sft_multi_image", "multi-image", c.multi_image, make_multi_image);
  write_sft("sft_text_only", "text-only", c.text_only, make_text_only);

  write_eval("general_vqa", "general", "vqa_accuracy", c.eval, make_general, {});
  write_eval("text_rich_docs", "text-rich", "anls", c.eval, make_text_rich, {0, 1});
  write_eval("text_rich_scene", "text-rich", "vqa_accuracy", c.eval, make_text_rich, {2, 3});
  write_eval("grounding", "refer&ground", "iou@0.5", c.eval, make_refer_ground, {0});
  write_eval("referring", "refer&ground", "exact_match", c.eval, make_refer_ground, {1});
  write_eval("knowledge_math", "knowledge", "exact_match", c.eval, make_knowledge, {0, 2});
  write_eval("knowledge_compare", "knowledge", "multiple_choice", c.eval, make_knowledge, {1});
  write_eval("multi_image", "multi-image", "exact_match", c.eval, make_multi_image, {});
  write_eval("text_qa", "text-only", "exact_match", c.eval, make_text_only, {});
  write_eval_ppl(c.eval);
  corpus_.close();

  SynthSummary summary = summary_;
  summary.seconds = watch.seconds();
  for (const auto& s : summary.sets) summary.samples += s.samples, summary.images += s.images;
  train_tokenizer(summary);
  write_world_readme(cfg_, out_, train_, summary);
  write_world_configs(cfg_, out_, summary);
  return summary;
}

}  // namespace

SynthSummary write_synthetic_world(const SynthConfig& cfg, const std::string& out_dir) {
  MM_CHECK(!out_dir.empty(), "synth: --out must name a folder");
  MM_CHECK(cfg.tile >= 16, "synth.tile: expected at least 16 pixels, got {}", cfg.tile);
  MM_CHECK(cfg.image_ext == "png" || cfg.image_ext == "jpg", "synth.image_ext: expected png or jpg, got '{}'",
           cfg.image_ext);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  MM_CHECK(!ec, "synth: cannot create {}: {}", out_dir, ec.message());
  WorldWriter w(cfg, out_dir);
  auto summary = w.run();
  log::get("synth")->info("wrote {} samples ({} images) to {} in {:.1f} s ({:.0f} samples/s)", summary.samples,
                          summary.images, out_dir, summary.seconds, summary.samples / std::max(1e-9, summary.seconds));
  return summary;
}

}  // namespace mm::data::synth
