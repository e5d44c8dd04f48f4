#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace {

// key=value arguments of a data spec, with typed getters that name the spec in their errors. Every key
// must be consumed: a misspelt key is an error, not a silently ignored option.
class SpecArgs {
 public:
  SpecArgs(std::string_view spec, std::string_view args) : spec_(spec) {
    if (args.empty()) return;
    for (auto part : split(args, ',')) {
      part = trim(part);
      const auto eq = part.find('=');
      if (eq == std::string_view::npos) {
        if (!positional_.empty())
          throw Error(fmt::format("data '{}': more than one path ('{}' and '{}')", spec, positional_, part));
        positional_ = std::string(part);
        continue;
      }
      values_[std::string(trim(part.substr(0, eq)))] = std::string(trim(part.substr(eq + 1)));
    }
  }
  const std::string& path() const { return positional_; }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  std::string str(const std::string& key, const std::string& fallback) {
    used_.insert(key);
    auto it = values_.find(key);
    return it == values_.end() ? fallback : it->second;
  }
  double num(const std::string& key, double fallback) {
    used_.insert(key);
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    double v;
    if (!parse_number(it->second, v))
      throw Error(fmt::format("data '{}': {}='{}' is not a number", spec_, key, it->second));
    return v;
  }
  long long integer(const std::string& key, long long fallback) {
    used_.insert(key);
    auto it = values_.find(key);
    if (it == values_.end()) return fallback;
    long long v;
    if (!parse_int(it->second, v))
      throw Error(fmt::format("data '{}': {}='{}' is not an integer", spec_, key, it->second));
    return v;
  }
  std::vector<std::string> list(const std::string& key) {
    std::vector<std::string> out;
    for (auto s : split(str(key, ""), ';'))
      if (!trim(s).empty()) out.emplace_back(trim(s));
    return out;
  }
  void finish() const {
    for (const auto& [k, v] : values_)
      if (!used_.count(k)) throw Error(fmt::format("data '{}': unknown option '{}'", spec_, k));
  }

 private:
  std::string spec_;
  std::string positional_;
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

int to_int(long long v, std::string_view what, std::string_view spec) {
  if (v < 0 || v > 100'000'000) throw Error(fmt::format("data '{}': {}={} out of range", spec, what, v));
  return static_cast<int>(v);
}

// n = total sequences, split 80/10/10.
void total_counts(SpecArgs& a, int default_total, std::string_view spec, int& train, int& val, int& test) {
  const int n = to_int(a.integer("n", default_total), "n", spec);
  if (n < 10) throw Error(fmt::format("data '{}': n={} must be at least 10", spec, n));
  val = n / 10;
  test = n / 10;
  train = n - val - test;
}

}  // namespace

Dataset load_dataset(std::string_view spec_in) {
  const std::string_view spec = trim(spec_in);
  const auto colon = spec.find(':');
  const std::string kind(spec.substr(0, colon));
  SpecArgs a(spec, colon == std::string_view::npos ? std::string_view{} : spec.substr(colon + 1));
  Dataset ds;
  if (kind == "adding") {
    AddingOptions o;
    o.steps = to_int(a.integer("T", o.steps), "T", spec);
    o.min_steps = to_int(a.integer("minT", 0), "minT", spec);
    o.seed = static_cast<uint64_t>(a.integer("seed", 1));
    total_counts(a, 10000, spec, o.train, o.val, o.test);
    a.finish();
    ds = make_adding(o);
  } else if (kind == "sine") {
    SineOptions o;
    o.classes = to_int(a.integer("classes", o.classes), "classes", spec);
    o.steps = to_int(a.integer("T", o.steps), "T", spec);
    o.channels = to_int(a.integer("channels", o.channels), "channels", spec);
    o.noise = a.num("noise", o.noise);
    o.seed = static_cast<uint64_t>(a.integer("seed", 1));
    total_counts(a, 3000, spec, o.train, o.val, o.test);
    a.finish();
    ds = make_sine(o);
  } else if (kind == "csv") {
    if (a.path().empty()) throw Error(fmt::format("data '{}': csv needs a path, as in csv:data/run1.csv", spec));
    const double val = a.num("val", 0.15), test = a.num("test", 0.15);
    const auto seed = static_cast<uint64_t>(a.integer("seed", 1));
    if (a.has("window") || a.has("label") || a.has("target")) {
      CsvWindowOptions o;
      o.path = a.path();
      o.window = to_int(a.integer("window", o.window), "window", spec);
      o.stride = to_int(a.integer("stride", std::max(1, o.window / 2)), "stride", spec);
      o.label = a.str("label", "");
      o.targets = a.list("target");
      o.group = a.str("group", "");
      o.drop = a.list("drop");
      o.labeling = a.str("labeling", o.labeling);
      o.val = val;
      o.test = test;
      o.seed = seed;
      a.finish();
      ds = load_csv_windows(o);
    } else {
      CsvSequenceOptions o{a.path(), val, test, seed};
      a.finish();
      ds = load_csv_sequences(o);
    }
  } else {
    throw Error(fmt::format("data '{}': unknown kind '{}' (expected adding, sine or csv)", spec, kind));
  }
  ds.validate();
  return ds;
}

}  // namespace rnnas
