#include <chrono>

#include "rnnas/core.h"

namespace rnnas {

double now_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

}  // namespace rnnas
