// The reference half of the cl100k_base comparison (ctest bpe_cl100k.reference; the C++ half is
// tests/tokenizer/test_bpe_cl100k.cpp). Into OUT_DIR it writes
//   corpus.txt      the mixed corpus (make_bpe_corpus.mjs, >= 1 MB),
//   tokenizer.json  cl100k_base converted as transformers' TikTokenConverter does (tiktoken_to_tokenizer_json.mjs),
//   tiktoken.ids    the ids of OpenAI's tiktoken (WASM build) for the whole corpus, special tokens allowed,
//   hf.ids          the ids of Hugging Face's JS tokenizers (@huggingface/tokenizers) on tokenizer.json,
// ids as little-endian int32, and fails (exit 1) with the first difference and its context when the two disagree.
// Exit 77 (ctest: skipped) when node_modules is missing (cd scripts/golden/bpe && npm ci).
//   node cl100k_reference.mjs OUT_DIR [ENCODING]
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [outDir, encodingName = "cl100k_base"] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node cl100k_reference.mjs OUT_DIR [ENCODING]");
  process.exit(2);
}
for (const m of ["tiktoken", "@huggingface/tokenizers"]) {
  if (!existsSync(join(here, "node_modules", m, "package.json"))) {
    console.log(`SKIPPED: ${join(here, "node_modules", m)} is missing (cd scripts/golden/bpe && npm ci)`);
    process.exit(77);
  }
}
const require = createRequire(import.meta.url);
const { Tiktoken } = require("tiktoken/lite");
const { Tokenizer } = await import("@huggingface/tokenizers");
const { convert, readEncoding } = await import("./tiktoken_to_tokenizer_json.mjs");
const { makeCorpus } = await import("./make_bpe_corpus.mjs");

const t0 = Date.now();
const lap = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
mkdirSync(outDir, { recursive: true });
const corpus = makeCorpus();
writeFileSync(join(outDir, "corpus.txt"), corpus.text);
console.log(`corpus.txt: ${corpus.bytes} bytes (${corpus.debianBytes} from ${corpus.files.length} Debian files) ${lap()}`);

const encoding = readEncoding(encodingName);
const json = convert(encoding);
writeFileSync(join(outDir, "tokenizer.json"), JSON.stringify(json));
console.log(`tokenizer.json: ${encodingName}, ${Object.keys(json.model.vocab).length} tokens, ` +
            `${json.model.merges.length} merges ${lap()}`);

const tt = new Tiktoken(encoding.bpe_ranks, encoding.special_tokens, encoding.pat_str);
const ttIds = Int32Array.from(tt.encode(corpus.text, "all"));
console.log(`tiktoken: ${ttIds.length} ids ${lap()}`);
const hf = new Tokenizer(json, { clean_up_tokenization_spaces: false });
const hfIds = Int32Array.from(hf.encode(corpus.text, { add_special_tokens: false }).ids);
console.log(`@huggingface/tokenizers: ${hfIds.length} ids ${lap()}`);

const write = (name, ids) => writeFileSync(join(outDir, name), Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength));
write("tiktoken.ids", ttIds);
write("hf.ids", hfIds);

// The first difference, with the text around it (decoded by tiktoken from the common prefix).
let i = 0;
while (i < ttIds.length && i < hfIds.length && ttIds[i] === hfIds[i]) ++i;
if (i < ttIds.length || i < hfIds.length) {
  const dec = new TextDecoder("utf-8");
  const text = (ids) => JSON.stringify(dec.decode(tt.decode(Uint32Array.from(ids))));
  const from = Math.max(0, i - 8);
  const offset = Buffer.byteLength(dec.decode(tt.decode(Uint32Array.from(ttIds.subarray(0, i)))));
  console.log(`DIFFERENT at id ${i} (byte ${offset} of corpus.txt): context ${text(ttIds.subarray(from, i))}`);
  console.log(`  tiktoken:                ${Array.from(ttIds.subarray(i, i + 8))} = ${text(ttIds.subarray(i, i + 8))}`);
  console.log(`  @huggingface/tokenizers: ${Array.from(hfIds.subarray(i, i + 8))} = ${text(hfIds.subarray(i, i + 8))}`);
  process.exit(1);
}
console.log(`tiktoken == @huggingface/tokenizers: ${ttIds.length} ids over ${corpus.bytes} bytes ${lap()}`);
tt.free();
