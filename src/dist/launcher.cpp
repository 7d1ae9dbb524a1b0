// fork/exec of the ranks, a poll loop over their pipes, signal forwarding and fail-fast shutdown.
#include "dist/launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <iostream>

#include "core/check.h"
#include "core/timer.h"

namespace mm::dist {
namespace {

int g_signal_pipe[2] = {-1, -1};

void on_signal(int sig) {
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = write(g_signal_pipe[1], &b, 1);
}

struct Stream {
  int fd = -1;
  std::string partial;
  bool is_err = false;
};

struct Rank {
  int global_rank = 0;
  pid_t pid = -1;
  Stream streams[2];
  bool running = true;
  int status = 0;
  std::string last_err, last_out;
};

void set_cloexec(int fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); }

pid_t spawn(const LaunchOptions& o, int local_rank, int global_rank, int world, int port, int out_fd[2],
            int err_fd[2]) {
  pid_t pid = fork();
  MM_CHECK(pid >= 0, "launch: fork failed: {}", std::strerror(errno));
  if (pid != 0) return pid;
  // Child: its own process group so that stopping a rank also stops what it started.
  setpgid(0, 0);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  dup2(out_fd[1], STDOUT_FILENO);
  dup2(err_fd[1], STDERR_FILENO);
  setenv("MASTER_ADDR", o.master_addr.c_str(), 1);
  setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  setenv("RANK", std::to_string(global_rank).c_str(), 1);
  setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
  setenv("LOCAL_RANK", std::to_string(local_rank).c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
  setenv("GROUP_RANK", std::to_string(o.node_rank).c_str(), 1);
  setenv("NODE_RANK", std::to_string(o.node_rank).c_str(), 1);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(o.exe.c_str()));
  for (const std::string& a : o.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv(o.exe.c_str(), argv.data());
  std::fprintf(stderr, "launch: cannot execute %s: %s\n", o.exe.c_str(), std::strerror(errno));
  _exit(127);
}

void emit(const LaunchOptions& o, Rank& r, bool is_err, const std::string& line) {
  const std::string text = fmt::format("[rank {}] {}\n", r.global_rank, line);
  if (o.out != nullptr) {
    *o.out << text;
  } else {
    (is_err ? std::cerr : std::cout) << text << std::flush;
  }
  if (line.find_first_not_of(" \t\r") == std::string::npos) return;
  (is_err ? r.last_err : r.last_out) = line;
}

// Reads what is available; returns false at end of file.
bool pump(const LaunchOptions& o, Rank& r, Stream& s) {
  char buf[4096];
  ssize_t n = read(s.fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) {
    if (!s.partial.empty()) emit(o, r, s.is_err, s.partial);
    s.partial.clear();
    close(s.fd);
    s.fd = -1;
    return false;
  }
  s.partial.append(buf, static_cast<size_t>(n));
  for (size_t nl; (nl = s.partial.find('\n')) != std::string::npos;) {
    emit(o, r, s.is_err, s.partial.substr(0, nl));
    s.partial.erase(0, nl + 1);
  }
  return true;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "stopped";
}

}  // namespace

int find_free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  MM_CHECK(fd >= 0, "launch: socket() failed: {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  MM_CHECK(ok, "launch: could not find a free port: {}", std::strerror(errno));
  return ntohs(addr.sin_port);
}

LaunchResult launch(const LaunchOptions& o) {
  MM_CHECK(o.nproc >= 1, "launch: --nproc must be at least 1, got {}", o.nproc);
  MM_CHECK(o.nnodes >= 1 && o.node_rank >= 0 && o.node_rank < o.nnodes,
           "launch: --node-rank {} must lie in [0, --nnodes {})", o.node_rank, o.nnodes);
  MM_CHECK(!o.exe.empty(), "launch: no executable given");
  const int world = o.nproc * o.nnodes;
  const int port = o.master_port != 0 ? o.master_port : (o.nnodes == 1 ? find_free_port() : 29500);

  MM_CHECK(pipe(g_signal_pipe) == 0, "launch: pipe() failed: {}", std::strerror(errno));
  set_cloexec(g_signal_pipe[0]);
  set_cloexec(g_signal_pipe[1]);
  fcntl(g_signal_pipe[1], F_SETFL, O_NONBLOCK);
  struct sigaction sa {
  }, old_int{}, old_term{};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);

  std::vector<Rank> ranks(static_cast<size_t>(o.nproc));
  for (int i = 0; i < o.nproc; ++i) {
    Rank& r = ranks[static_cast<size_t>(i)];
    r.global_rank = o.node_rank * o.nproc + i;
    int out_fd[2], err_fd[2];
    MM_CHECK(pipe(out_fd) == 0 && pipe(err_fd) == 0, "launch: pipe() failed: {}", std::strerror(errno));
    for (int fd : {out_fd[0], out_fd[1], err_fd[0], err_fd[1]}) set_cloexec(fd);
    r.pid = spawn(o, i, r.global_rank, world, port, out_fd, err_fd);
    setpgid(r.pid, r.pid);  // also from the parent: no race with the first kill()
    close(out_fd[1]);
    close(err_fd[1]);
    r.streams[0].fd = out_fd[0];
    r.streams[1].fd = err_fd[0];
    r.streams[1].is_err = true;
  }

  LaunchResult res;
  const Stopwatch running;
  bool stopping = false;
  bool killed = false;
  Stopwatch since_stop;  // restarted when the ranks are asked to stop; SIGKILL after grace_s
  auto stop_all = [&](int sig) {
    for (Rank& r : ranks)
      if (r.running) kill(-r.pid, sig);
  };
  auto begin_stop = [&]() {
    if (stopping) return;
    stopping = true;
    stop_all(SIGTERM);
    since_stop.restart();
  };

  for (;;) {
    std::vector<pollfd> fds;
    std::vector<std::pair<Rank*, Stream*>> owners;
    fds.push_back({g_signal_pipe[0], POLLIN, 0});
    owners.emplace_back(nullptr, nullptr);
    for (Rank& r : ranks)
      for (Stream& s : r.streams)
        if (s.fd >= 0) {
          fds.push_back({s.fd, POLLIN, 0});
          owners.emplace_back(&r, &s);
        }
    bool any_running = false;
    for (const Rank& r : ranks) any_running = any_running || r.running;
    if (!any_running && fds.size() == 1) break;
    poll(fds.data(), fds.size(), 100);
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      if (i == 0) {
        unsigned char sig = 0;
        if (read(g_signal_pipe[0], &sig, 1) == 1) {
          std::cerr << fmt::format("launch: got signal {}, forwarding it to the ranks\n", static_cast<int>(sig));
          stop_all(sig);
          if (res.exit_code == 0) {
            res.exit_code = 128 + sig;
            res.message = fmt::format("interrupted by signal {}", static_cast<int>(sig));
          }
          if (!stopping) {
            stopping = true;
            since_stop.restart();
          }
        }
        continue;
      }
      pump(o, *owners[i].first, *owners[i].second);
    }
    for (Rank& r : ranks) {
      if (!r.running) continue;
      int status = 0;
      if (waitpid(r.pid, &status, WNOHANG) != r.pid) continue;
      r.running = false;
      r.status = status;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && res.failed_rank < 0 && res.exit_code == 0) {
        // Drain what the failing rank already wrote so its last error line is known.
        for (Stream& s : r.streams)
          while (s.fd >= 0) {
            pollfd p{s.fd, POLLIN, 0};
            if (poll(&p, 1, 200) <= 0) break;
            pump(o, r, s);
          }
        res.failed_rank = r.global_rank;
        res.last_error_line = !r.last_err.empty() ? r.last_err : r.last_out;
        res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        res.message = fmt::format("rank {} {}{}", r.global_rank, describe_exit(status),
                                  res.last_error_line.empty() ? "" : ": " + res.last_error_line);
        begin_stop();
      }
    }
    if (o.timeout_s > 0 && !stopping && running.seconds() > o.timeout_s) {
      res.exit_code = 124;
      res.message = fmt::format("launch: ranks still running after the {} s limit; stopped them", o.timeout_s);
      begin_stop();
    }
    if (stopping && !killed && since_stop.seconds() >= o.grace_s) {
      stop_all(SIGKILL);
      killed = true;
    }
    // Ranks are gone but a grandchild still holds a pipe: stop reading after the grace period.
    if (!any_running && stopping && killed)
      for (Rank& r : ranks)
        for (Stream& s : r.streams)
          if (s.fd >= 0) {
            close(s.fd);
            s.fd = -1;
          }
  }

  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  close(g_signal_pipe[0]);
  close(g_signal_pipe[1]);
  g_signal_pipe[0] = g_signal_pipe[1] = -1;
  return res;
}

}  // namespace mm::dist
