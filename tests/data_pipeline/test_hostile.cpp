// The hostile-input corpus (tests/data/hostile, written by its make_corpus.py) and seeded mutations
// of it, fed to the parser each file targets: configs, images, JSON/JSONL sources, tar shards,
// safetensors, plus special files made here (a FIFO, /dev/zero, a folder). Cases run in a forked
// child (a crash cannot take the test down with it) under a per-case alarm and a data-size limit:
// every case must end within kCaseSeconds, in bounded memory, either accepted or refused with one
// mm::Error line. Any other exception, a multi-line message, a crash or a hang is a failure.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/config/run_config.h"
#include "core/io.h"
#include "core/safetensors.h"
#include "data_pipeline/formats/registry.h"
#include "data_pipeline/image/image_bytes.h"
#include "data_pipeline/image/image_probe.h"
#include "data_pipeline/quarantine.h"
#include "test_formats_util.h"
#ifdef MM_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>

#include "data_pipeline/image/image_decode.h"
#endif

namespace fs = std::filesystem;
using mm::test::TempDir;

namespace {

const std::string kCorpus = std::string(MM_TEST_DATA_DIR) + "/hostile/";
constexpr int kCaseSeconds = 5;                     // the alarm: a case still running then is a hang
constexpr double kSlowSeconds = 2.0;                // a case that ends but takes longer than this is a failure too
constexpr uint64_t kDataLimit = uint64_t{2} << 30;  // bytes of heap a case may add (RLIMIT_DATA)

struct Case {
  std::string name;   // corpus file, plus "#k" for its k-th mutant
  std::string bytes;  // the input (the parser writes it where it needs it)
};

// The files of one corpus folder, sorted.
std::vector<Case> corpus(const std::string& folder) {
  std::vector<Case> out;
  for (const auto& e : fs::recursive_directory_iterator(kCorpus + folder)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back({fs::relative(e.path(), kCorpus).string(), ss.str()});
  }
  std::sort(out.begin(), out.end(), [](const Case& a, const Case& b) { return a.name < b.name; });
  return out;
}

// xorshift64*: the same mutants on every run and machine.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 2685821657736338717ULL;
  }
  size_t below(size_t n) { return n == 0 ? 0 : static_cast<size_t>(next() % n); }
};

// One mutation of `in`: bit flips, interesting bytes and words, truncation, a duplicated or
// removed slice, inserted garbage.
std::string mutate(std::string s, Rng& r) {
  static const uint32_t words[] = {0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF};
  const int ops = 1 + static_cast<int>(r.below(3));
  for (int k = 0; k < ops; ++k) {
    if (s.empty()) s = "x";
    const size_t at = r.below(s.size());
    switch (r.below(7)) {
      case 0:
        s[at] = static_cast<char>(s[at] ^ (1 << r.below(8)));
        break;
      case 1:
        s[at] = static_cast<char>(words[r.below(5)]);
        break;
      case 2: {
        const uint32_t w = words[r.below(10)];
        for (size_t b = 0; b < 4 && at + b < s.size(); ++b) s[at + b] = static_cast<char>(w >> (8 * (3 - b)));
        break;
      }
      case 3:
        s.resize(at);
        break;
      case 4:
        s.insert(at, s.substr(r.below(s.size()), 1 + r.below(64)));
        break;
      case 5:
        s.erase(at, 1 + r.below(64));
        break;
      default:
        for (size_t b = 1 + r.below(16); b > 0; --b) {
          s.insert(s.begin() + static_cast<long>(at), static_cast<char>(r.next()));
        }
    }
  }
  return s;
}

// The seeds plus `per_seed` mutants of each.
std::vector<Case> with_mutants(const std::vector<Case>& seeds, int per_seed) {
  std::vector<Case> out = seeds;
  for (const auto& seed : seeds) {
    Rng r{std::hash<std::string>{}(seed.name) | 1};
    for (int k = 0; k < per_seed; ++k) out.push_back({seed.name + "#" + std::to_string(k), mutate(seed.bytes, r)});
  }
  return out;
}

struct Outcome {
  int accepted = 0, refused = 0;
  std::vector<std::string> failures;  // "name: what went wrong"
  std::string summary() const {
    std::string s = fmt::format("{} accepted, {} refused, {} failures", accepted, refused, failures.size());
    for (size_t i = 0; i < failures.size() && i < 20; ++i) s += "\n  " + failures[i];
    return s;
  }
};

uint64_t vm_data_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmData:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
  return 0;
}

// Child side: runs cases[from..] and reports "S i" before and "A i" / "R i" / "F i <why>" after each.
[[noreturn]] void child_run(const std::vector<Case>& cases, size_t from, int fd,
                            const std::function<void(const Case&)>& parse) {
  rlimit lim{};
  lim.rlim_cur = lim.rlim_max = vm_data_bytes() + kDataLimit;
  ::setrlimit(RLIMIT_DATA, &lim);
  auto say = [fd](const std::string& line) {
    const std::string l = line + "\n";
    if (::write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) ::_exit(3);
  };
  for (size_t i = from; i < cases.size(); ++i) {
    say(fmt::format("S {}", i));
    ::alarm(kCaseSeconds);
    const auto t0 = std::chrono::steady_clock::now();
    std::string verdict;
    try {
      parse(cases[i]);
      verdict = "A";
    } catch (const mm::Error& e) {
      const std::string what = e.what();
      verdict = what.find('\n') == std::string::npos && !what.empty() ? "R" : "F a multi-line or empty error: " + what;
    } catch (const std::bad_alloc&) {
      verdict = "F std::bad_alloc (unbounded memory)";
    } catch (const std::exception& e) {
      verdict = fmt::format("F not an mm::Error: {}", e.what());
    } catch (...) {
      verdict = "F an unknown exception";
    }
    ::alarm(0);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > kSlowSeconds && verdict[0] != 'F') verdict = fmt::format("F slow: {:.1f} s", s);
    for (char& c : verdict)
      if (c == '\n') c = ' ';
    say(fmt::format("{} {} {}", verdict.substr(0, 1), i, verdict.size() > 2 ? verdict.substr(2, 300) : ""));
  }
  say("D");
  ::_exit(0);
}

// Runs every case through `parse` in forked children (a new child after a crash or a hang).
Outcome run_cases(const std::vector<Case>& cases, const std::function<void(const Case&)>& parse) {
  Outcome out;
  size_t from = 0;
  while (from < cases.size()) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      child_run(cases, from, fds[1], parse);
    }
    ::close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      REQUIRE(n > 0);
      text.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    std::istringstream lines(text);
    std::string line;
    long started = -1;
    bool done = false;
    while (std::getline(lines, line)) {
      const char kind = line[0];
      if (kind == 'D') done = true;
      if (kind == 'D' || line.size() < 3) continue;
      const size_t sp = line.find(' ', 2);
      const long i = std::stol(line.substr(2, sp - 2));
      if (kind == 'S')
        started = i;
      else
        started = -1;
      if (kind == 'A') ++out.accepted;
      if (kind == 'R') ++out.refused;
      if (kind == 'F') out.failures.push_back(cases[size_t(i)].name + ": " + line.substr(sp + 1));
    }
    if (done) break;
    REQUIRE(started >= 0);  // the child died between cases: only the pipe could have failed
    const std::string how =
        WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? fmt::format("hang: still running after {} s", kCaseSeconds)
        : WIFSIGNALED(status) ? fmt::format("crash: signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)))
                              : fmt::format("exited with status {}", WEXITSTATUS(status));
    out.failures.push_back(cases[size_t(started)].name + ": " + how);
    from = static_cast<size_t>(started) + 1;
  }
  return out;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

void check(const Outcome& o, int min_accepted, int min_refused) {
  INFO(o.summary());
  CHECK(o.failures.empty());
  CHECK(o.accepted >= min_accepted);  // the parsers did run: some inputs pass ...
  CHECK(o.refused >= min_refused);    // ... and some are refused with one line
}

#ifdef MM_WITH_OPENCV
void decode(const std::string& bytes) { mm::data::decode_image(bytes, mm::ImageConfig{}); }
#else
void decode(const std::string& bytes) { mm::data::probe_image_size(bytes); }
#endif

// Reads every record of a source and decodes the images of those that pass. A RecordError or
// ImageError refuses one record and the source goes on, as in training; when any record was
// refused, the case ends with an mm::Error saying how many (counted as refused).
void read_source(const mm::SourceConfig& cfg) {
  mm::data::Quarantine q;
  auto src = mm::data::open_source(cfg, &q);
  size_t refused = q.size();
  for (const auto& e : q.entries()) MM_CHECK(e.reason.find('\n') == std::string::npos, "multi-line reason");
  for (size_t i = 0; i < src->size(); ++i) {
    try {
      const auto s = src->get(i);
      for (const auto& im : s.images) decode(mm::data::read_image_bytes(im));
    } catch (const mm::Error& e) {
      MM_CHECK(std::string(e.what()).find('\n') == std::string::npos, "multi-line error: {}", e.what());
      ++refused;
    }
  }
  if (refused > 0) throw mm::Error(fmt::format("{} record(s) refused", refused));
}

}  // namespace

TEST_CASE("hostile configs and their mutants: accepted or one line, never a hang", "[hostile]") {
  TempDir dir;
  const auto cases = with_mutants(corpus("config"), 10);
  const Outcome o = run_cases(cases, [&](const Case& c) {
    // Seeds are read in place (their inherit: names are relative to the corpus); mutants from a copy.
    const bool seed = c.name.find('#') == std::string::npos;
    const std::string path = seed ? kCorpus + c.name : dir / "case.yaml";
    if (!seed) write_bytes(path, c.bytes);
    mm::load_run_config(path);
  });
  check(o, 5, 100);
}

TEST_CASE("hostile images and their mutants: accepted or one line", "[hostile]") {
  auto seeds = corpus("image");
#ifdef MM_WITH_OPENCV
  cv::Mat m(24, 40, CV_8UC3, cv::Scalar(10, 200, 90));
  for (const char* ext : {".jpg", ".webp", ".png"}) {
    std::vector<uchar> buf;
    REQUIRE(cv::imencode(ext, m, buf));
    seeds.push_back({std::string("made") + ext, std::string(buf.begin(), buf.end())});
  }
#endif
  const Outcome o = run_cases(with_mutants(seeds, 12), [](const Case& c) { decode(c.bytes); });
  check(o, 5, 100);
}

TEST_CASE("hostile JSON/JSONL sources and their mutants: records quarantined, never a crash", "[hostile]") {
  TempDir dir;
  fs::create_directories(dir / "img");
  fs::copy_file(kCorpus + "json/img/a.png", dir / "img/a.png");
  std::vector<Case> seeds;
  for (const auto& c : corpus("json"))
    if (c.name.find("/img/") == std::string::npos) seeds.push_back(c);
  const Outcome o = run_cases(with_mutants(seeds, 30), [&](const Case& c) {
    const std::string base = fs::path(c.name.substr(0, c.name.find('#'))).filename().string();
    const std::string format = base.rfind("captions", 0) == 0                       ? "captions"
                               : base.rfind("interleaved", 0) == 0                  ? "interleaved"
                               : base.rfind("llava", 0) == 0 || base == "deep.json" ? "llava"
                                                                                    : "text";
    const std::string path = dir / base;
    write_bytes(path, c.bytes);
    read_source(mm::test::source_config("hostile", format, path));
  });
  check(o, 5, 1);
}

TEST_CASE("hostile tar shards and their mutants: damaged shards quarantined, never a crash", "[hostile]") {
  TempDir dir;
  const Outcome o = run_cases(with_mutants(corpus("tar"), 30), [&](const Case& c) {
    write_bytes(dir / "shard.tar", c.bytes);
    read_source(mm::test::source_config("hostile", "wds", dir / "shard.tar"));
  });
  check(o, 10, 1);
}

TEST_CASE("hostile safetensors and their mutants: accepted or one line", "[hostile]") {
  TempDir dir;
  const Outcome o = run_cases(with_mutants(corpus("safetensors"), 20), [&](const Case& c) {
    write_bytes(dir / "x.safetensors", c.bytes);
    mm::safetensors::read_header(dir / "x.safetensors");
    mm::safetensors::load(dir / "x.safetensors");
  });
  check(o, 1, 100);
}

TEST_CASE("special files (FIFO, /dev/zero, a folder) end at once with one line wherever a file is read", "[hostile]") {
  TempDir dir;
  const std::string fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  fs::create_directories(dir / "folder");
  write_bytes(dir / "inherits_fifo.yaml", "inherit: fifo\n");
  write_bytes(dir / "inherits_zero.yaml", "inherit: /dev/zero\n");
  std::vector<Case> cases;
  for (const std::string p : {fifo, std::string("/dev/zero"), dir / "folder"}) {
    for (const char* use : {"config", "image", "source", "safetensors", "small", "read_file", "map"})
      cases.push_back({std::string(use) + " " + p, p});
  }
  cases.push_back({"inherit fifo", dir / "inherits_fifo.yaml"});
  cases.push_back({"inherit /dev/zero", dir / "inherits_zero.yaml"});
  const Outcome o = run_cases(cases, [](const Case& c) {
    const std::string use = c.name.substr(0, c.name.find(' '));
    const std::string& p = c.bytes;
    if (use == "config" || use == "inherit") mm::load_run_config(p);
    if (use == "image") mm::data::read_image_bytes(mm::data::ImageRef{p});
    if (use == "source") read_source(mm::test::source_config("s", "captions", p));
    if (use == "safetensors") mm::safetensors::load(p);
    if (use == "small") mm::io::read_small_file(p, 1 << 20, "file");
    if (use == "read_file") mm::io::read_file(p);
    if (use == "map") mm::io::MappedFile m(p);
  });
  INFO(o.summary());
  CHECK(o.failures.empty());
  CHECK(o.accepted == 0);
  CHECK(o.refused == static_cast<int>(cases.size()));
}
