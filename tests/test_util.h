// Helpers shared by the test suites.
#pragma once

#include <functional>
#include <string>

#include "rnnas/core.h"

namespace rnnas::test_util {

// The message of the rnnas::Error that `f` throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace rnnas::test_util
