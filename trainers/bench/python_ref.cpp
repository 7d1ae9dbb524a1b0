// The python3-torch reference of the decoder step (bench.h: run_python_ref).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "core/check.h"
#include "core/io.h"
#include "core/logging.h"
#include "trainers/bench/bench.h"

#ifndef MM_BENCH_REF_SCRIPT
#define MM_BENCH_REF_SCRIPT "scripts/reference/decoder_step_ref.py"
#endif

namespace mm::bench {
std::string default_python_ref_script() { return MM_BENCH_REF_SCRIPT; }

nlohmann::json run_python_ref(const std::string& script, const RunConfig& cfg, const BenchOptions& opt, int64_t batch,
                              int64_t seq_len, int64_t threads) {
  const auto& l = cfg.model.llm;
  MM_CHECK(l.moe.num_experts == 0,
           "bench --python-ref: the reference script implements the dense decoder only "
           "(model.llm.moe.num_experts = {})",
           l.moe.num_experts);
  MM_CHECK(cfg.optimizer.name == "adamw", "bench --python-ref: the reference step uses AdamW (optimizer.name = {})",
           cfg.optimizer.name);
  MM_CHECK(std::ifstream(script).good(), "bench --python-ref: cannot read the reference script {}", script);
  const char* py_env = std::getenv("MM_PYTHON");
  const std::string python = py_env != nullptr && *py_env != '\0' ? py_env : "/usr/bin/python3";
  nlohmann::json spec = {{"vocab_size", l.vocab_size},
                         {"dim", l.dim},
                         {"layers", l.layers},
                         {"heads", l.heads},
                         {"kv_heads", l.kv_heads},
                         {"ffn_hidden", l.ffn_hidden},
                         {"rope_theta", l.rope_theta},
                         {"norm_eps", l.norm_eps},
                         {"tie_embeddings", l.tie_embeddings},
                         {"batch", batch},
                         {"seq_len", seq_len},
                         {"docs_per_seq", opt.docs_per_seq},
                         {"steps", opt.steps},
                         {"warmup", opt.warmup},
                         {"threads", threads},
                         {"lr", cfg.optimizer.lr},
                         {"betas", cfg.optimizer.betas},
                         {"eps", cfg.optimizer.eps},
                         {"weight_decay", cfg.optimizer.weight_decay},
                         {"clip_grad_norm", cfg.train.clip_grad_norm},
                         {"seed", cfg.seed}};
  const std::string n = std::to_string(threads);
  const std::string cmd = "OMP_NUM_THREADS=" + n + " OPENBLAS_NUM_THREADS=" + n + " MKL_NUM_THREADS=" + n + " " +
                          io::shell_quote(python) + " " + io::shell_quote(script) + " --spec " +
                          io::shell_quote(spec.dump());
  log::get("bench")->info("python reference: {}", cmd);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  MM_CHECK(pipe != nullptr, "bench --python-ref: cannot start {}", python);
  std::string out;
  char buf[4096];
  while (size_t got = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, got);
  const int status = ::pclose(pipe);
  std::string last;  // the last non-empty line is the JSON result
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) last = line;
  MM_CHECK(status == 0, "bench --python-ref: {} {} failed (exit status {}): {}", python, script, status, last);
  nlohmann::json j = nlohmann::json::parse(last, nullptr, /*allow_exceptions=*/false);
  MM_CHECK(j.is_object() && j.contains("tokens_per_s"),
           "bench --python-ref: {} printed no JSON object with tokens_per_s (last line: {})", script, last);
  return j;
}

}  // namespace mm::bench
