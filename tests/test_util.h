// Helpers shared by the test suites.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
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

// A folder of the shared recordings: $RNNAS_DATA_DIR/<sub>, else ../shared/data/<sub> next to the source.
inline std::string shared_data(const std::string& sub) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("RNNAS_DATA_DIR");
  const fs::path base = env && *env ? fs::path(env) : fs::path(RNNAS_SOURCE_DIR) / ".." / "shared" / "data";
  return (base / sub).lexically_normal().string();
}

// A scratch folder of this test process (gtest's TempDir plus the process id, created): test suites run
// side by side (ctest -j, two checkouts on one machine) never share a file.
inline std::string temp_dir() {
  namespace fs = std::filesystem;
  const fs::path d = fs::path(::testing::TempDir()) / ("rnnas-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d.string() + "/";
}

}  // namespace rnnas::test_util
