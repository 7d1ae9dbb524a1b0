// Encoding speed of OpenAI's tiktoken (WASM build) and, for information, Hugging Face's JS tokenizers on a corpus,
// one thread (node runs the WASM on its main thread). microbench/bench_bpe runs it beside mm::tok::BpeTokenizer;
// scripts/bench_bpe.sh runs both. Special tokens are allowed, as in the comparison (cl100k_reference.mjs).
// Each implementation: one warm-up encode, then encodes of the whole corpus for at least SECONDS; prints the medians
// as MB/s (1e6 bytes of UTF-8 per second) of wall-clock time and of the process's CPU time (user + system; on a
// loaded machine the steadier of the two), one line each: "tiktoken_wasm MB/s=12.3 cpu_MB/s=12.5 ids=... runs=...".
//   node bench_tiktoken.mjs CORPUS.txt TOKENIZER.json [SECONDS] [ENCODING]
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const [corpusPath, tokenizerPath, seconds = "3", encodingName = "cl100k_base"] = process.argv.slice(2);
if (!corpusPath || !tokenizerPath) {
  console.error("usage: node bench_tiktoken.mjs CORPUS.txt TOKENIZER.json [SECONDS] [ENCODING]");
  process.exit(2);
}
const require = createRequire(import.meta.url);
const { Tiktoken } = require("tiktoken/lite");
const { Tokenizer } = await import("@huggingface/tokenizers");
const { readEncoding } = await import("./tiktoken_to_tokenizer_json.mjs");

const text = readFileSync(corpusPath, "utf8");
const bytes = Buffer.byteLength(text);

function bench(name, encode) {
  const n = encode().length;  // warm-up
  const times = [], cpu = [];
  const end = process.hrtime.bigint() + BigInt(Math.round(Number(seconds) * 1e9));
  do {
    const t0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    encode();
    const c = process.cpuUsage(c0);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    cpu.push((c.user + c.system) / 1e6);
  } while (process.hrtime.bigint() < end || times.length < 3);
  const median = (v) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const mbps = (s) => (bytes / s / 1e6).toFixed(3);
  console.log(`${name} MB/s=${mbps(median(times))} cpu_MB/s=${mbps(median(cpu))} ids=${n} runs=${times.length} ` +
              `bytes=${bytes}`);
}

const encoding = readEncoding(encodingName);
const tt = new Tiktoken(encoding.bpe_ranks, encoding.special_tokens, encoding.pat_str);
bench("tiktoken_wasm", () => tt.encode(text, "all"));
tt.free();
const hf = new Tokenizer(JSON.parse(readFileSync(tokenizerPath, "utf8")), { clean_up_tokenization_spaces: false });
bench("huggingface_tokenizers_js", () => hf.encode(text, { add_special_tokens: false }).ids);
