// Golden data for mm::tok::BpeTokenizer (tests/tokenizer/test_bpe_tokenizer.cpp), from Hugging Face's own
// pure-JS tokenizers (@huggingface/tokenizers, pinned in package-lock.json).
//   cd scripts/golden/bpe && npm ci && node gen_bpe_golden.mjs
// Writes tests/data/golden/bpe/{gpt2,llama3,qwen2}.tokenizer.json (made here: the 256 byte symbols plus merges
// learned by the tiny BPE trainer below on an embedded corpus; nothing is downloaded) and bpe_golden.json
// (for each style and string: the ids and the decoded text).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "..", "..", "tests", "data", "golden", "bpe");

// GPT-2's byte -> printable character table (the same as the tokenizers' ByteLevel).
const bs = [];
for (let b = 33; b <= 126; ++b) bs.push(b);
for (let b = 161; b <= 172; ++b) bs.push(b);
for (let b = 174; b <= 255; ++b) bs.push(b);
const cs = bs.slice();
for (let b = 0, n = 0; b < 256; ++b) {
  if (!bs.includes(b)) {
    bs.push(b);
    cs.push(256 + n++);
  }
}
const byteChar = {};
bs.forEach((b, i) => (byteChar[b] = String.fromCodePoint(cs[i])));
const byteSymbols = bs.map((b) => byteChar[b]);  // vocab ids 0..255 in GPT-2's order
const toByteLevel = (s) => Array.from(new TextEncoder().encode(s), (b) => byteChar[b]).join("");

const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

const CORPUS = `The quick brown fox jumps over the lazy dog. It's the dog's day; they're sure we'll win, I'd say.
Hello world! Hello again, world. The world is large and the people in it are many.
In 2024 there were 12345 tokens, 678 words and 9 lines; 3.14159 is pi and 1,000,000 is a million.
def main():\n    return tokenizer.encode("hello")  # code with    spaces\n\n\tand tabs
Le café est très bon à Paris. Où est la bibliothèque ? Ça va très bien, merci.
Der Bär läuft über die Straße. Schöne Grüße aus München!
El niño comió una manzana. ¿Dónde está la estación?
Привет, мир! Как дела? Москва — столица России.
你好，世界！今天天气很好。我们一起学习中文。
こんにちは世界。日本語のテキストです。
안녕하세요 세계
مرحبا بالعالم. كيف حالك؟
Emoji: 😀 🚀 👍🏽 ❤️ 🇫🇷 and more 😀😀.
the the the and and and of of to to in in is is it it that that with with for for on on`;

// A tiny byte-level BPE trainer: most frequent adjacent pair first, ties broken by the pair's text.
function trainMerges(corpus, count) {
  const words = new Map();
  for (const w of corpus.match(GPT2_PATTERN)) {
    const k = toByteLevel(w);
    words.set(k, (words.get(k) ?? 0) + 1);
  }
  let seqs = [...words].map(([w, n]) => [Array.from(w), n]);
  const merges = [];
  const seen = new Set(byteSymbols);
  while (merges.length < count) {
    const pairs = new Map();
    for (const [s, n] of seqs) {
      for (let i = 0; i + 1 < s.length; ++i) {
        const key = s[i] + " " + s[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    let best = null;
    let bestN = 0;
    for (const [k, n] of pairs) {
      if (n > bestN || (n === bestN && k < best)) [best, bestN] = [k, n];
    }
    if (best === null) break;
    const [a, b] = best.split(" ");
    merges.push([a, b]);
    seen.add(a + b);
    seqs = seqs.map(([s, n]) => {
      const out = [];
      for (let i = 0; i < s.length; ++i) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) out.push(a + b), ++i;
        else out.push(s[i]);
      }
      return [out, n];
    });
  }
  return merges;
}

function makeTokenizer(style, merges) {
  const vocab = {};
  byteSymbols.forEach((s, i) => (vocab[s] = i));
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  // Whole words in the vocab that no merge sequence builds: only ignore_merges (Llama 3) emits them as one id.
  for (const w of [" unmergeable", " Hello"]) vocab[toByteLevel(w)] = Object.keys(vocab).length;
  const next = () => Object.keys(vocab).length + added.length;
  const added = [];
  const add = (content, special, extra = {}) =>
    added.push({ id: next(), content, single_word: false, lstrip: false, rstrip: false,
                 normalized: !special, special, ...extra });
  const byteLevel = (useRegex) => ({ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
  const split = (pattern) => ({ type: "Split", pattern: { Regex: pattern }, behavior: "Isolated", invert: false });
  let normalizer = null;
  let preTokenizer;
  let postProcessor = null;
  let ignoreMerges = false;
  let mergesOut = merges.map(([a, b]) => `${a} ${b}`);  // GPT-2's "a b" form
  if (style === "gpt2") {
    add("<|endoftext|>", true, { normalized: true });
    add("<mask>", true, { lstrip: true });  // RoBERTa's mask token swallows the spaces before it
    preTokenizer = byteLevel(true);
    postProcessor = { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true };
  } else if (style === "llama3") {
    for (const t of ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                     "<|eot_id|>", "<|reserved_special_token_0|>"]) add(t, true);
    preTokenizer = { type: "Sequence", pretokenizers: [split(LLAMA3_PATTERN), byteLevel(false)] };
    ignoreMerges = true;
    postProcessor = { type: "TemplateProcessing",
                      single: [{ SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
                      pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
                      special_tokens: { "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [vocabSize()], tokens: ["<|begin_of_text|>"] } } };
  } else {
    add("<|endoftext|>", true);
    add("<|im_start|>", true);
    add("<|im_end|>", true);
    add("<tool_call>", false, { normalized: false });
    normalizer = { type: "NFC" };
    preTokenizer = { type: "Sequence", pretokenizers: [split(QWEN2_PATTERN), byteLevel(false)] };
    mergesOut = merges;  // the newer [a, b] list form
  }
  function vocabSize() { return Object.keys(vocab).length; }
  return {
    version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer, pre_tokenizer: preTokenizer,
    post_processor: postProcessor, decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
             fuse_unk: false, byte_fallback: false, ignore_merges: ignoreMerges, vocab, merges: mergesOut },
  };
}

const STRINGS = [
  "Hello world",
  "Hello world!",
  "hello world and Hello world",
  "The quick brown fox jumps over the lazy dog.",
  "It's I'M you're WE'LL they've she'd I'd don't DON'T",
  "0 1 12 123 1234 12345 3.14159 1,000,000",
  "a  b   c    d\t\te\n\nf \n g\r\nh  \n\n  ",
  "   leading and trailing   ",
  "\n\n\nnew lines\n",
  "caf\u00e9 vs cafe\u0301 (composed and combining)",
  "A\u030a\u00c5 \u1e9b\u0323 o\u0308 n\u0303",
  "你好，世界！我们一起学习中文。",
  "こんにちは世界。日本語のテキスト",
  "안녕하세요 세계",
  "مرحبا بالعالم. كيف حالك؟",
  "Привет, мир! Москва — столица.",
  "Emoji 😀🚀 👍🏽 ❤️ 🇫🇷 done",
  "def f(x):\n    return x**2  # comment\n",
  "<|begin_of_text|>Hello<|eot_id|>",
  "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
  "text <|endoftext|> more text<|endoftext|>",
  "a <tool_call>{\"x\": 1}</tool_call>",
  "fill the   <mask> here",
  "an unmergeable word",
  "<|start_header_id|>system<|end_header_id|>\n\nBe nice.<|eot_id|>",
  "",
  "x",
  "!!!???... ---",
];

mkdirSync(outDir, { recursive: true });
const merges = trainMerges(CORPUS, 300);
const golden = { generator: "@huggingface/tokenizers 0.2.0 via scripts/golden/bpe/gen_bpe_golden.mjs", styles: {} };
for (const style of ["gpt2", "llama3", "qwen2"]) {
  const json = makeTokenizer(style, merges);
  writeFileSync(join(outDir, `${style}.tokenizer.json`), JSON.stringify(json));
  const tok = new Tokenizer(json, { clean_up_tokenization_spaces: false });
  golden.styles[style] = STRINGS.map((text) => {
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    const decoded = ids.length ? tok.decode(ids, { clean_up_tokenization_spaces: false }) : "";
    const decoded_skip = ids.length ? tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : "";
    return { text, ids, decoded, decoded_skip };
  });
}
writeFileSync(join(outDir, "bpe_golden.json"), JSON.stringify(golden, null, 1) + "\n");
console.log(`wrote ${outDir}: ${merges.length} merges, ${STRINGS.length} strings x 3 styles`);
