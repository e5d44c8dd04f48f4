// Real datasets with the protocols of their communities (docs/datasets.md has the sources and choices).
#include <fmt/format.h>
#include <nettle/sha1.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <numbers>
#include <set>

#include "internal.h"
#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace fs = std::filesystem;
namespace {

// Whitespace-separated numeric table (C-MAPSS, HAPT raw files). Every error names file, line and field.
std::vector<std::vector<double>> read_table(const std::string& path, int expect_cols) {
  const std::string text = detail::read_file(path, "text file");
  std::vector<std::vector<double>> rows;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    std::vector<double> row;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i >= line.size()) break;
      size_t j = i;
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
      double v;
      const std::string_view cell = line.substr(i, j - i);
      if (!parse_number(cell, v) || !std::isfinite(v))
        throw Error(fmt::format("{}:{}: field {} is '{}', not a finite number", path, line_no, row.size() + 1,
                                std::string(cell.substr(0, 30))));
      row.push_back(v);
      i = j;
    }
    if (row.empty()) continue;
    if (expect_cols > 0 && static_cast<int>(row.size()) != expect_cols)
      throw Error(fmt::format("{}:{}: {} fields, expected {}", path, line_no, row.size(), expect_cols));
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw Error(fmt::format("{}: empty file", path));
  return rows;
}

std::string need_dir(const std::string& path, std::string_view preset, std::string_view hint) {
  std::error_code ec;
  if (path.empty()) throw Error(fmt::format("{}: needs the dataset folder, as in {}", preset, hint));
  if (!fs::is_directory(path, ec)) throw Error(fmt::format("{}: {} is not a directory ({})", preset, path, hint));
  return path;
}

// Third-order Butterworth low-pass (a first-order section and a Q = 1 biquad, bilinear transform with
// prewarping), run causally from a steady state at the first sample: what a device can run on a stream.
class Butterworth3 {
 public:
  Butterworth3(double cutoff_hz, double rate_hz) {
    const double k = std::tan(std::numbers::pi * cutoff_hz / rate_hz);
    // First order: H(s) = 1 / (s + 1).
    a1_ = (k - 1) / (k + 1);
    b0_ = k / (k + 1);
    // Second order, Q = 1: H(s) = 1 / (s^2 + s + 1).
    const double n = 1 / (1 + k + k * k);
    c0_ = k * k * n;
    d1_ = 2 * (k * k - 1) * n;
    d2_ = (1 - k + k * k) * n;
  }
  std::vector<double> run(const std::vector<double>& x) const {
    std::vector<double> y(x.size());
    if (x.empty()) return y;
    double px = x[0], py = x[0];                           // first-order state
    double u1 = x[0], u2 = x[0], v1 = x[0], v2 = x[0];     // biquad state
    for (size_t i = 0; i < x.size(); ++i) {
      const double u = b0_ * (x[i] + px) - a1_ * py;
      px = x[i];
      py = u;
      const double v = c0_ * (u + 2 * u1 + u2) - d1_ * v1 - d2_ * v2;
      u2 = u1;
      u1 = u;
      v2 = v1;
      v1 = v;
      y[i] = v;
    }
    return y;
  }

 private:
  double a1_, b0_, c0_, d1_, d2_;
};

// Causal median of the last three samples (the first two repeat the first sample).
std::vector<double> median3(const std::vector<double>& x) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double a = x[i >= 2 ? i - 2 : 0], b = x[i >= 1 ? i - 1 : 0], c = x[i];
    y[i] = std::max(std::min(a, b), std::min(std::max(a, b), c));
  }
  return y;
}

}  // namespace

// ---------------------------------------------------------------- UCI HAR from HAPT raw recordings
Dataset load_uci_har(const UciHarOptions& o) {
  const std::string dir = need_dir(o.path, "uci-har", "uci-har:../shared/data/hapt");
  if (o.classes != 6 && o.classes != 12) throw Error(fmt::format("uci-har: classes={} must be 6 or 12", o.classes));
  if (o.channels != "ucihar9" && o.channels != "raw6")
    throw Error(fmt::format("uci-har: channels='{}', expected ucihar9 or raw6", o.channels));
  if (o.window < 2 || o.stride < 1 || o.train_stride < 0)
    throw Error(fmt::format("uci-har: window={} stride={} train_stride={} invalid", o.window, o.stride,
                            o.train_stride));
  const int train_stride = o.train_stride > 0 ? o.train_stride : o.stride;
  const fs::path raw = fs::path(dir) / "RawData";
  const auto labels = read_table((raw / "labels.txt").string(), 5);
  // Activity names from activity_labels.txt ("1 WALKING").
  std::vector<std::string> names;
  {
    const std::string p = (fs::path(dir) / "activity_labels.txt").string();
    const std::string text = detail::read_file(p, "text file");
    int line_no = 0;
    for (auto line : split(text, '\n')) {
      ++line_no;
      line = trim(line);
      if (line.empty()) continue;
      const auto sp = line.find_first_of(" \t");
      long long id;
      if (sp == std::string_view::npos || !parse_int(line.substr(0, sp), id) || id != static_cast<long long>(names.size()) + 1)
        throw Error(fmt::format("{}:{}: expected '<id> <NAME>' with ids 1, 2, ... in order", p, line_no));
      names.emplace_back(trim(line.substr(sp)));
    }
    if (names.size() < static_cast<size_t>(o.classes))
      throw Error(fmt::format("{}: {} activities listed, need {}", p, names.size(), o.classes));
  }
  Dataset ds;
  ds.name = fmt::format("uci-har({} classes, {})", o.classes, o.channels);
  ds.task = TaskKind::classification;
  ds.num_classes = o.classes;
  ds.class_names.assign(names.begin(), names.begin() + o.classes);
  ds.group_kind = "volunteer";
  if (o.channels == "ucihar9")
    ds.feature_names = {"body_acc_x", "body_acc_y", "body_acc_z", "gyro_x", "gyro_y", "gyro_z",
                        "total_acc_x", "total_acc_y", "total_acc_z"};
  else
    ds.feature_names = {"acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"};
  ds.num_features = static_cast<int>(ds.feature_names.size());
  static const std::set<int> kTestVolunteers = {2, 4, 9, 10, 12, 13, 18, 20, 24};

  // Segments per experiment.
  std::map<std::pair<int, int>, std::vector<std::array<long, 3>>> segments;  // (exp, user) -> (act, start, end)
  for (size_t r = 0; r < labels.size(); ++r) {
    const auto& l = labels[r];
    const int act = static_cast<int>(l[2]);
    if (l[3] < 1 || l[4] < l[3] || act < 1 || act > static_cast<int>(names.size()))
      throw Error(fmt::format("{}:{}: bad segment (activity {}, rows {}-{})", (raw / "labels.txt").string(), r + 1,
                              l[2], l[3], l[4]));
    if (act > o.classes) continue;
    segments[{static_cast<int>(l[0]), static_cast<int>(l[1])}].push_back(
        {act, static_cast<long>(l[3]), static_cast<long>(l[4])});
  }
  std::vector<std::pair<int, int>> keys;
  for (const auto& [k, v] : segments) keys.push_back(k);
  std::vector<Split> per_exp(keys.size());
  std::vector<std::string> errors(keys.size());
  parallel_for(keys.size(), 0, [&](size_t e) {
    try {
      const auto [exp, user] = keys[e];
      const std::string tag = fmt::format("exp{:02d}_user{:02d}.txt", exp, user);
      const auto acc = read_table((raw / ("acc_" + tag)).string(), 3);
      const auto gyro = read_table((raw / ("gyro_" + tag)).string(), 3);
      const size_t n = std::min(acc.size(), gyro.size());
      std::vector<std::vector<double>> ch(static_cast<size_t>(ds.num_features), std::vector<double>(n));
      for (int a = 0; a < 3; ++a) {
        std::vector<double> total(n), g(n), w(n);
        for (size_t i = 0; i < n; ++i) total[i] = acc[i][a];
        for (size_t i = 0; i < n; ++i) w[i] = gyro[i][a];
        if (o.channels == "ucihar9") {
          // UCI HAR's noise filtering: a median filter of 3 samples, then a 20 Hz low-pass.
          total = Butterworth3(20.0, 50.0).run(median3(total));
          w = Butterworth3(20.0, 50.0).run(median3(w));
        }
        ch[3 + a] = w;
        if (o.channels == "ucihar9") {
          // Gravity: 0.3 Hz low-pass of total acceleration; body = total - gravity (as in UCI HAR).
          g = Butterworth3(0.3, 50.0).run(total);
          for (size_t i = 0; i < n; ++i) ch[a][i] = total[i] - g[i];
          ch[6 + a] = total;
        } else {
          ch[a] = total;
        }
      }
      Split& out = per_exp[e];
      for (const auto& [act, start, end] : segments[keys[e]]) {
        if (static_cast<size_t>(end) > n)
          throw Error(fmt::format("{}: segment rows {}-{} of experiment {} run past the {} rows of {}",
                                  (raw / "labels.txt").string(), start, end, exp, n, tag));
        const long step = kTestVolunteers.count(user) ? o.stride : train_stride;
        for (long s = start - 1; s + o.window <= end; s += step) {
          Sequence seq(o.window, ds.num_features);
          for (int t = 0; t < o.window; ++t)
            for (int f = 0; f < ds.num_features; ++f) seq(t, f) = static_cast<float>(ch[f][static_cast<size_t>(s + t)]);
          out.x.push_back(std::move(seq));
          out.label.push_back(static_cast<int>(act) - 1);
          out.group.push_back(std::to_string(user));
        }
      }
    } catch (const Error& err) {
      errors[e] = err.what();
    }
  });
  for (const auto& e : errors)
    if (!e.empty()) throw Error(e);
  const int O = 0;
  for (auto& part : per_exp)
    for (size_t i = 0; i < part.size(); ++i) {
      long long user = 0;
      parse_int(part.group[i], user);
      (kTestVolunteers.count(static_cast<int>(user)) ? ds.test : ds.train).append_from(part, i, O);
    }
  if (ds.train.empty() || ds.test.empty())
    throw Error(fmt::format("uci-har: {}: {} windows of training volunteers and {} of test volunteers; the "
                            "recordings are incomplete", dir, ds.train.size(), ds.test.size()));
  carve_validation(ds, o.val, o.seed);
  ds.split_info = fmt::format(
      "UCI HAR protocol: test volunteers 2,4,9,10,12,13,18,20,24; val {:.0f}% of the "
      "training volunteers, seed {}; {}; windows {} samples, stride {}, inside labelled "
      "segments{}",
      100 * o.val, o.seed, describe_groups(ds), o.window, o.stride,
      train_stride != o.stride ? fmt::format(" (training volunteers: stride {})", train_stride) : "");
  ds.validate();
  return ds;
}

// ---------------------------------------------------------------- NASA C-MAPSS
Dataset load_cmapss(const CmapssOptions& o) {
  const std::string dir = need_dir(o.path, "cmapss", "cmapss:../shared/data/cmapss");
  if (o.fd < 1 || o.fd > 4) throw Error(fmt::format("cmapss: fd={} must be 1-4", o.fd));
  if (o.window < 1 || o.window > 500 || o.stride < 1)
    throw Error(fmt::format("cmapss: window={} (1-500) and stride={} (>= 1) invalid", o.window, o.stride));
  if (!(o.cap > 0)) throw Error(fmt::format("cmapss: cap={} must be positive", o.cap));
  const std::string tag = fmt::format("FD{:03d}", o.fd);
  const auto train = read_table((fs::path(dir) / ("train_" + tag + ".txt")).string(), 26);
  const auto test = read_table((fs::path(dir) / ("test_" + tag + ".txt")).string(), 26);
  const std::string rul_path = (fs::path(dir) / ("RUL_" + tag + ".txt")).string();
  const auto rul = read_table(rul_path, 1);
  static const char* kColumns[26] = {"unit", "cycle", "setting1", "setting2", "setting3", "s1", "s2", "s3", "s4",
                                     "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15", "s16",
                                     "s17", "s18", "s19", "s20", "s21"};
  // Features: columns 2-25 except those with at most two distinct values in training (constant sensors;
  // for FD001: setting3, s1, s5, s6, s10, s16, s18, s19), and except the operating settings for the
  // single-condition subsets FD001/FD003.
  std::vector<int> cols;
  const bool keep_settings = o.fd == 2 || o.fd == 4;
  for (int c = 2; c < 26; ++c) {
    if (c <= 4 && !keep_settings) continue;
    std::set<double> distinct;
    for (const auto& r : train) {
      distinct.insert(r[c]);
      if (distinct.size() > 2) break;
    }
    if (distinct.size() > 2) cols.push_back(c);
  }
  Dataset ds;
  ds.name = fmt::format("cmapss({},window={},cap={})", tag, o.window, o.cap);
  ds.task = TaskKind::regression;
  ds.num_outputs = 1;
  ds.output_names = {"rul"};
  ds.group_kind = "unit";
  ds.score = "phm08";
  ds.num_features = static_cast<int>(cols.size());
  for (int c : cols) ds.feature_names.push_back(kColumns[c]);
  // Rows of each unit, in file order (cycles must increase by one).
  auto by_unit = [&](const std::vector<std::vector<double>>& rows, const std::string& path) {
    std::map<int, std::vector<const std::vector<double>*>> units;
    for (size_t r = 0; r < rows.size(); ++r) {
      const int unit = static_cast<int>(rows[r][0]);
      auto& u = units[unit];
      if (rows[r][0] != unit || unit < 1 || rows[r][1] != static_cast<double>(u.size() + 1))
        throw Error(fmt::format("{}:{}: unit {} cycle {} out of sequence (expected cycle {})", path, r + 1, rows[r][0],
                                rows[r][1], u.size() + 1));
      u.push_back(&rows[r]);
    }
    return units;
  };
  // The window ending at row `last` (0-based); rows before the first cycle repeat the first cycle.
  auto window = [&](const std::vector<const std::vector<double>*>& u, long last) {
    Sequence s(o.window, ds.num_features);
    for (int t = 0; t < o.window; ++t) {
      const long r = std::max(0L, last - o.window + 1 + t);
      for (int f = 0; f < ds.num_features; ++f) s(t, f) = static_cast<float>((*u[static_cast<size_t>(r)])[cols[f]]);
    }
    return s;
  };
  const auto train_units = by_unit(train, (fs::path(dir) / ("train_" + tag + ".txt")).string());
  for (const auto& [unit, u] : train_units) {
    const long n = static_cast<long>(u.size());
    // Windows end at every stride-th cycle from the first full window (or the last cycle if shorter).
    for (long last = std::min(n - 1, static_cast<long>(o.window) - 1); last < n; last += o.stride) {
      ds.train.x.push_back(window(u, last));
      ds.train.y.push_back(static_cast<float>(std::min(o.cap, static_cast<double>(n - 1 - last))));
      ds.train.group.push_back(std::to_string(unit));
    }
  }
  const auto test_units = by_unit(test, (fs::path(dir) / ("test_" + tag + ".txt")).string());
  if (rul.size() != test_units.size())
    throw Error(fmt::format("{}: {} RUL values for {} test units", rul_path, rul.size(), test_units.size()));
  size_t k = 0;
  for (const auto& [unit, u] : test_units) {
    if (unit != static_cast<int>(k) + 1)
      throw Error(fmt::format("cmapss: test units must be numbered 1..{}, found unit {}", test_units.size(), unit));
    if (rul[k][0] < 0) throw Error(fmt::format("{}:{}: negative RUL {}", rul_path, k + 1, rul[k][0]));
    ds.test.x.push_back(window(u, static_cast<long>(u.size()) - 1));
    ds.test.y.push_back(static_cast<float>(std::min(o.cap, rul[k][0])));
    ds.test.group.push_back("test" + std::to_string(unit));
    ++k;
  }
  carve_validation(ds, o.val, o.seed);
  ds.split_info = fmt::format("C-MAPSS protocol: train on train_{0} units (val {1:.0f}% of units, seed {2}), test on "
                              "the last window of each of the {3} test_{0} units against RUL_{0}; RUL capped at {4} "
                              "(test targets too); {5}",
                              tag, 100 * o.val, o.seed, test_units.size(), o.cap, describe_groups(ds));
  ds.validate();
  return ds;
}

// ---------------------------------------------------------------- Free Spoken Digit Dataset
Dataset load_fsdd(const FsddOptions& o) {
  const std::string dir = need_dir(o.path, "fsdd", "fsdd:../shared/data/fsdd");
  if (o.split != "index" && o.split != "speaker")
    throw Error(fmt::format("fsdd: split='{}', expected index or speaker", o.split));
  std::vector<std::string> files, groups;
  std::vector<int> labels, index;
  for (const auto& f : detail::list_files(dir, ".wav")) {
    const std::string stem = fs::path(f).stem().string();
    const auto parts = split(stem, '_');
    long long digit, idx;
    if (parts.size() != 3 || !parse_int(parts[0], digit) || digit < 0 || digit > 9 || !parse_int(parts[2], idx) ||
        idx < 0 || parts[1].empty())
      throw Error(fmt::format("{}: file name is not {{digit}}_{{speaker}}_{{index}}.wav", f));
    files.push_back(f);
    labels.push_back(static_cast<int>(digit));
    groups.emplace_back(parts[1]);
    index.push_back(static_cast<int>(idx));
  }
  if (files.empty()) throw Error(fmt::format("fsdd: {} holds no .wav recordings", dir));
  Dataset ds;
  ds.name = "fsdd";
  ds.task = TaskKind::classification;
  ds.num_classes = 10;
  for (int d = 0; d < 10; ++d) ds.class_names.push_back(std::to_string(d));
  ds.group_kind = "speaker";
  const FrontEnd fe(o.fe);
  ds.num_features = fe.num_features();
  ds.audio = true;
  ds.frontend = fe.options();
  Split all = detail::load_clips(files, labels, groups, fe, 0, o.max_seconds);
  const std::set<std::string> held(o.test_speakers.begin(), o.test_speakers.end());
  for (size_t i = 0; i < all.size(); ++i) {
    const bool is_test = o.split == "index" ? index[i] < 5 : held.count(all.group[i]) > 0;
    (is_test ? ds.test : ds.train).append_from(all, i, 0);
  }
  if (ds.test.empty() || ds.train.empty())
    throw Error(fmt::format("fsdd: the {} split leaves {} training and {} test recordings", o.split, ds.train.size(),
                            ds.test.size()));
  // Index split: speakers are on both sides by design, so validation mirrors it (stratified by digit).
  carve_validation(ds, o.val, o.seed, o.split == "speaker");
  ds.split_info = fmt::format("{}; val {:.0f}% of train ({}), seed {}; features: {}",
                              o.split == "index" ? "FSDD protocol: recordings 0-4 of each speaker and digit are test"
                                                 : "held-out speakers are test",
                              100 * o.val, o.split == "index" ? "stratified by digit" : "by speaker", o.seed,
                              fe.describe());
  ds.validate();
  return ds;
}

// ---------------------------------------------------------------- Google Speech Commands
namespace {

// The dataset README's split: SHA-1 of the speaker part of the name ("<hash>_nohash_<n>.wav"), mod 2^27,
// as a percentage; below `val` -> validation, below val + test -> test.
int speech_commands_part(const std::string& file, double val, double test) {
  std::string base = fs::path(file).filename().string();
  const auto nohash = base.find("_nohash_");
  if (nohash != std::string::npos) base = base.substr(0, nohash);
  sha1_ctx ctx;
  sha1_init(&ctx);
  sha1_update(&ctx, base.size(), reinterpret_cast<const uint8_t*>(base.data()));
  uint8_t d[SHA1_DIGEST_SIZE];
  sha1_digest(&ctx, SHA1_DIGEST_SIZE, d);
  const uint32_t low27 = (static_cast<uint32_t>(d[16] & 0x07) << 24) | (static_cast<uint32_t>(d[17]) << 16) |
                         (static_cast<uint32_t>(d[18]) << 8) | d[19];
  const double pct = low27 * (100.0 / ((1 << 27) - 1));
  return pct < val ? 1 : (pct < val + test ? 2 : 0);
}

}  // namespace

Dataset load_speech_commands(const SpeechCommandsOptions& o) {
  const std::string dir = need_dir(o.path, "speech-commands", "speech-commands:../shared/data/speech_commands_sample");
  if (!(o.val >= 0 && o.test >= 0 && o.val + o.test < 100))
    throw Error(fmt::format("speech-commands: val={} and test={} are percentages summing below 100", o.val, o.test));
  std::vector<std::string> words_found;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().front() != '_') words_found.push_back(e.path().filename().string());
  std::sort(words_found.begin(), words_found.end());
  for (const auto& w : o.words)
    if (std::find(words_found.begin(), words_found.end(), w) == words_found.end())
      throw Error(fmt::format("speech-commands: no folder for word '{}' in {}", w, dir));
  Dataset ds;
  ds.name = "speech-commands";
  ds.task = TaskKind::classification;
  ds.class_names = o.words.empty() ? words_found : o.words;
  if (o.unknown && !o.words.empty()) ds.class_names.push_back("_unknown_");
  ds.num_classes = static_cast<int>(ds.class_names.size());
  if (ds.num_classes < 2) throw Error(fmt::format("speech-commands: {} holds fewer than 2 words", dir));
  ds.group_kind = "speaker";
  // Official lists when present, else the hash rule.
  std::set<std::string> val_list, test_list;
  const bool lists = fs::exists(fs::path(dir) / "validation_list.txt") && fs::exists(fs::path(dir) / "testing_list.txt");
  if (lists) {
    for (auto [name, set] : {std::pair{"validation_list.txt", &val_list}, std::pair{"testing_list.txt", &test_list}}) {
      const std::string text = detail::read_file((fs::path(dir) / name).string(), "text file");
      for (auto line : split(text, '\n'))
        if (!trim(line).empty()) set->emplace(trim(line));
    }
  }
  std::vector<std::string> files, groups;
  std::vector<int> labels, parts;
  for (const auto& w : words_found) {
    int label = detail::class_index(ds.class_names, w);
    if (label == ds.num_classes) {
      if (!o.unknown || o.words.empty()) continue;
      label = ds.num_classes - 1;
    }
    for (const auto& f : detail::list_files((fs::path(dir) / w).string(), ".wav")) {
      files.push_back(f);
      labels.push_back(label);
      const std::string stem = fs::path(f).stem().string();
      groups.push_back(stem.substr(0, stem.find("_nohash_")));
      const std::string rel = w + "/" + fs::path(f).filename().string();
      parts.push_back(lists ? (val_list.count(rel) ? 1 : test_list.count(rel) ? 2 : 0)
                            : speech_commands_part(f, o.val, o.test));
    }
  }
  FrontEndOptions feo = o.fe;
  const FrontEnd fe(feo);
  ds.num_features = fe.num_features();
  ds.audio = true;
  ds.frontend = fe.options();
  Split all = detail::load_clips(files, labels, groups, fe, 1.0, 0);
  distribute(std::move(all), parts, 0, ds);
  if (ds.train.empty()) throw Error(fmt::format("speech-commands: {}: no training recordings", dir));
  ds.split_info = fmt::format("{}; clips padded/cut to 1 s; {}; features: {}",
                              lists ? "the dataset's validation_list.txt / testing_list.txt"
                                    : fmt::format("Speech Commands hash split by speaker (val {}%, test {}%)", o.val, o.test),
                              describe_groups(ds), fe.describe());
  ds.validate();
  return ds;
}

}  // namespace rnnas
