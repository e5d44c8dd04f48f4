#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
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
        positional_.emplace_back(part);
        continue;
      }
      values_[std::string(trim(part.substr(0, eq)))] = std::string(trim(part.substr(eq + 1)));
    }
  }
  // The single path of most kinds ("" if none); more than `max` paths is an error.
  std::string path(size_t max = 1) const {
    if (positional_.size() > max)
      throw Error(fmt::format("data '{}': {} paths given, this kind takes at most {}", spec_, positional_.size(), max));
    return positional_.empty() ? std::string() : positional_[0];
  }
  const std::vector<std::string>& paths() const { return positional_; }
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
    const std::string text = str(key, "");  // split() returns views into it: keep it alive
    for (auto s : split(text, ';'))
      if (!trim(s).empty()) out.emplace_back(trim(s));
    return out;
  }
  void finish() const {
    for (const auto& [k, v] : values_)
      if (!used_.count(k)) throw Error(fmt::format("data '{}': unknown option '{}'", spec_, k));
  }

 private:
  std::string spec_;
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

int to_int(long long v, std::string_view what, std::string_view spec) {
  if (v < 0 || v > 100'000'000) throw Error(fmt::format("data '{}': {}={} out of range", spec, what, v));
  return static_cast<int>(v);
}

uint64_t seed_of(SpecArgs& a) {
  const long long s = a.integer("seed", 1);
  if (s < 0) throw Error(fmt::format("data: seed={} must be >= 0", s));
  return static_cast<uint64_t>(s);
}

// Front-end keys shared by every audio kind: rate, win, hop (ms), mels, mfcc, low, high (Hz), fft.
FrontEndOptions front_end(SpecArgs& a, FrontEndOptions fe, std::string_view spec) {
  fe.rate = to_int(a.integer("rate", fe.rate), "rate", spec);
  fe.win_ms = a.num("win", fe.win_ms);
  fe.hop_ms = a.num("hop", fe.hop_ms);
  fe.mels = to_int(a.integer("mels", fe.mels), "mels", spec);
  fe.mfcc = to_int(a.integer("mfcc", fe.mfcc), "mfcc", spec);
  fe.low_hz = a.num("low", fe.low_hz);
  fe.high_hz = a.num("high", fe.high_hz);
  fe.fft = to_int(a.integer("fft", fe.fft), "fft", spec);
  return fe;
}

std::string need_path(SpecArgs& a, std::string_view spec, std::string_view example) {
  std::string p = a.path();
  if (p.empty()) throw Error(fmt::format("data '{}': needs a path, as in {}", spec, example));
  return p;
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
    o.seed = seed_of(a);
    total_counts(a, 10000, spec, o.train, o.val, o.test);
    a.finish();
    ds = make_adding(o);
  } else if (kind == "sine") {
    SineOptions o;
    o.classes = to_int(a.integer("classes", o.classes), "classes", spec);
    o.steps = to_int(a.integer("T", o.steps), "T", spec);
    o.channels = to_int(a.integer("channels", o.channels), "channels", spec);
    o.noise = a.num("noise", o.noise);
    o.seed = seed_of(a);
    total_counts(a, 3000, spec, o.train, o.val, o.test);
    a.finish();
    ds = make_sine(o);
  } else if (kind == "csv") {
    if (a.path().empty()) throw Error(fmt::format("data '{}': csv needs a path, as in csv:data/run1.csv", spec));
    const double val = a.num("val", 0.15), test = a.num("test", 0.15);
    const auto seed = seed_of(a);
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
      o.split = a.str("split", o.split);
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
  } else if (kind == "memory") {
    MemoryOptions o;
    o.symbols = to_int(a.integer("symbols", o.symbols), "symbols", spec);
    o.delay = to_int(a.integer("delay", o.delay), "delay", spec);
    o.noise = a.num("noise", o.noise);
    o.seed = seed_of(a);
    total_counts(a, 5000, spec, o.train, o.val, o.test);
    a.finish();
    ds = make_memory(o);
  } else if (kind == "chirp") {
    ChirpOptions o;
    o.steps = to_int(a.integer("T", o.steps), "T", spec);
    o.noise = a.num("noise", o.noise);
    o.seed = seed_of(a);
    total_counts(a, 5000, spec, o.train, o.val, o.test);
    a.finish();
    ds = make_chirp(o);
  } else if (kind == "motion") {
    MotionOptions o;
    o.subjects = to_int(a.integer("subjects", o.subjects), "subjects", spec);
    o.per_subject = to_int(a.integer("per_subject", o.per_subject), "per_subject", spec);
    o.steps = to_int(a.integer("T", o.steps), "T", spec);
    o.difficulty = a.num("difficulty", o.difficulty);
    o.seed = seed_of(a);
    a.finish();
    ds = make_motion(o);
  } else if (kind == "npy" || kind == "npz") {
    ArrayDataOptions o;
    o.path = need_path(a, spec, "npy:x.npy,y=y.npy or npz:data.npz");
    o.labels = a.str("y", "");
    o.groups = a.str("groups", "");
    o.lengths = a.str("lengths", "");
    o.task = a.str("task", o.task);
    o.val = a.num("val", o.val);
    o.test = a.num("test", o.test);
    o.seed = seed_of(a);
    a.finish();
    ds = load_arrays(o);
  } else if (kind == "ts") {
    TsOptions o;
    o.train = a.path(2);
    if (o.train.empty()) throw Error(fmt::format("data '{}': needs a .ts file, as in ts:X_TRAIN.ts,X_TEST.ts", spec));
    if (a.paths().size() == 2) o.test = a.paths()[1];
    o.missing = a.str("missing", o.missing);
    o.val = a.num("val", o.val);
    o.test_fraction = a.num("test", o.test_fraction);
    o.seed = seed_of(a);
    a.finish();
    ds = load_ts(o);
  } else if (kind == "idx") {
    IdxOptions o;
    a.path(4);
    const auto& p = a.paths();
    if (p.size() != 2 && p.size() != 4)
      throw Error(fmt::format("data '{}': idx takes train images and labels, optionally test images and labels "
                              "(2 or 4 paths), got {}", spec, p.size()));
    o.train_images = p[0];
    o.train_labels = p[1];
    if (p.size() == 4) o.test_images = p[2], o.test_labels = p[3];
    o.scale = a.num("scale", o.scale);
    o.limit = a.integer("limit", 0);
    o.val = a.num("val", o.val);
    o.test_fraction = a.num("test", o.test_fraction);
    o.seed = seed_of(a);
    a.finish();
    ds = load_idx(o);
  } else if (kind == "fashion-mnist") {
    IdxOptions o;
    std::string dir = a.path();
    if (dir.empty()) dir = "/usr/share/datasets/fashion-mnist";
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      throw Error(fmt::format("data '{}': {} not found; install the Debian package dataset-fashion-mnist or give "
                              "the folder with the four IDX files", spec, dir));
    const std::filesystem::path d(dir);
    o.train_images = (d / "train-images-idx3-ubyte.gz").string();
    o.train_labels = (d / "train-labels-idx1-ubyte.gz").string();
    o.test_images = (d / "t10k-images-idx3-ubyte.gz").string();
    o.test_labels = (d / "t10k-labels-idx1-ubyte.gz").string();
    o.limit = a.integer("limit", 0);
    o.val = a.num("val", o.val);
    o.seed = seed_of(a);
    a.finish();
    ds = load_idx(o);
    ds.name = "fashion-mnist(row-wise)";
    ds.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"};
    ds.split_info = "Fashion-MNIST: the 60000/10000 train/test files; " + ds.split_info.substr(ds.split_info.find("val"));
  } else if (kind == "wav") {
    WavFolderOptions o;
    o.path = need_path(a, spec, "wav:recordings/");
    o.labels = a.str("labels", o.labels);
    o.seconds = a.num("seconds", 0);
    o.max_seconds = a.num("max_seconds", 0);
    o.fe = front_end(a, o.fe, spec);
    o.val = a.num("val", o.val);
    o.test = a.num("test", o.test);
    o.seed = seed_of(a);
    a.finish();
    ds = load_wav_folder(o);
  } else if (kind == "uci-har") {
    UciHarOptions o;
    o.path = need_path(a, spec, "uci-har:../shared/data/hapt");
    o.classes = to_int(a.integer("classes", o.classes), "classes", spec);
    o.channels = a.str("channels", o.channels);
    o.window = to_int(a.integer("window", o.window), "window", spec);
    o.stride = to_int(a.integer("stride", o.stride), "stride", spec);
    o.train_stride = to_int(a.integer("train_stride", o.train_stride), "train_stride", spec);
    o.val = a.num("val", o.val);
    o.seed = seed_of(a);
    a.finish();
    ds = load_uci_har(o);
  } else if (kind == "cmapss") {
    CmapssOptions o;
    o.path = need_path(a, spec, "cmapss:../shared/data/cmapss");
    o.fd = to_int(a.integer("fd", o.fd), "fd", spec);
    o.window = to_int(a.integer("window", o.window), "window", spec);
    o.stride = to_int(a.integer("stride", o.stride), "stride", spec);
    o.cap = a.num("cap", o.cap);
    o.val = a.num("val", o.val);
    o.seed = seed_of(a);
    a.finish();
    ds = load_cmapss(o);
  } else if (kind == "fsdd") {
    FsddOptions o;
    o.path = need_path(a, spec, "fsdd:../shared/data/fsdd");
    o.split = a.str("split", o.split);
    if (a.has("test_speakers")) o.test_speakers = a.list("test_speakers");
    o.max_seconds = a.num("max_seconds", o.max_seconds);
    FrontEndOptions fe;
    fe.rate = 8000;
    fe.mfcc = 13;
    o.fe = front_end(a, fe, spec);
    o.val = a.num("val", o.val);
    o.seed = seed_of(a);
    a.finish();
    ds = load_fsdd(o);
  } else if (kind == "speech-commands") {
    SpeechCommandsOptions o;
    o.path = need_path(a, spec, "speech-commands:../shared/data/speech_commands_sample");
    o.words = a.list("words");
    o.unknown = a.integer("unknown", 0) != 0;
    o.fe = front_end(a, o.fe, spec);
    o.val = a.num("val", o.val);
    o.test = a.num("test", o.test);
    o.seed = seed_of(a);
    a.finish();
    ds = load_speech_commands(o);
  } else {
    throw Error(fmt::format("data '{}': unknown kind '{}' (expected adding, sine, memory, chirp, motion, csv, npy, npz, ts, idx, wav, uci-har, cmapss, fsdd, speech-commands or fashion-mnist)", spec, kind));
  }
  ds.validate();
  return ds;
}

std::string with_front_end(std::string_view spec, const FrontEndChoice& fe) {
  if (fe.empty()) return std::string(spec);
  const auto colon = spec.find(':');
  const std::string kind(trim(spec.substr(0, colon)));
  if (kind != "wav" && kind != "fsdd" && kind != "speech-commands")
    throw Error(fmt::format("data '{}': the arch chooses an audio front end (fe=...), but {} is not an audio dataset "
                            "(wav, fsdd, speech-commands)", spec, kind));
  std::string out = kind + ":";
  bool first = true;
  if (colon != std::string_view::npos)
    for (auto part : split(spec.substr(colon + 1), ',')) {
      const auto key = trim(part.substr(0, part.find('=')));
      if (key == "win" || key == "hop" || key == "mels" || key == "mfcc" || trim(part).empty()) continue;
      if (!first) out += ',';
      out.append(trim(part));
      first = false;
    }
  out += fmt::format("{}win={},hop={},mels={},mfcc={}", first ? "" : ",", fe.win_ms, fe.hop_ms, fe.mels, fe.mfcc);
  return out;
}

}  // namespace rnnas
