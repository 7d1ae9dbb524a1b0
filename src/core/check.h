// MM_CHECK and the project's error type: a failed check throws mm::Error carrying file:line and a
// formatted message; the CLI prints that one line and exits non-zero (no stack dumps).
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace mm {

// A user-facing error: `what()` is one line, ready to print.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// `what` without the "src/x.cpp:42: " that MM_CHECK puts first: the line a user reads. The
// location stays in the exception for tests and for MM_DEBUG=1 (the CLI prints it then).
std::string without_location(const std::string& what);

namespace detail {
[[noreturn]] void throw_check_failure(const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace mm

// MM_CHECK(cond, "format {}", args...): throws mm::Error("file.cpp:42: message") when cond is false.
#define MM_CHECK(cond, ...)                                                              \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      ::mm::detail::throw_check_failure(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
    }                                                                                    \
  } while (0)

// MM_FAIL("format {}", args...): unconditional MM_CHECK failure.
#define MM_FAIL(...) ::mm::detail::throw_check_failure(__FILE__, __LINE__, ::fmt::format(__VA_ARGS__))
