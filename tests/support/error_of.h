// error_of(f): the what() of the mm::Error that `f` throws, or "<no error>" when it throws none (a
// missing error then reads as such in a failed comparison). Other exceptions propagate.
#pragma once
#include <string>

#include "core/check.h"

namespace mm::test {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const mm::Error& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace mm::test
