// Atomic writes, whole-file reads and the RAII mapping of src/core/io.h.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/io.h"
#include "support/temp_dir.h"

namespace fs = std::filesystem;

using mm::test::TempDir;

namespace {

std::string binary_payload() {
  std::string s;
  for (int i = 0; i < 3000; ++i) s.push_back(static_cast<char>((i * 37) & 0xff));  // includes NULs
  return s;
}

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const mm::Error& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("write_file_atomic writes, replaces, and read_file reads back", "[core][io]") {
  TempDir dir;
  const std::string path = (dir.path() / "blob.bin").string();
  const std::string payload = binary_payload();
  mm::io::write_file_atomic(path, payload);
  REQUIRE(mm::io::read_file(path) == payload);
  REQUIRE(dir.entries() == std::vector<std::string>{"blob.bin"});  // no temporary left behind

  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  REQUIRE((st.st_mode & 0777) == 0644);

  mm::io::write_file_atomic(path, "short");
  REQUIRE(mm::io::read_file(path) == "short");
  mm::io::write_file_atomic(path, "");
  REQUIRE(mm::io::read_file(path).empty());
  REQUIRE(dir.entries().size() == 1);

  // A relative path (no folder part) writes into the current folder.
  const fs::path cwd = fs::current_path();
  fs::current_path(dir.path());
  mm::io::write_file_atomic("plain.txt", "x");
  fs::current_path(cwd);
  REQUIRE(mm::io::read_file((dir.path() / "plain.txt").string()) == "x");
}

TEST_CASE("AtomicWriter streams chunks and commits once", "[core][io]") {
  TempDir dir;
  const std::string path = (dir.path() / "stream.bin").string();
  mm::io::AtomicWriter w(path);
  w.write("abc", 3);
  w.write(std::string_view("defg"));
  REQUIRE(w.bytes_written() == 7);
  REQUIRE_FALSE(fs::exists(path));  // invisible until commit
  w.commit();
  REQUIRE(mm::io::read_file(path) == "abcdefg");
  REQUIRE_THROWS_AS(w.write("x", 1), mm::Error);
  REQUIRE_THROWS_AS(w.commit(), mm::Error);
}

TEST_CASE("An uncommitted AtomicWriter leaves the old file and no temporary", "[core][io]") {
  TempDir dir;
  const std::string path = (dir.path() / "keep.txt").string();
  mm::io::write_file_atomic(path, "old contents");
  {
    mm::io::AtomicWriter w(path);
    w.write("new, partial");
    REQUIRE(dir.entries().size() == 2);  // the temporary exists next to the target
  }                                      // destroyed without commit, as when an exception unwinds
  REQUIRE(mm::io::read_file(path) == "old contents");
  REQUIRE(dir.entries() == std::vector<std::string>{"keep.txt"});
}

TEST_CASE("A write into an unwritable folder fails cleanly and leaves no file", "[core][io]") {
  TempDir dir;
  SECTION("missing folder") {
    const std::string path = (dir.path() / "no_such_dir" / "x.bin").string();
    const std::string msg = what_of([&] { mm::io::write_file_atomic(path, "data"); });
    REQUIRE(msg.find(path) != std::string::npos);
    REQUIRE(msg.find("No such file or directory") != std::string::npos);
    REQUIRE(dir.entries().empty());
  }
  SECTION("parent is a regular file") {
    const std::string parent = (dir.path() / "file").string();
    mm::io::write_file_atomic(parent, "I am a file");
    const std::string msg = what_of([&] { mm::io::write_file_atomic(parent + "/x.bin", "d"); });
    REQUIRE(msg.find(parent + "/x.bin") != std::string::npos);
    REQUIRE(dir.entries() == std::vector<std::string>{"file"});
  }
  SECTION("read-only folder") {
    if (::geteuid() == 0) {
      WARN("running as root: permission bits do not stop writes, read-only case skipped");
      return;
    }
    const fs::path ro = dir.path() / "ro";
    fs::create_directory(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    const std::string path = (ro / "x.bin").string();
    const std::string msg = what_of([&] { mm::io::write_file_atomic(path, "data"); });
    fs::permissions(ro, fs::perms::owner_all);
    REQUIRE(msg.find("Permission denied") != std::string::npos);
    REQUIRE(fs::is_empty(ro));
  }
}

TEST_CASE("A write that fails midway (file size limit) keeps the old file intact", "[core][io]") {
  TempDir dir;
  const std::string path = (dir.path() / "big.bin").string();
  mm::io::write_file_atomic(path, "previous");

  // RLIMIT_FSIZE makes write() fail with EFBIG past 4 KiB: a stand-in for a full disk.
  rlimit old_limit{};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  const std::string msg = what_of([&] { mm::io::write_file_atomic(path, std::string(1 << 20, 'z')); });
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  std::signal(SIGXFSZ, old_handler);

  REQUIRE(msg.find(path) != std::string::npos);
  REQUIRE(msg.find("write failed") != std::string::npos);
  REQUIRE(mm::io::read_file(path) == "previous");
  REQUIRE(dir.entries() == std::vector<std::string>{"big.bin"});
}

TEST_CASE("read_file names the path when it cannot read", "[core][io]") {
  TempDir dir;
  const std::string missing = (dir.path() / "missing.txt").string();
  std::string msg = what_of([&] { mm::io::read_file(missing); });
  REQUIRE(msg.find(missing) != std::string::npos);
  msg = what_of([&] { mm::io::read_file(dir.path().string()); });
  REQUIRE(msg.find("is a folder") != std::string::npos);
}

TEST_CASE("MappedFile maps contents, moves, and unmaps", "[core][io]") {
  TempDir dir;
  const std::string path = (dir.path() / "map.bin").string();
  const std::string payload = binary_payload();
  mm::io::write_file_atomic(path, payload);

  mm::io::MappedFile m(path);
  REQUIRE(m.size() == payload.size());
  REQUIRE(std::string(reinterpret_cast<const char*>(m.data()), m.size()) == payload);
  REQUIRE_THROWS_AS(m.mutable_data(), mm::Error);  // read-only mapping

  mm::io::MappedFile moved(std::move(m));
  REQUIRE(m.data() == nullptr);
  REQUIRE(m.size() == 0);
  REQUIRE(moved.size() == payload.size());
  REQUIRE(moved.data()[1] == static_cast<std::uint8_t>(37));

  mm::io::write_file_atomic((dir.path() / "empty").string(), "");
  mm::io::MappedFile empty((dir.path() / "empty").string());
  REQUIRE(empty.size() == 0);
  REQUIRE(empty.data() == nullptr);
  moved = std::move(empty);
  REQUIRE(moved.size() == 0);

  const std::string missing = (dir.path() / "nope").string();
  REQUIRE(what_of([&] { mm::io::MappedFile x(missing); }).find(missing) != std::string::npos);
  REQUIRE(what_of([&] { mm::io::MappedFile x(dir.path().string()); }).find("not a regular file") != std::string::npos);
}

TEST_CASE("A copy-on-write mapping is writable and never changes the file", "[core][io]") {
  TempDir dir;
  const std::string path = (dir.path() / "cow.bin").string();
  mm::io::write_file_atomic(path, "abcdef");
  {
    mm::io::MappedFile m(path, mm::io::MappedFile::Access::kCopyOnWrite);
    m.mutable_data()[0] = 'X';
    REQUIRE(m.data()[0] == 'X');
  }
  REQUIRE(mm::io::read_file(path) == "abcdef");
}

TEST_CASE("read_small_file reads regular files within the cap and names what anything else is", "[core][io]") {
  TempDir dir;
  const std::string ok = (dir.path() / "ok.yaml").string();
  mm::io::write_file_atomic(ok, "a: 1\n");
  REQUIRE(mm::io::read_small_file(ok, 5, "config file") == "a: 1\n");
  REQUIRE(mm::io::regular_file_problem(ok, 5).empty());
  // One line: what was given, the path, and what it is instead.
  auto problem = [&](const std::string& path, std::size_t cap) {
    const std::string msg = what_of([&] { mm::io::read_small_file(path, cap, "config file"); });
    REQUIRE(msg.find("config file '" + path + "' ") == 0);
    REQUIRE(msg.find('\n') == std::string::npos);
    REQUIRE(msg.substr(path.size() + 15) == mm::io::regular_file_problem(path, cap));
    return msg;
  };
  REQUIRE(problem(ok, 4).find("is 5 bytes, larger than the 4 bytes limit") != std::string::npos);
  REQUIRE(problem(dir.path().string(), 100).find("is a folder, not a regular file") != std::string::npos);
  REQUIRE(problem("/dev/zero", 100).find("is a character device, not a regular file") != std::string::npos);
  const std::string fifo = (dir.path() / "fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);  // opening it for reading would block: it is never opened
  REQUIRE(problem(fifo, 100).find("is a FIFO (named pipe), not a regular file") != std::string::npos);
  REQUIRE(problem((dir.path() / "nope").string(), 100).find("does not exist") != std::string::npos);
  REQUIRE(problem(ok + "/below", 100).find("does not exist (a folder on its path is a file)") != std::string::npos);
  REQUIRE(mm::io::file_kind(S_IFSOCK) == "a socket");
}

TEST_CASE("printable keeps a message on one line", "[core][io]") {
  REQUIRE(mm::io::printable(std::string("a\0b\nc\x7f", 6)) == "a\\x00b\\x0ac\\x7f");
  REQUIRE(mm::io::printable(std::string(10, 'x'), 4) == "xxxx...");
  REQUIRE(mm::io::printable("plain text") == "plain text");
}

TEST_CASE("shell_quote: plain words as they are, everything else one single-quoted word", "[core][io]") {
  CHECK(mm::io::shell_quote("runs/demo/recipe.yaml") == "runs/demo/recipe.yaml");
  CHECK(mm::io::shell_quote("stages.sft.train.steps=10") == "stages.sft.train.steps=10");
  CHECK(mm::io::shell_quote("a b") == "'a b'");
  CHECK(mm::io::shell_quote("data.sources=[{name: x}]") == "'data.sources=[{name: x}]'");
  CHECK(mm::io::shell_quote("it's") == "'it'\\''s'");
  CHECK(mm::io::shell_quote("") == "''");
  CHECK(mm::io::shell_quote("$HOME") == "'$HOME'");
  // Round trip through a real shell: every string comes back unchanged.
  for (const std::string s : {"a b", "it's", "$HOME", "x\"y", "tab\there", "*", "a;b", "plain-word"}) {
    FILE* p = ::popen(("printf %s " + mm::io::shell_quote(s)).c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[256];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    ::pclose(p);
    CHECK(out == s);
  }
}

TEST_CASE("read_file: a file larger than 1 GiB is one line, not read", "[core][io]") {
  mm::test::TempDir dir;
  const std::string big = dir.file("big.bin");
  { std::ofstream(big).put('x'); }
  fs::resize_file(big, std::uintmax_t{3} << 30);  // sparse: nothing is written
  try {
    mm::io::read_file(big);
    FAIL("read_file read a file over the limit");
  } catch (const mm::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains(big + ": is 3.0 GiB, larger than the 1.0 GiB limit for a file read whole"));
  }
}
