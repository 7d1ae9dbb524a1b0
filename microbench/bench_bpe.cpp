// Byte-level BPE encoding speed, one thread: mm::tok::BpeTokenizer on cl100k_base (converted tokenizer.json) against
// OpenAI's tiktoken (WASM build, node) on the same corpus in the same run (scripts/golden/bpe/bench_tiktoken.mjs,
// which also times Hugging Face's JS tokenizers), then the ratio. Special tokens allowed on both sides.
//   BpeEncode/warm: one tokenizer, the whole corpus per iteration (its word cache filled by a first encode).
//   BpeEncode/cold: a freshly loaded tokenizer per iteration (loading not timed): the first pass over new text.
// DIR holds corpus.txt and tokenizer.json (scripts/golden/bpe/cl100k_reference.mjs writes them; scripts/bench_bpe.sh
// runs it first). MB = 1e6 bytes of UTF-8 input.
//   bench_bpe [--dir DIR] [--node-seconds S] [--no-node] [benchmark flags]
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/bpe_tokenizer.h"

namespace {

std::string g_dir = std::string(MM_BINARY_DIR) + "/test_tmp/bpe_cl100k";
std::string g_corpus;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) {
    std::fprintf(stderr,
                 "bench_bpe: cannot read %s (run scripts/bench_bpe.sh, or node "
                 "scripts/golden/bpe/cl100k_reference.mjs DIR first)\n",
                 path.c_str());
    std::exit(1);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void BM_BpeEncode_warm(benchmark::State& state) {
  const auto tok = mm::tok::BpeTokenizer::load(g_dir + "/tokenizer.json");
  size_t ids = tok.encode(g_corpus, true).size();
  for (auto _ : state) {
    auto out = tok.encode(g_corpus, true);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * g_corpus.size()));
  state.counters["ids"] = static_cast<double>(ids);
}
BENCHMARK(BM_BpeEncode_warm)->Name("BpeEncode/warm")->Unit(benchmark::kMillisecond)->MinTime(3.0)->UseRealTime();

void BM_BpeEncode_cold(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    const auto tok = mm::tok::BpeTokenizer::load(g_dir + "/tokenizer.json");
    state.ResumeTiming();
    auto out = tok.encode(g_corpus, true);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * g_corpus.size()));
}
BENCHMARK(BM_BpeEncode_cold)->Name("BpeEncode/cold")->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();

// Keeps the console output and remembers MB/s of wall-clock and of CPU time per benchmark.
struct Speed {
  double real = 0, cpu = 0;
};
class Reporter : public benchmark::ConsoleReporter {
 public:
  Speed warm, cold;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.iterations == 0 || r.real_accumulated_time <= 0 || r.cpu_accumulated_time <= 0) continue;
      const double mb = static_cast<double>(r.iterations) * static_cast<double>(g_corpus.size()) / 1e6;
      const Speed s{mb / r.real_accumulated_time, mb / r.cpu_accumulated_time};
      const std::string name = r.benchmark_name();
      if (name.rfind("BpeEncode/warm", 0) == 0) warm = s;
      if (name.rfind("BpeEncode/cold", 0) == 0) cold = s;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

// Runs scripts/golden/bpe/bench_tiktoken.mjs on the same files; returns tiktoken's and HF JS's MB/s (0: failed).
std::pair<Speed, Speed> run_node(const std::string& seconds) {
  const std::string cmd =
      fmt::format("node {}/scripts/golden/bpe/bench_tiktoken.mjs {}/corpus.txt {}/tokenizer.json {} 2>&1",
                  MM_SOURCE_DIR, g_dir, g_dir, seconds);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {};
  Speed tt, hf;
  char line[512];
  while (std::fgets(line, sizeof line, p) != nullptr) {
    std::fputs(line, stdout);
    Speed v;
    if (std::sscanf(line, "tiktoken_wasm MB/s=%lf cpu_MB/s=%lf", &v.real, &v.cpu) == 2) tt = v;
    if (std::sscanf(line, "huggingface_tokenizers_js MB/s=%lf cpu_MB/s=%lf", &v.real, &v.cpu) == 2) hf = v;
  }
  pclose(p);
  return {tt, hf};
}

}  // namespace

int main(int argc, char** argv) {
  std::string node_seconds = "3";
  bool node = true;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      g_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--node-seconds") == 0 && i + 1 < argc) {
      node_seconds = argv[++i];
    } else if (std::strcmp(argv[i], "--no-node") == 0) {
      node = false;
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  g_corpus = read_file(g_dir + "/corpus.txt");
  read_file(g_dir + "/tokenizer.json");  // fails early with the hint when missing
  std::printf("input: %s/corpus.txt, %zu bytes; cl100k_base tokenizer.json; one thread\n", g_dir.c_str(),
              g_corpus.size());
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const auto [tt, hf] = node ? run_node(node_seconds) : std::pair<Speed, Speed>{};
  const Speed& warm = reporter.warm;
  const Speed& cold = reporter.cold;
  std::printf("MB/s, one thread, same corpus and tokenizer        wall-clock   CPU time\n");
  std::printf("  mm::tok::BpeTokenizer (warm word cache)         %8.2f   %8.2f\n", warm.real, warm.cpu);
  std::printf("  mm::tok::BpeTokenizer (cold, first pass)        %8.2f   %8.2f\n", cold.real, cold.cpu);
  std::printf("  tiktoken 1.0.22 (WASM, node)                    %8.2f   %8.2f\n", tt.real, tt.cpu);
  std::printf("  @huggingface/tokenizers 0.2.0 (JS, node)        %8.2f   %8.2f\n", hf.real, hf.cpu);
  if (tt.real > 0 && tt.cpu > 0) {
    std::printf(
        "ratio BpeTokenizer/tiktoken (target >= 1): warm %.2fx wall-clock, %.2fx CPU; cold %.2fx wall-clock, "
        "%.2fx CPU\n",
        warm.real / tt.real, warm.cpu / tt.cpu, cold.real / tt.real, cold.cpu / tt.cpu);
  }
  benchmark::Shutdown();
  return 0;
}
