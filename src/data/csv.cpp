// CSV reading. A small hand-written tokenizer rather than a library: the loaders must report the exact
// line and column of every bad cell, which the packaged CSV libraries (libcsv, fast-cpp-csv-parser) do
// not track.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "internal.h"
#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace fs = std::filesystem;
using detail::class_index;
using detail::sorted_class_names;
namespace {

// Splits one line into fields; handles double-quoted fields with "" escapes. Throws on an unclosed quote.
std::vector<std::string> split_fields(std::string_view line, const std::string& path, int line_no) {
  std::vector<std::string> fields;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"' && trim(cur).empty()) {
      quoted = was_quoted = true;
      cur.clear();
    } else if (c == ',') {
      fields.push_back(was_quoted ? cur : std::string(trim(cur)));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) throw Error(fmt::format("{}:{}: unclosed quote", path, line_no));
  fields.push_back(was_quoted ? cur : std::string(trim(cur)));
  return fields;
}

std::string column_name(const CsvTable& t, size_t c) {
  if (c < t.header.size()) return fmt::format("column {} ('{}')", c + 1, t.header[c]);
  return fmt::format("column {}", c + 1);
}

bool all_numbers(const std::vector<std::string>& fields) {
  double v;
  return std::all_of(fields.begin(), fields.end(), [&](const std::string& f) { return parse_number(f, v); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

int CsvTable::column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return static_cast<int>(i);
  return -1;
}

std::vector<std::string> read_csv_header(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{}: is a directory, expected a CSV file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open file", path));
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (!trim(line).empty()) return split_fields(line, path, line_no);
  }
  throw Error(fmt::format("{}: empty file", path));
}

CsvTable read_csv(const std::string& path, const std::vector<std::string>& text_columns) {
  return parse_csv(detail::read_file(path, "CSV file"), path, text_columns);
}

CsvTable parse_csv(std::string_view content, const std::string& path, const std::vector<std::string>& text_columns) {
  CsvTable t;
  t.path = path;
  std::vector<int> text_index;  // per column: index into text_columns, or -1
  size_t ncols = 0;
  int line_no = 0;
  bool first = true;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find('\n', pos);
    if (end == std::string::npos) end = content.size();
    std::string_view line(content.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    if (line_no == 1 && line.size() >= 3 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    auto fields = split_fields(line, path, line_no);
    if (first) {
      first = false;
      ncols = fields.size();
      if (!text_columns.empty() || !all_numbers(fields)) {
        t.header = fields;
        text_index.assign(ncols, -1);
        for (size_t k = 0; k < text_columns.size(); ++k) {
          const int c = t.column(text_columns[k]);
          if (c >= 0) text_index[c] = static_cast<int>(k);
        }
        continue;
      }
      text_index.assign(ncols, -1);
    }
    if (fields.size() != ncols)
      throw Error(fmt::format("{}:{}: expected {} columns, found {} (ragged row)", path, line_no, ncols,
                              fields.size()));
    std::vector<double> row(ncols, std::numeric_limits<double>::quiet_NaN());
    std::vector<std::string> text_row(text_columns.size());
    for (size_t c = 0; c < ncols; ++c) {
      if (text_index[c] >= 0) {
        text_row[text_index[c]] = fields[c];
        continue;
      }
      const std::string& f = fields[c];
      if (f.empty())
        throw Error(fmt::format("{}:{}: {} is empty, expected a number", path, line_no, column_name(t, c)));
      if (!parse_number(f, row[c])) {
        const std::string lf = lower(f);
        const bool non_finite = lf == "nan" || lf == "inf" || lf == "-inf" || lf == "+inf" || lf == "infinity" ||
                                lf == "-infinity" || lf == "-nan";
        double v;
        const bool overflow = !non_finite && std::from_chars(f.data(), f.data() + f.size(), v).ec ==
                                                 std::errc::result_out_of_range;
        throw Error(fmt::format("{}:{}: {} holds '{}', {}", path, line_no, column_name(t, c), f,
                                non_finite || overflow ? "which is not a finite number" : "which is not a number"));
      }
    }
    t.rows.push_back(std::move(row));
    t.text.push_back(std::move(text_row));
    t.line.push_back(line_no);
  }
  if (first) throw Error(fmt::format("{}: empty file", path));
  if (t.rows.empty()) throw Error(fmt::format("{}: has a header but no data rows", path));
  return t;
}

Dataset load_csv_windows(const CsvWindowOptions& o) {
  const bool classification = !o.label.empty();
  if (classification == !o.targets.empty())
    throw Error(fmt::format("{}: give exactly one of label=<column> (classification) or target=<column> "
                            "(regression)", o.path));
  if (o.window < 1 || o.stride < 1)
    throw Error(fmt::format("{}: window={} and stride={} must be positive", o.path, o.window, o.stride));
  if (o.labeling != "majority" && o.labeling != "last" && o.labeling != "pure")
    throw Error(fmt::format("{}: labeling='{}', expected majority, last or pure", o.path, o.labeling));
  // Check every named column against the header before parsing the cells.
  const std::vector<std::string> header = read_csv_header(o.path);
  std::vector<std::string> named = o.targets;
  named.insert(named.end(), o.drop.begin(), o.drop.end());
  if (classification) named.push_back(o.label);
  if (!o.group.empty()) named.push_back(o.group);
  for (const auto& name : named)
    if (std::find(header.begin(), header.end(), name) == header.end())
      throw Error(fmt::format("{}: no column named '{}' in the header", o.path, name));
  std::vector<std::string> text_cols;
  if (classification) text_cols.push_back(o.label);
  if (!o.group.empty()) text_cols.push_back(o.group);
  text_cols.insert(text_cols.end(), o.drop.begin(), o.drop.end());  // dropped columns may hold text
  const CsvTable t = read_csv(o.path, text_cols);
  if (t.header.empty()) throw Error(fmt::format("{}: needs a header row naming its columns", o.path));
  std::set<int> non_features;
  if (classification) non_features.insert(t.column(o.label));
  std::vector<int> target_cols;
  for (const auto& name : o.targets) target_cols.push_back(t.column(name));
  non_features.insert(target_cols.begin(), target_cols.end());
  if (!o.group.empty()) non_features.insert(t.column(o.group));
  for (const auto& name : o.drop) non_features.insert(t.column(name));
  std::vector<int> feature_cols;
  for (int c = 0; c < static_cast<int>(t.header.size()); ++c)
    if (!non_features.count(c)) feature_cols.push_back(c);
  if (feature_cols.empty()) throw Error(fmt::format("{}: no feature columns left", o.path));

  Dataset ds;
  ds.name = fs::path(o.path).filename().string();
  ds.task = classification ? TaskKind::classification : TaskKind::regression;
  ds.num_features = static_cast<int>(feature_cols.size());
  for (int c : feature_cols) ds.feature_names.push_back(t.header[c]);
  const int O = static_cast<int>(target_cols.size());
  if (classification) {
    std::set<std::string> names;
    for (size_t r = 0; r < t.rows.size(); ++r) {
      if (t.text[r][0].empty())
        throw Error(fmt::format("{}:{}: label column '{}' is empty", o.path, t.line[r], o.label));
      names.insert(t.text[r][0]);
    }
    ds.class_names = sorted_class_names(names);
    ds.num_classes = static_cast<int>(ds.class_names.size());
  } else {
    ds.num_outputs = O;
    ds.output_names = o.targets;
  }
  std::vector<int> row_class(t.rows.size(), 0);
  if (classification)
    for (size_t r = 0; r < t.rows.size(); ++r) row_class[r] = class_index(ds.class_names, t.text[r][0]);

  Split all;
  std::vector<size_t> starts;  // first row of each window
  const size_t group_field = classification ? 1 : 0;
  size_t seg_start = 0;
  for (size_t r = 1; r <= t.rows.size(); ++r) {
    const bool boundary = r == t.rows.size() ||
                          (!o.group.empty() && t.text[r][group_field] != t.text[r - 1][group_field]);
    if (!boundary) continue;
    for (size_t s = seg_start; s + o.window <= r; s += o.stride) {
      const size_t last = s + o.window - 1;
      int label = 0;
      if (classification) {
        std::map<int, int> votes;
        for (size_t k = s; k <= last; ++k) ++votes[row_class[k]];
        if (o.labeling == "pure" && votes.size() > 1) continue;
        if (o.labeling == "last") {
          label = row_class[last];
        } else {
          label = std::max_element(votes.begin(), votes.end(), [](auto& a, auto& b) { return a.second < b.second; })
                      ->first;
        }
      }
      Sequence seq(o.window, ds.num_features);
      for (int k = 0; k < o.window; ++k)
        for (int f = 0; f < ds.num_features; ++f) seq(k, f) = static_cast<float>(t.rows[s + k][feature_cols[f]]);
      all.x.push_back(std::move(seq));
      starts.push_back(s);
      if (!o.group.empty()) all.group.push_back(t.text[s][group_field]);
      if (classification)
        all.label.push_back(label);
      else
        for (int c : target_cols) all.y.push_back(static_cast<float>(t.rows[last][c]));
    }
    seg_start = r;
  }
  if (all.empty())
    throw Error(fmt::format("{}: no complete window of {} rows (the recording{} too short)", o.path, o.window,
                            o.group.empty() ? " is" : "'s groups are"));
  const std::string how = o.split != "auto" ? o.split : (o.group.empty() ? "time" : "group");
  if (how == "group") {
    if (o.group.empty()) throw Error(fmt::format("{}: split=group needs group=<column>", o.path));
    ds.group_kind = o.group;
    random_split(std::move(all), o.val, o.test, o.seed, O, ds);
  } else if (how == "random") {
    all.group.clear();
    random_split(std::move(all), o.val, o.test, o.seed, O, ds);
    ds.split_info += "; overlapping windows may share rows across parts";
  } else if (how == "time") {
    // Chronological blocks: the first rows train, the next validate, the last test. A window belongs to
    // the block holding all its rows; windows across a block boundary are dropped, so no row is shared.
    detail::check_fractions(o.val, o.test, o.path);
    const auto rows = static_cast<double>(t.rows.size());
    const auto end_train = static_cast<size_t>(std::round(rows * (1 - o.val - o.test)));
    const auto end_val = static_cast<size_t>(std::round(rows * (1 - o.test)));
    Split kept;
    std::vector<int> kept_parts;
    for (size_t i = 0; i < all.size(); ++i) {
      const size_t a = starts[i], b = starts[i] + o.window;  // rows [a, b)
      int p = -1;
      if (b <= end_train) p = 0;
      else if (a >= end_train && b <= end_val) p = 1;
      else if (a >= end_val) p = 2;
      if (p < 0) continue;
      kept.append_from(all, i, O);
      kept_parts.push_back(p);
    }
    distribute(std::move(kept), kept_parts, O, ds);
    ds.split_info = fmt::format("chronological blocks of rows 1-{} train, {}-{} val, {}-{} test (windows across "
                                "a boundary dropped)", end_train, end_train + 1, end_val, end_val + 1, t.rows.size());
    if (ds.train.empty())
      throw Error(fmt::format("{}: no window fits in the training block of {} rows (window={})", o.path,
                              end_train, o.window));
  } else {
    throw Error(fmt::format("{}: split='{}', expected auto, group, time or random", o.path, o.split));
  }
  ds.validate();
  return ds;
}

namespace {

Sequence read_sequence_file(const std::string& path, long expected_features) {
  const CsvTable t = read_csv(path);
  const long F = static_cast<long>(t.rows[0].size());
  if (expected_features > 0 && F != expected_features)
    throw Error(fmt::format("{}: has {} columns, but earlier sequences have {}", path, F, expected_features));
  Sequence s(static_cast<long>(t.rows.size()), F);
  for (size_t r = 0; r < t.rows.size(); ++r)
    for (long f = 0; f < F; ++f) s(static_cast<long>(r), f) = static_cast<float>(t.rows[r][f]);
  return s;
}

}  // namespace

Dataset load_csv_sequences(const CsvSequenceOptions& o) {
  std::error_code ec;
  Dataset ds;
  ds.name = fs::path(o.path).filename().string();
  if (fs::is_directory(o.path, ec)) {
    // One sub-directory per class.
    std::vector<fs::path> classes;
    for (const auto& e : fs::directory_iterator(o.path))
      if (e.is_directory()) classes.push_back(e.path());
    std::sort(classes.begin(), classes.end());
    if (classes.size() < 2)
      throw Error(fmt::format("{}: expected one sub-directory per class (at least 2), found {}", o.path,
                              classes.size()));
    ds.task = TaskKind::classification;
    Split all;
    for (size_t k = 0; k < classes.size(); ++k) {
      ds.class_names.push_back(classes[k].filename().string());
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(classes[k]))
        if (e.is_regular_file() && e.path().extension() == ".csv") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      if (files.empty()) throw Error(fmt::format("{}: class directory holds no .csv files", classes[k].string()));
      for (const auto& f : files) {
        all.x.push_back(read_sequence_file(f.string(), ds.num_features));
        ds.num_features = static_cast<int>(all.x.back().cols());
        all.label.push_back(static_cast<int>(k));
      }
    }
    ds.num_classes = static_cast<int>(classes.size());
    random_split(std::move(all), o.val, o.test, o.seed, 0, ds);
    ds.validate();
    return ds;
  }

  // A manifest.
  const CsvTable m = read_csv(o.path, {"file", "label", "split"});
  const int file_col = m.column("file");
  if (m.header.empty() || file_col < 0)
    throw Error(fmt::format("{}: a manifest needs a header with a 'file' column", o.path));
  const int label_col = m.column("label");
  const int split_col = m.column("split");
  std::vector<int> target_cols;
  for (size_t c = 0; c < m.header.size(); ++c)
    if (m.header[c].rfind("target", 0) == 0) target_cols.push_back(static_cast<int>(c));
  if ((label_col >= 0) == !target_cols.empty())
    throw Error(fmt::format("{}: a manifest needs either a 'label' column or 'target...' columns", o.path));
  // Text field positions: read_csv keeps them in the order requested.
  constexpr size_t kFile = 0, kLabel = 1, kSplit = 2;
  const bool classification = label_col >= 0;
  ds.task = classification ? TaskKind::classification : TaskKind::regression;
  if (classification) {
    std::set<std::string> names;
    for (size_t r = 0; r < m.rows.size(); ++r) {
      if (m.text[r][kLabel].empty())
        throw Error(fmt::format("{}:{}: column 'label' is empty", o.path, m.line[r]));
      names.insert(m.text[r][kLabel]);
    }
    ds.class_names = sorted_class_names(names);
    ds.num_classes = static_cast<int>(ds.class_names.size());
  } else {
    ds.num_outputs = static_cast<int>(target_cols.size());
    for (int c : target_cols) ds.output_names.push_back(m.header[c]);
  }
  const int O = ds.num_outputs;
  const fs::path base = fs::path(o.path).parent_path();
  Split all;
  Split* by_name[3] = {&ds.train, &ds.val, &ds.test};
  for (size_t r = 0; r < m.rows.size(); ++r) {
    const std::string& file = m.text[r][kFile];
    if (file.empty()) throw Error(fmt::format("{}:{}: column 'file' is empty", o.path, m.line[r]));
    const fs::path p = fs::path(file).is_absolute() ? fs::path(file) : base / file;
    if (!fs::exists(p, ec))
      throw Error(fmt::format("{}:{}: column 'file' names '{}', which does not exist", o.path, m.line[r],
                              p.string()));
    Split* dst = &all;
    if (split_col >= 0) {
      const std::string& sname = m.text[r][kSplit];
      const int idx = sname == "train" ? 0 : sname == "val" ? 1 : sname == "test" ? 2 : -1;
      if (idx < 0)
        throw Error(fmt::format("{}:{}: column 'split' holds '{}', expected train, val or test", o.path,
                                m.line[r], sname));
      dst = by_name[idx];
    }
    dst->x.push_back(read_sequence_file(p.string(), ds.num_features));
    ds.num_features = static_cast<int>(dst->x.back().cols());
    if (classification)
      dst->label.push_back(class_index(ds.class_names, m.text[r][kLabel]));
    else
      for (int c : target_cols) dst->y.push_back(static_cast<float>(m.rows[r][c]));
  }
  if (split_col < 0) random_split(std::move(all), o.val, o.test, o.seed, O, ds);
  ds.validate();
  return ds;
}

}  // namespace rnnas
