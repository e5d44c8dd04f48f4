// rnnas/data.h — datasets of sequences: parts, normalisation, CSV loading, synthetic tasks.
//
//   rnnas::Dataset ds = rnnas::load_dataset("adding:T=50,n=6000,seed=1");   // or "csv:rec.csv,window=128,..."
//   ds.train.size();                         // sequences in the training part
//   ds.train.x[0];                           // one sequence, [T x F] (row = time step)
//   rnnas::Normalizer norm = rnnas::Normalizer::fit(ds.train);   // training part only
//   norm.apply(ds.val);                      // the same statistics for every part
//
// A Dataset owns its sequences by value. Classification parts hold `label` (class index); regression
// parts hold `y` (num_outputs values per sequence, row-major). Sequences in one dataset share F but may
// have different lengths T.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rnnas {

enum class TaskKind { classification, regression };
std::string_view to_string(TaskKind k);

using Sequence = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;  // [T x F]

struct Split {
  std::vector<Sequence> x;
  std::vector<int> label;  // classification: one class index per sequence
  std::vector<float> y;    // regression: num_outputs targets per sequence, row-major
  size_t size() const { return x.size(); }
  bool empty() const { return x.empty(); }
  // Appends sequence i of `other` (with its label or targets).
  void append_from(const Split& other, size_t i, int num_outputs);
};

struct Dataset {
  std::string name;
  TaskKind task = TaskKind::classification;
  int num_features = 0;
  int num_classes = 0;  // classification only
  int num_outputs = 0;  // regression only (>= 1)
  std::vector<std::string> class_names;
  std::vector<std::string> feature_names;
  std::vector<std::string> output_names;
  Split train, val, test;

  // Width of the network output: classes for classification, outputs for regression.
  int output_dim() const { return task == TaskKind::classification ? num_classes : num_outputs; }
  // Throws rnnas::Error if parts disagree on feature count, labels are out of range, etc.
  void validate() const;
  // Human-readable summary (parts, lengths, class balance / target range).
  std::string summary() const;
};

// Per-feature standardisation, fitted on one part (the training part) and applied to any.
struct Normalizer {
  std::vector<float> mean;
  std::vector<float> scale;  // standard deviation, floored so constant features map to 0
  static Normalizer fit(const Split& train);
  void apply(Split& part) const;
  bool empty() const { return mean.empty(); }
};

// Per-output standardisation of regression targets (the network learns standardised targets; metrics
// are reported in the original units).
struct TargetScaler {
  std::vector<float> mean;
  std::vector<float> scale;
  static TargetScaler fit(const Split& train, int num_outputs);
  void apply(Split& part) const;
  float invert(float v, int output) const { return v * scale[output] + mean[output]; }
  bool empty() const { return mean.empty(); }
};

// Randomly splits `all` into train/val/test by the given fractions (seeded); used when a source
// does not say which sequence belongs where.
void random_split(Split&& all, double val_fraction, double test_fraction, uint64_t seed, int num_outputs,
                  Dataset& out);

// ---- Synthetic tasks (seeded, deterministic) ----
struct AddingOptions {
  int steps = 50;
  int min_steps = 0;  // > 0: lengths uniform in [min_steps, steps] (variable-length batches)
  int train = 8000, val = 1000, test = 1000;
  uint64_t seed = 1;
};
// The adding problem (Hochreiter & Schmidhuber 1997): features (value in [0,1), marker in {0,1}); two
// markers, one in each half; the target is the sum of the two marked values. Regression, 1 output.
Dataset make_adding(const AddingOptions& o);

struct SineOptions {
  int classes = 4;
  int steps = 64;
  int channels = 1;
  double noise = 0.3;  // standard deviation of additive Gaussian noise (signal amplitude ~1)
  int train = 2000, val = 500, test = 500;
  uint64_t seed = 1;
};
// Noisy multi-frequency sines: class k mixes two frequency components specific to k, with random phase
// and amplitude per sequence and channel, plus Gaussian noise. Classification.
Dataset make_sine(const SineOptions& o);

// ---- CSV ----
// Reads a numeric CSV table. A first row that is not numeric is taken as the header. Every error names
// the file, line and column. Cells listed in `text_columns` (by header name) are kept as text.
struct CsvTable {
  std::string path;
  std::vector<std::string> header;                // empty if the file had none
  std::vector<std::vector<double>> rows;          // numeric cells (text columns hold NaN)
  std::vector<std::vector<std::string>> text;     // text columns only, in text_columns order
  std::vector<int> line;                          // 1-based source line of each row
  int column(std::string_view name) const;        // index by header name, or -1
};
CsvTable read_csv(const std::string& path, const std::vector<std::string>& text_columns = {});
// The first non-blank row's fields (the header, when the file has one).
std::vector<std::string> read_csv_header(const std::string& path);

struct CsvWindowOptions {
  std::string path;
  int window = 128;
  int stride = 64;
  std::string label;                 // classification: label column (text or integer class)
  std::vector<std::string> targets;  // regression: target column(s); the window's value is its last row's
  std::string group;                 // optional: windows never cross a change of this column
  std::vector<std::string> drop;     // columns that are neither features nor targets
  std::string labeling = "majority"; // window label: majority | last | pure (drop mixed windows)
  double val = 0.15, test = 0.15;
  uint64_t seed = 1;
};
// Windows cut from one long recording (rows = time steps).
Dataset load_csv_windows(const CsvWindowOptions& o);

struct CsvSequenceOptions {
  std::string path;  // a manifest .csv, or a directory with one sub-directory per class
  double val = 0.15, test = 0.15;
  uint64_t seed = 1;
};
// One sequence per CSV file (rows = time steps, columns = features). `path` is either
//  - a manifest CSV with a header: `file` (relative to the manifest), then `label` (classification) or
//    one or more `target*` columns (regression), and optionally `split` (train | val | test); or
//  - a directory with one sub-directory per class, each holding *.csv sequences.
Dataset load_csv_sequences(const CsvSequenceOptions& o);

// ---- Data specs (the --data syntax) ----
//   adding:T=50,n=8000,seed=1[,minT=20]          sine:classes=4,T=64,noise=0.3,n=2000,seed=1
//   csv:<manifest.csv | directory>[,val=0.15,test=0.15,seed=1]
//   csv:<recording.csv>,window=128,stride=64,label=<col> | target=<col>[;<col>...][,group=<col>]
//        [,drop=<col>;<col>][,labeling=majority|last|pure]
// Throws rnnas::Error for unknown kinds or keys.
Dataset load_dataset(std::string_view spec);

}  // namespace rnnas
