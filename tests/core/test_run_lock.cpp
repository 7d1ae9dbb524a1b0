// RunLock (src/core/run_lock.h): one holder per run directory, refused with one line naming the
// folder and the holder, free again once the holder is gone, even when it was SIGKILLed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/check.h"
#include "core/run_lock.h"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "mm_lock_test.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// The message of the mm::Error that constructing a RunLock on `dir` throws ("" if none).
std::string refusal(const std::string& dir) {
  try {
    mm::RunLock lock(dir);
  } catch (const mm::Error& e) {
    return e.what();
  }
  return {};
}

// A child process that takes the lock on `dir` and waits; returns its pid once it holds it.
pid_t spawn_holder(const std::string& dir) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    try {
      mm::RunLock lock(dir);
      const char ok = 'y';
      if (::write(fds[1], &ok, 1) != 1) ::_exit(3);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(fds[1]);
  char got = 0;
  const ssize_t n = ::read(fds[0], &got, 1);
  ::close(fds[0]);
  REQUIRE(n == 1);
  return pid;
}

}  // namespace

TEST_CASE("run lock: a second process is refused with one line naming the run dir and the holder") {
  TempDir t;
  const std::string dir = (t.path / "runs" / "a").string();
  const pid_t holder = spawn_holder(dir);
  const std::string msg = refusal(dir);
  CHECK(msg.find("run_dir '" + dir + "' is in use by another training") != std::string::npos);
  CHECK(msg.find("pid " + std::to_string(holder) + " on host ") != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(mm::RunLock::current_holder(dir).find("pid " + std::to_string(holder)) == 0);

  // SIGKILL: no destructor runs, the kernel drops the flock; the stale file does not block.
  REQUIRE(::kill(holder, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(holder, &status, 0) == holder);
  CHECK(mm::RunLock::current_holder(dir).empty());
  CHECK(fs::exists(fs::path(dir) / mm::RunLock::kFileName));
  mm::RunLock mine(dir);
  CHECK(mine.holder().find("pid " + std::to_string(::getpid())) == 0);
  std::ifstream in(fs::path(dir) / mm::RunLock::kFileName);
  std::string line;
  std::getline(in, line);
  CHECK(line == mine.holder());
}

TEST_CASE("run lock: one holder inside a process too, released by its destructor and movable") {
  TempDir t;
  const std::string dir = t.path.string();
  {
    mm::RunLock first(dir);
    CHECK(refusal(dir).find("is in use by another training (pid " + std::to_string(::getpid())) != std::string::npos);
    mm::RunLock moved(std::move(first));
    CHECK(!refusal(dir).empty());
  }
  CHECK(refusal(dir).empty());
  CHECK(mm::RunLock::current_holder(dir).empty());
  CHECK(mm::RunLock::current_holder((t.path / "nowhere").string()).empty());
}

TEST_CASE("run lock: a run dir that cannot be created or written is one line, not a crash") {
  TempDir t;
  { std::ofstream(t.path / "file") << "x"; }
  const std::string below_file = (t.path / "file" / "run").string();  // root cannot write through a file
  const std::string msg = refusal(below_file);
  CHECK(msg.find("run_dir '" + below_file + "': cannot create it") != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
  CHECK(refusal((t.path / "file").string()).find("run_dir '" + (t.path / "file").string() + "'") != std::string::npos);
}
