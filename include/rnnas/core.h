// rnnas/core.h — errors, seeded randomness, number parsing and a small thread pool.
//
//   rnnas::Rng rng(42);                       // every random choice flows from an explicit seed
//   double u = rng.uniform();                 // [0, 1), identical on every platform
//   rnnas::Rng child = rng.fork(7);           // independent stream, derived deterministically
//
//   double v;
//   if (!rnnas::parse_number("3.5e-2", v)) { ... }   // strict: whole string, finite
//
//   rnnas::parallel_for(jobs.size(), 2, [&](size_t i) { run(jobs[i]); });
//
// Errors: code that validates untrusted input (files, CLI strings) throws rnnas::Error with a message
// that names the file, line and field. Programmer errors are asserts. Hot loops are unchecked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace rnnas {

// A terminating error caused by input (a file, a spec string, an option). The message is for the user.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Seeded pseudo-random generator (xoshiro256**, seeded through splitmix64). The distributions are
// implemented here rather than taken from <random>, whose distributions differ between standard
// libraries: the same seed gives the same numbers everywhere. Not thread-safe: give each thread its own
// (see fork()).
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next_u64();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  double normal();                       // standard normal (Box-Muller, no cached second value)
  uint64_t below(uint64_t n);            // uniform integer in [0, n), n > 0, unbiased
  // A generator for an independent stream, derived from this generator's seed and `stream` only:
  // calling fork() does not advance this generator.
  Rng fork(uint64_t stream) const;
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }
  uint64_t seed() const { return seed_; }

 private:
  uint64_t seed_;
  uint64_t s_[4];
};

// Strict number parsing: the whole of `text` (no surrounding spaces) must be a finite number.
bool parse_number(std::string_view text, double& out);
bool parse_int(std::string_view text, long long& out);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);

// Runs fn(i) for i in [0, n) on up to `threads` threads (0 = hardware concurrency). Each index runs
// exactly once; the first exception thrown by any fn is rethrown in the caller after all threads join.
void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)>& fn);

// Seconds since an arbitrary epoch (steady clock); for progress output and benchmarks only.
double now_seconds();

}  // namespace rnnas
