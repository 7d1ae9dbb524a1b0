#include "core/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <utility>

#include "core/check.h"
#include "core/host.h"

namespace mm {
namespace fs = std::filesystem;
namespace {

std::string lock_path(const std::string& run_dir) { return (fs::path(run_dir) / RunLock::kFileName).string(); }

std::string this_holder() {
  char when[32] = "?";
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  if (::gmtime_r(&now, &tm) != nullptr) std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return fmt::format("pid {} on host {}, started {}", ::getpid(), host_name("?"), when);
}

// The holder line in an open lock file (its first line, at most 512 bytes), or a placeholder.
std::string read_holder(int fd) {
  char buf[512];
  ssize_t n;
  do n = ::pread(fd, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  s = s.substr(0, s.find('\n'));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return s.empty() ? "a process that has not written its name yet" : s;
}

}  // namespace

RunLock::RunLock(const std::string& run_dir) : run_dir_(run_dir) {
  std::error_code ec;
  fs::create_directories(run_dir_, ec);
  if (ec) throw Error(fmt::format("run_dir '{}': cannot create it: {}", run_dir_, ec.message()));
  if (!fs::is_directory(run_dir_, ec)) throw Error(fmt::format("run_dir '{}': not a folder", run_dir_));
  const std::string path = lock_path(run_dir_);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) {
    throw Error(fmt::format("run_dir '{}': cannot write its lock file {}: {}", run_dir_, path, std::strerror(errno)));
  }
  int rc;
  do rc = ::flock(fd_, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    const std::string other = err == EWOULDBLOCK ? read_holder(fd_) : std::string();
    release();
    if (err != EWOULDBLOCK) {
      throw Error(fmt::format("run_dir '{}': cannot lock {}: {}", run_dir_, path, std::strerror(err)));
    }
    throw Error(
        fmt::format("run_dir '{}' is in use by another training ({}); wait for it to end or choose "
                    "another run_dir",
                    run_dir_, other));
  }
  holder_ = this_holder();
  const std::string text = holder_ + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    const int err = errno;
    release();
    throw Error(fmt::format("run_dir '{}': cannot write its lock file {}: {}", run_dir_, path, std::strerror(err)));
  }
  ::fsync(fd_);  // best effort: the flock, not the text, is the lock
}

RunLock::~RunLock() { release(); }

void RunLock::release() noexcept {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor drops the flock
  fd_ = -1;
}

RunLock::RunLock(RunLock&& other) noexcept
    : run_dir_(std::move(other.run_dir_)), holder_(std::move(other.holder_)), fd_(std::exchange(other.fd_, -1)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    release();
    run_dir_ = std::move(other.run_dir_);
    holder_ = std::move(other.holder_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

std::string RunLock::current_holder(const std::string& run_dir) {
  const std::string path = lock_path(run_dir);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return {};
  std::string holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) holder = errno == EWOULDBLOCK ? read_holder(fd) : std::string();
  ::close(fd);
  return holder;
}

}  // namespace mm
