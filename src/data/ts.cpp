// UCR/UEA time-series archive .ts files (the sktime format; timeseriesclassification.com).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

#include "internal.h"
#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace fs = std::filesystem;
namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  std::transform(r.begin(), r.end(), r.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return r;
}

bool parse_bool(std::string_view v, bool& out) {
  const std::string l = lower(trim(v));
  if (l == "true") return out = true, true;
  if (l == "false") return out = false, true;
  return false;
}

}  // namespace

TsFile parse_ts(std::string_view text, const std::string& name) {
  TsFile f;
  f.name = name;
  bool in_data = false, saw_class = false, saw_target = false, timestamps = false, missing = true;
  bool equal_length = false, saw_equal = false;
  long long series_length = 0, dims_declared = 0;
  size_t pos = 0;
  int line_no = 0;
  if (text.empty()) throw Error(fmt::format("{}: empty file", name));
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.size() >= 3 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = fmt::format("{}:{}", name, line_no);
    if (!in_data) {
      if (line[0] != '@') throw Error(fmt::format("{}: expected a @tag or @data before the data, found '{}'", where,
                                                  std::string(line.substr(0, 40))));
      const auto sp = line.find_first_of(" \t");
      const std::string tag = lower(line.substr(0, sp));
      const std::string_view rest = sp == std::string_view::npos ? std::string_view{} : trim(line.substr(sp));
      bool b = false;
      auto need_bool = [&](bool& dst) {
        if (!parse_bool(rest, dst)) throw Error(fmt::format("{}: {} needs true or false, found '{}'", where, tag, rest));
      };
      auto need_int = [&](long long& dst) {
        if (!parse_int(rest, dst) || dst < 1) throw Error(fmt::format("{}: {} needs a positive integer, found '{}'", where, tag, rest));
      };
      if (tag == "@problemname") f.problem = std::string(rest);
      else if (tag == "@timestamps") need_bool(timestamps);
      else if (tag == "@missing") need_bool(missing);
      else if (tag == "@univariate") { need_bool(b); if (b && !dims_declared) dims_declared = 1; }
      else if (tag == "@dimension" || tag == "@dimensions") need_int(dims_declared);
      else if (tag == "@equallength") { need_bool(equal_length); saw_equal = true; }
      else if (tag == "@serieslength") need_int(series_length);
      else if (tag == "@classlabel") {
        saw_class = true;
        const auto parts = split(rest, ' ');
        std::vector<std::string> tokens;
        for (auto p : parts)
          for (auto q : split(p, '\t'))
            if (!trim(q).empty()) tokens.emplace_back(trim(q));
        if (tokens.empty() || !parse_bool(tokens[0], f.class_label))
          throw Error(fmt::format("{}: @classLabel needs true or false first, found '{}'", where, rest));
        if (f.class_label && tokens.size() < 3)
          throw Error(fmt::format("{}: @classLabel true needs the list of at least 2 class labels", where));
        if (!f.class_label && tokens.size() > 1)
          throw Error(fmt::format("{}: @classLabel false takes no labels", where));
        f.labels.assign(tokens.begin() + 1, tokens.end());
        std::set<std::string> uniq(f.labels.begin(), f.labels.end());
        if (uniq.size() != f.labels.size()) throw Error(fmt::format("{}: @classLabel lists a label twice", where));
      } else if (tag == "@targetlabel") { saw_target = true; need_bool(f.target_label); }
      else if (tag == "@data") {
        if (!saw_class && !saw_target)
          throw Error(fmt::format("{}: @data before @classLabel or @targetLabel (which says what to predict)", where));
        if (f.class_label == f.target_label)
          throw Error(fmt::format("{}: needs exactly one of '@classLabel true ...' or '@targetLabel true'", where));
        if (timestamps)
          throw Error(fmt::format("{}: @timeStamps true is not supported (resample to equal spacing first)", where));
        in_data = true;
      } else {
        throw Error(fmt::format("{}: unknown tag '{}'", where, tag));
      }
      continue;
    }
    // A case: dim:dim:...:label
    TsCase c;
    const auto fields = split(line, ':');
    if (fields.size() < 2)
      throw Error(fmt::format("{}: expected at least one dimension and a label separated by ':'", where));
    c.label = std::string(trim(fields.back()));
    if (c.label.empty()) throw Error(fmt::format("{}: the label (last field) is empty", where));
    if (f.class_label && std::find(f.labels.begin(), f.labels.end(), c.label) == f.labels.end())
      throw Error(fmt::format("{}: label '{}' is not among the @classLabel labels", where, c.label));
    if (f.target_label) {
      double v;
      if (!parse_number(c.label, v) || !std::isfinite(v))
        throw Error(fmt::format("{}: target '{}' is not a finite number", where, c.label));
    }
    for (size_t d = 0; d + 1 < fields.size(); ++d) {
      std::vector<double> vals;
      const auto cells = split(fields[d], ',');
      for (size_t k = 0; k < cells.size(); ++k) {
        const auto cell = trim(cells[k]);
        double v;
        if (cell == "?" || lower(cell) == "nan") {
          if (!missing)
            throw Error(fmt::format("{}: dimension {} value {} is missing but the header says @missing false", where,
                                    d + 1, k + 1));
          v = std::numeric_limits<double>::quiet_NaN();
        } else if (!parse_number(cell, v) || !std::isfinite(v)) {
          if (!cell.empty() && cell.front() == '(')
            throw Error(fmt::format("{}: time-stamped values '(t, v)' are not supported", where));
          throw Error(fmt::format("{}: dimension {} value {} is '{}', not a finite number", where, d + 1, k + 1,
                                  std::string(cell.substr(0, 30))));
        }
        vals.push_back(v);
      }
      if (vals.empty() || (vals.size() == 1 && trim(fields[d]).empty()))
        throw Error(fmt::format("{}: dimension {} is empty", where, d + 1));
      c.dims.push_back(std::move(vals));
    }
    const int nd = static_cast<int>(c.dims.size());
    if (f.dimensions == 0) f.dimensions = nd;
    if (nd != f.dimensions)
      throw Error(fmt::format("{}: {} dimensions, earlier cases have {}", where, nd, f.dimensions));
    if (dims_declared && nd != dims_declared)
      throw Error(fmt::format("{}: {} dimensions, the header declares {}", where, nd, dims_declared));
    if (saw_equal && equal_length) {
      for (const auto& d : c.dims) {
        const auto expect = series_length ? static_cast<size_t>(series_length)
                                          : (f.cases.empty() ? d.size() : f.cases[0].dims[0].size());
        if (d.size() != expect)
          throw Error(fmt::format("{}: a dimension has {} values, but @equalLength true and the length is {}", where,
                                  d.size(), expect));
      }
    }
    f.cases.push_back(std::move(c));
  }
  if (!in_data) throw Error(fmt::format("{}: no @data section (truncated header?)", name));
  if (f.cases.empty()) throw Error(fmt::format("{}: @data section holds no cases", name));
  return f;
}

namespace {

// One case as [T x D]; shorter dimensions are padded with missing values, then missing values are filled.
Sequence case_to_sequence(const TsCase& c, const std::string& missing, const std::string& where) {
  size_t T = 0;
  for (const auto& d : c.dims) T = std::max(T, d.size());
  Sequence s(static_cast<long>(T), static_cast<long>(c.dims.size()));
  for (size_t d = 0; d < c.dims.size(); ++d) {
    std::vector<double> v(c.dims[d]);
    v.resize(T, std::numeric_limits<double>::quiet_NaN());
    const bool any_missing = std::any_of(v.begin(), v.end(), [](double x) { return std::isnan(x); });
    if (any_missing && missing == "error")
      throw Error(fmt::format("{}: dimension {} has missing values (missing=error)", where, d + 1));
    if (any_missing && missing == "zero") {
      for (double& x : v)
        if (std::isnan(x)) x = 0;
    } else if (any_missing) {
      // Linear interpolation between known neighbours; the ends repeat the nearest known value; a
      // dimension with no known value becomes 0.
      std::vector<size_t> known;
      for (size_t t = 0; t < T; ++t)
        if (!std::isnan(v[t])) known.push_back(t);
      size_t next = 0;  // index into `known` of the first known position > t
      for (size_t t = 0; t < T; ++t) {
        while (next < known.size() && known[next] <= t) ++next;
        if (!std::isnan(v[t])) continue;
        if (known.empty()) v[t] = 0;
        else if (next == 0) v[t] = v[known[0]];
        else if (next == known.size()) v[t] = v[known.back()];
        else {
          const size_t a = known[next - 1], b = known[next];
          v[t] = v[a] + (v[b] - v[a]) * static_cast<double>(t - a) / static_cast<double>(b - a);
        }
      }
    }
    for (size_t t = 0; t < T; ++t) s(static_cast<long>(t), static_cast<long>(d)) = static_cast<float>(v[t]);
  }
  return s;
}

}  // namespace

Dataset load_ts(const TsOptions& o) {
  if (o.missing != "interpolate" && o.missing != "zero" && o.missing != "error")
    throw Error(fmt::format("{}: missing='{}', expected interpolate, zero or error", o.train, o.missing));
  const TsFile tr = parse_ts(detail::read_file(o.train, ".ts file"), o.train);
  TsFile te;
  if (!o.test.empty()) {
    te = parse_ts(detail::read_file(o.test, ".ts file"), o.test);
    if (te.dimensions != tr.dimensions)
      throw Error(fmt::format("{}: {} dimensions, but {} has {}", o.test, te.dimensions, o.train, tr.dimensions));
    if (te.class_label != tr.class_label)
      throw Error(fmt::format("{}: a {} file, but {} is a {} file", o.test, te.class_label ? "classification" : "regression",
                              o.train, tr.class_label ? "classification" : "regression"));
  }
  Dataset ds;
  ds.name = tr.problem.empty() ? fs::path(o.train).stem().string() : tr.problem;
  ds.task = tr.class_label ? TaskKind::classification : TaskKind::regression;
  ds.num_features = tr.dimensions;
  for (int d = 0; d < tr.dimensions; ++d) ds.feature_names.push_back(fmt::format("dim{}", d + 1));
  if (tr.class_label) {
    ds.class_names = tr.labels;
    for (const auto& l : te.labels)
      if (std::find(ds.class_names.begin(), ds.class_names.end(), l) == ds.class_names.end())
        throw Error(fmt::format("{}: class '{}' is not declared in {}", o.test, l, o.train));
    ds.num_classes = static_cast<int>(ds.class_names.size());
  } else {
    ds.num_outputs = 1;
    ds.output_names = {"target"};
  }
  auto fill = [&](const TsFile& f, Split& part) {
    for (size_t i = 0; i < f.cases.size(); ++i) {
      const auto& c = f.cases[i];
      part.x.push_back(case_to_sequence(c, o.missing, fmt::format("{} case {}", f.name, i + 1)));
      if (tr.class_label) {
        part.label.push_back(detail::class_index(ds.class_names, c.label));
      } else {
        double v = 0;
        parse_number(c.label, v);
        part.y.push_back(static_cast<float>(v));
      }
    }
  };
  const int O = ds.num_outputs;
  if (o.test.empty()) {
    Split all;
    fill(tr, all);
    random_split(std::move(all), o.val, o.test_fraction, o.seed, O, ds);
  } else {
    fill(tr, ds.train);
    fill(te, ds.test);
    carve_validation(ds, o.val, o.seed);
    ds.split_info = fmt::format("the archive's TRAIN/TEST files; val {:.0f}% of TRAIN ({}), seed {}", 100 * o.val,
                                tr.class_label ? "stratified" : "shuffled", o.seed);
  }
  ds.validate();
  return ds;
}

}  // namespace rnnas
