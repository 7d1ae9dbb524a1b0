// A deterministic mixed-text corpus (>= 1 MB) for the byte-level BPE comparison (cl100k_reference.mjs) and benchmark
// (scripts/bench_bpe.sh): Debian's text files that every Debian system has (the licenses in
// /usr/share/common-licenses and the copyright files of the "required" packages; missing ones are skipped) and
// generated text from a fixed-seed generator: code, numbers, runs of spaces and newlines, CJK, emoji, accents
// (precomposed and combining), other scripts, contractions, special-token text and near misses. The generated part
// fills the corpus up to the target size, so the size does not depend on which Debian files are present.
//   node make_bpe_corpus.mjs OUT.txt [MIN_BYTES]
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const REQUIRED = ["adduser", "apt", "base-files", "bash", "bsdutils", "coreutils", "dash", "debconf", "debianutils",
                  "diffutils", "dpkg", "e2fsprogs", "findutils", "gpgv", "grep", "gzip", "hostname",
                  "init-system-helpers", "libc6", "login", "mawk", "mount", "ncurses-base", "passwd", "perl-base",
                  "sed", "sysvinit-utils", "tar", "util-linux"];

export function debianFiles() {
  const files = [];
  const lic = "/usr/share/common-licenses";
  if (existsSync(lic)) {
    for (const f of readdirSync(lic).sort()) {
      if (lstatSync(`${lic}/${f}`).isFile()) files.push(`${lic}/${f}`);  // not the GPL -> GPL-3 links
    }
  }
  for (const p of REQUIRED) {
    const f = `/usr/share/doc/${p}/copyright`;
    if (existsSync(f) && lstatSync(f).isFile()) files.push(f);
  }
  return files;
}

function rng(seed) {  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ("the of and to in is that it was for on are with as his they be at one have this from or had by word " +
               "but what some we can out other were all there when up use your how said an each she which do their " +
               "time if will way about many then them write would like so these her long make thing see him two has " +
               "look more day could go come did number sound no most people my over know water than call first who " +
               "may down side been now find tokenizer merge rank vocabulary encode decode byte pair").split(" ");
const IDENTS = ["x", "i", "n", "buf", "count", "tokenIds", "merge_rank", "kMaxLen", "__init__", "self", "std::vector",
                "HashMap", "value_", "rope_theta", "num_heads", "ptr", "JSON", "URLParser", "utf8_len", "_private"];
const CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL", "'D", "'Ll",
                      "'x", "’s", "'"];
const CJK_SENTENCES = ["你好，世界！今天天气很好。", "我们一起学习中文，好吗？", "机器学习模型需要大量的数据。",
                       "こんにちは世界。日本語のテキストです。", "東京都は日本の首都です。カタカナとひらがな。",
                       "안녕하세요 세계, 반갑습니다.", "한국어 문장을 토큰화합니다.", "「引用」と『二重引用』、そして…。",
                       "全角数字１２３４５と半角12345。", "繁體中文：臺灣、香港。"];
const OTHER = ["Привет, мир! Как дела? Москва — столица России.", "Καλημέρα κόσμε· η γλώσσα είναι ελληνική.",
               "مرحبا بالعالم. كيف حالك؟ ١٢٣ ٤٥٦", "שלום עולם, מה שלומך?", "नमस्ते दुनिया। हिन्दी भाषा ०१२३।",
               "สวัสดีชาวโลก ภาษาไทยไม่มีช่องว่าง", "Merhaba dünya, İstanbul ve ılık.", "Ἀρχὴ ἥμισυ παντός.",
               "Zażółć gęślą jaźń. Příliš žluťoučký kůň.", "Tiếng Việt có nhiều dấu: ệ ộ ữ ẫ ặ."];
const EMOJI = ["😀", "🚀", "👍🏽", "❤️", "🇫🇷", "🇯🇵", "👨‍👩‍👧‍👦", "🏳️‍🌈", "1️⃣", "🤖", "✨", "🎉", "👩🏿‍💻", "☕", "⭐",
               "🧑‍🤝‍🧑", "😂😂😂", "©", "™", "→", "∑", "∞", "≠"];
const ACCENTED = ["café", "naïve", "résumé", "Ångström", "façade", "jalapeño", "Schrödinger", "Øresund", "crème brûlée",
                  "São Paulo", "Dvořák", "Łódź", "Mañana", "Ærøskøbing", "Đorđe", "élève"];
const SPECIALS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|endofprompt|>",
                  "<|endoftext|", "< |endoftext|>", "<|ENDOFTEXT|>", "<|im_start|>"];
const SPACES = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\u000b", "\u000c", "\u202f"];

export function generate(bytes, seed = 25) {
  const r = rng(seed);
  const int = (n) => Math.floor(r() * n);
  const pick = (a) => a[int(a.length)];
  const out = [];
  let size = 0;
  const emit = (s) => {
    out.push(s);
    size += Buffer.byteLength(s);
  };
  const sentence = () => {
    const n = 4 + int(14);
    const w = [];
    for (let i = 0; i < n; ++i) {
      let t = pick(WORDS);
      if (i === 0 || r() < 0.05) t = t[0].toUpperCase() + t.slice(1);
      if (r() < 0.03) t = t.toUpperCase();
      if (r() < 0.08) t += pick(CONTRACTIONS);
      if (r() < 0.05) t = pick(ACCENTED);
      w.push(t);
    }
    return w.join(" ") + pick([".", "!", "?", ",", ";", ":", "...", " —"]);
  };
  const number = () => {
    switch (int(12)) {
      case 0: return String(int(10));
      case 1: return String(int(1e6));
      case 2: return String(int(1e9)) + String(int(1e9));  // long digit runs
      case 3: return (r() * 1000 - 500).toFixed(int(8));
      case 4: return `${1990 + int(40)}-${String(1 + int(12)).padStart(2, "0")}-${String(1 + int(28)).padStart(2, "0")}`;
      case 5: return `0x${int(2 ** 31).toString(16).toUpperCase()}`;
      case 6: return int(1e7).toLocaleString("en-US");
      case 7: return `${int(256)}.${int(256)}.${int(256)}.${int(256)}`;
      case 8: return `${(r() * 10).toFixed(3)}e-${int(30)}`;
      case 9: return `+1 (${100 + int(900)}) ${100 + int(900)}-${1000 + int(9000)}`;
      case 10: return `${int(100)}%`;
      default: return pick(["١٢٣٤", "०१२३", "１２３", "½", "²³", "Ⅻ", "①②"]);
    }
  };
  const code = () => {
    const ind = pick(["  ", "    ", "\t", "        "]);
    const a = pick(IDENTS), b = pick(IDENTS), n = number();
    const nl = r() < 0.1 ? "\r\n" : "\n";
    return pick([
      `def ${a}(${b}, n=${n}):${nl}${ind}"""Doc: ${sentence()}"""${nl}${ind}return [${b}[i] ** 2 for i in range(n)]  # ok${nl}`,
      `for (int i = 0; i < ${n}; ++i) {${nl}${ind}${a}[i] = ${b}(i) << 2; // ${sentence()}${nl}}${nl}`,
      `{"${a}": ${n}, "list": [1, 2, 3], "nested": {"${b}": null, "s": "x\\ny\\t\\u00e9"}}${nl}`,
      `const ${a} = async (${b}) => { await fetch(\`/api/\${${b}}?q=${n}\`); };${nl}`,
      `if [ -f "$HOME/.${a}" ]; then${nl}${ind}echo "${n}" >> /tmp/${b}.log 2>&1${nl}fi${nl}`,
      `${a}:${nl}\t$(CXX) -O2 -o $@ $^ -l${b}${nl}`,
      `SELECT ${a}, COUNT(*) FROM ${b} WHERE id >= ${n} GROUP BY 1;${nl}`,
      `    ${a}->${b} = ${n};   ${nl}${nl}   ${nl}`,
    ]);
  };
  const spaces = () => {
    let s = "";
    const n = 1 + int(6);
    for (let i = 0; i < n; ++i) {
      const sp = pick(SPACES);
      s += sp.repeat(1 + int(r() < 0.2 ? 40 : 4));
      if (r() < 0.5) s += pick(WORDS);
    }
    return s;
  };
  const cjk = () => {
    if (r() < 0.5) return pick(CJK_SENTENCES);
    const ranges = [[0x4e00, 0x9fa5], [0x3041, 0x3096], [0x30a1, 0x30fa], [0xac00, 0xd7a3]];
    const [lo, hi] = pick(ranges);
    let s = "";
    for (let i = 0, n = 1 + int(30); i < n; ++i) s += String.fromCodePoint(lo + int(hi - lo + 1));
    return s + (r() < 0.3 ? pick(["。", "、", "！", " ", "abc", "123"]) : "");
  };
  const emoji = () => {
    let s = "";
    for (let i = 0, n = 1 + int(5); i < n; ++i) s += pick(EMOJI) + (r() < 0.5 ? "" : pick([" ", "", "!", "x", "\n"]));
    return s;
  };
  const accents = () => {
    const w = pick(ACCENTED);
    return r() < 0.5 ? w : w.normalize("NFD");  // combining marks are \p{M}, not \p{L}
  };
  const blob = () => {  // long pieces without spaces: base64, a repeated character, a long number
    const n = 50 + int(r() < 0.1 ? 3000 : 300);
    switch (int(3)) {
      case 0: return Buffer.from(Array.from({ length: n }, () => int(256))).toString("base64");
      case 1: return pick(["a", "=", "-", "ab", "é", "😀", " ", "\n"]).repeat(n);
      default: return Array.from({ length: n }, () => int(10)).join("");
    }
  };
  const parts = [sentence, sentence, sentence, number, code, code, spaces, cjk, () => pick(OTHER), emoji, accents,
                 () => pick(SPECIALS), blob];
  while (size < bytes) {
    let para = "";
    for (let i = 0, n = 1 + int(12); i < n; ++i) para += pick(parts)() + pick([" ", " ", "", "\n", "  ", "\t"]);
    emit(para + pick(["\n", "\n\n", "\n\n\n", " \n", "\r\n", ""]));
  }
  return out.join("");
}

// The corpus: Debian's files (each followed by a blank line), then the generated text up to min_bytes (at least
// 256 KB of it).
export function makeCorpus(minBytes = 1200000) {
  const files = debianFiles();
  let text = "";
  for (const f of files) text += readFileSync(f, "utf8") + "\n\n";
  const debianBytes = Buffer.byteLength(text);
  text += generate(Math.max(256 * 1024, minBytes - debianBytes));
  return { text, files, debianBytes, bytes: Buffer.byteLength(text) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [out, min] = process.argv.slice(2);
  if (!out) {
    console.error("usage: node make_bpe_corpus.mjs OUT.txt [MIN_BYTES]");
    process.exit(2);
  }
  const c = makeCorpus(min ? Number(min) : undefined);
  writeFileSync(out, c.text);
  console.log(`${out}: ${c.bytes} bytes (${c.debianBytes} from ${c.files.length} Debian files, the rest generated)`);
}
