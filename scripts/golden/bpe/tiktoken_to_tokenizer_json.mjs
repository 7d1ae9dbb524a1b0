// Converts a tiktoken encoding (the `tiktoken` npm package's encoders/<name>.json: ranks, pat_str, special tokens)
// into a Hugging Face tokenizer.json, as transformers' TikTokenConverter does:
//   - vocab: every token's bytes in GPT-2's byte -> printable character form, id = rank;
//   - merges recovered from the ranks: for each token, every split into two tokens that are both in the ranks,
//     ordered by the token's rank, then by the ranks of the left and right parts;
//   - BPE with ignore_merges (tiktoken looks a whole piece up before merging), byte_fallback false;
//   - pre_tokenizer: Split(pat_str, Isolated) then ByteLevel(add_prefix_space false, use_regex false);
//   - decoder ByteLevel; the special tokens as added tokens (special, not normalized).
//   node tiktoken_to_tokenizer_json.mjs cl100k_base OUT.json
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

// GPT-2's byte -> printable character table (transformers' bytes_to_unicode).
export function byteToChar() {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  const table = new Array(256);
  for (const b of bs) table[b] = String.fromCodePoint(b);
  for (let b = 0, n = 0; b < 256; ++b) {
    if (table[b] === undefined) table[b] = String.fromCodePoint(256 + n++);
  }
  return table;
}

// The package's encoder file: {pat_str, special_tokens, bpe_ranks}; bpe_ranks is tiktoken-js' compact form,
// lines of "! <first rank> <base64 token> <base64 token> ..." with consecutive ranks.
export function readEncoding(name) {
  const file = join(here, "node_modules", "tiktoken", "encoders", `${name}.json`);
  return JSON.parse(readFileSync(file, "utf8"));
}

export function parseRanks(compact) {
  const ranks = new Map();  // latin1 string of the token's bytes -> rank
  for (const line of compact.split("\n")) {
    if (line.length === 0) continue;
    const parts = line.split(" ");
    if (parts.length < 2 || !/^\d+$/.test(parts[1])) throw new Error(`bpe_ranks: bad line start ${parts.slice(0, 2)}`);
    let rank = Number(parts[1]);
    for (const b64 of parts.slice(2)) {
      if (b64.length === 0) continue;
      ranks.set(Buffer.from(b64, "base64").toString("latin1"), rank++);
    }
  }
  return ranks;
}

export function convert(encoding) {
  const ranks = parseRanks(encoding.bpe_ranks);
  const table = byteToChar();
  const toByteLevel = (latin1) => {
    let s = "";
    for (let i = 0; i < latin1.length; ++i) s += table[latin1.charCodeAt(i)];
    return s;
  };
  const vocab = {};
  const merges = [];  // [left, right, rank]
  for (const [tok, rank] of ranks) {
    vocab[toByteLevel(tok)] = rank;
    if (tok.length === 1) continue;
    const local = [];
    for (let i = 1; i < tok.length; ++i) {
      const l = tok.slice(0, i), r = tok.slice(i);
      if (ranks.has(l) && ranks.has(r)) local.push([l, r, rank]);
    }
    local.sort((a, b) => ranks.get(a[0]) - ranks.get(b[0]) || ranks.get(a[1]) - ranks.get(b[1]));
    merges.push(...local);
  }
  merges.sort((a, b) => a[2] - b[2]);  // stable: the local order stays within a rank
  const added = Object.entries(encoding.special_tokens)
    .sort((a, b) => a[1] - b[1])
    .map(([content, id]) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false,
                               special: true }));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: encoding.pat_str }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab,
      merges: merges.map(([l, r]) => [toByteLevel(l), toByteLevel(r)]),
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [name, out] = process.argv.slice(2);
  if (!name || !out) {
    console.error("usage: node tiktoken_to_tokenizer_json.mjs ENCODING(cl100k_base|o200k_base|...) OUT.json");
    process.exit(2);
  }
  const json = convert(readEncoding(name));
  writeFileSync(out, JSON.stringify(json));
  console.log(`${out}: ${Object.keys(json.model.vocab).length} tokens, ${json.model.merges.length} merges, ` +
              `${json.added_tokens.length} special tokens`);
}
