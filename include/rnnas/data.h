// rnnas/data.h — datasets of sequences: parts, leak-free splits, normalisation, loaders for CSV, NumPy,
// UCR/UEA .ts, IDX and WAV, the audio front end, presets for real datasets, synthetic tasks.
//
//   rnnas::Dataset ds = rnnas::load_dataset("uci-har:../shared/data/hapt");   // or "adding:T=50", ...
//   std::cout << rnnas::inspect(ds);         // shapes, class balance, split and groups per part
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

#include "rnnas/space.h"

namespace rnnas {

enum class TaskKind { classification, regression };
std::string_view to_string(TaskKind k);

using Sequence = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;  // [T x F]

struct Split {
  std::vector<Sequence> x;
  std::vector<int> label;  // classification: one class index per sequence
  std::vector<float> y;    // regression: num_outputs targets per sequence, row-major
  std::vector<std::string> group;  // optional: who/what each sequence came from (subject, speaker, unit)
  size_t size() const { return x.size(); }
  bool empty() const { return x.empty(); }
  // Appends sequence i of `other` (with its label or targets).
  void append_from(const Split& other, size_t i, int num_outputs);
};

// Audio front-end settings (runtime/rnnas_frontend.h); window and hop in milliseconds.
struct FrontEndOptions {
  int rate = 16000;      // Hz; recordings are resampled to it
  double win_ms = 40;    // frame length
  double hop_ms = 20;    // frame step
  int mels = 40;
  int mfcc = 10;         // 0: log-mel energies
  double low_hz = 20, high_hz = 0;  // 0: rate / 2
  int fft = 0;           // 0: smallest power of two >= window
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
  std::string group_kind;  // what Split::group names ("volunteer", "speaker", "unit"), empty if none
  std::string split_info;  // how the parts were made: protocol, seed, groups per part
  std::string score;       // extra metric of the community protocol ("phm08" for C-MAPSS), or empty
  bool audio = false;      // features come from the audio front end `frontend` (which a device runs too)
  FrontEndOptions frontend;

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

// ---- Splits ----
// Which part each of n items goes to: 0 train, 1 val, 2 test (seeded, deterministic).
//  - `groups` non-empty (one per item): whole groups move together, so no subject, speaker or unit is on
//    two sides; groups are taken in seeded random order and each goes to the part furthest below its
//    share of sequences. Needs at least one group per non-empty part.
//  - else `strata` non-empty (class per item): stratified, each class split by the fractions.
//  - else plain seeded shuffle.
std::vector<int> assign_parts(size_t n, const std::vector<int>& strata, const std::vector<std::string>& groups,
                              double val, double test, uint64_t seed);
// Appends every item of `all` to the part `parts[i]` names (0 train, 1 val, 2 test).
void distribute(Split&& all, const std::vector<int>& parts, int num_outputs, Dataset& out);
// One line per part: sequences and the groups in it (for split_info).
std::string describe_groups(const Dataset& ds);
// Splits `all` into train/val/test by the fractions: by group when all.group is filled, else stratified
// by class (classification) or shuffled (regression); records split_info.
void random_split(Split&& all, double val_fraction, double test_fraction, uint64_t seed, int num_outputs,
                  Dataset& out);
// Moves a validation part out of ds.train (by group when ds.train.group is filled, else stratified),
// leaving test untouched; for protocols with a fixed test split.
// by_group = false: stratified by class even when groups are known (for protocols whose test part shares
// groups with train, such as FSDD's index split, validation should mirror test).
void carve_validation(Dataset& ds, double val_fraction, uint64_t seed, bool by_group = true);
// Cross-validation folds that extend a dataset's own split (for ranking on more than one validation part):
// fold 0 is `ds` itself; ds.train is cut into folds - 1 parts of equal size (by group when the validation
// groups are not in train, else stratified by class), and fold k >= 1 validates on part k and
// trains on the rest of ds.train and on ds.val. Test is untouched. Seeded, deterministic.
Dataset cv_fold(const Dataset& ds, int fold, int folds, uint64_t seed);

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
// The same from text in memory; `path` names it in errors.
CsvTable parse_csv(std::string_view content, const std::string& path,
                   const std::vector<std::string>& text_columns = {});
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
  // auto: by group when `group` is set, else time. group: whole groups per part. time: chronological
  // blocks of rows (no row in two parts). random: windows shuffled (overlapping windows leak; opt-in).
  std::string split = "auto";
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

// ---- Synthetic tasks for fast tests and demos (each with a difficulty knob) ----
struct MemoryOptions {
  int symbols = 8;  // classes
  int delay = 40;   // difficulty: steps between the cue and the recall signal
  double noise = 0.0;
  int train = 4000, val = 500, test = 500;
  uint64_t seed = 1;
};
// Copy/memory task: one symbol (one-hot) at step 0, `delay` blank (optionally noisy) steps, then a recall
// flag; the class is the symbol. Features: symbols + 1 (recall flag). Classification.
Dataset make_memory(const MemoryOptions& o);

struct ChirpOptions {
  int steps = 100;
  double noise = 0.3;  // difficulty: noise standard deviation against unit amplitude
  int train = 4000, val = 500, test = 500;
  uint64_t seed = 1;
};
// Linear chirps x(t) = sin(2 pi (f0 t + k t^2 / 2) + phase) + noise; regression of (f0, k) in cycles per
// step (x 100). Two outputs.
Dataset make_chirp(const ChirpOptions& o);

struct MotionOptions {
  int subjects = 20;       // groups: each subject has their own cadence, gait and sensor orientation
  int per_subject = 150;   // windows per subject
  int steps = 128;         // 2.56 s at 50 Hz
  double difficulty = 0.5; // 0 easy .. 1 hard: noise, subject variation and overlap of the activities
  uint64_t seed = 1;
};
// HAR-like 6-axis motion (accelerometer in g + gyroscope in rad/s at 50 Hz) for six activities (walking,
// upstairs, downstairs, sitting, standing, lying); split by subject (20% test, 15% val). Classification.
Dataset make_motion(const MotionOptions& o);

// ---- Standard formats ----
// An n-dimensional NumPy array (.npy format v1-3), converted to double. Supports little/big-endian
// bool, int8-64, uint8-64, float16/32/64; C or Fortran order.
struct NpyArray {
  std::vector<long> shape;
  std::vector<double> data;  // C order
  char kind = 'f';           // numpy kind: 'b' bool, 'i' signed, 'u' unsigned, 'f' float
};
NpyArray parse_npy(std::string_view bytes, const std::string& name);
NpyArray read_npy(const std::string& path);
// Every array of an .npz archive (stored or deflated), keyed by name without ".npy".
std::vector<std::pair<std::string, NpyArray>> read_npz(const std::string& path);

struct ArrayDataOptions {
  std::string path;    // .npy of X, or .npz
  std::string labels;  // .npy of y (with a .npy X)
  std::string groups;  // optional .npy of one group id per sequence
  std::string lengths; // optional .npy of one length per sequence (unequal lengths, zero padded)
  std::string task = "auto";  // auto (integer y -> classification) | classification | regression
  double val = 0.15, test = 0.15;
  uint64_t seed = 1;
};
// X [N, T, F] (or [N, T] as F = 1) with y [N] (labels or targets) or [N, O] (targets). An .npz holds
// x/X and y/Y (and optionally groups, lengths), or x_train/y_train and x_test/y_test (and x_val/y_val).
Dataset load_arrays(const ArrayDataOptions& o);

// UCR/UEA .ts: header (@problemName, @timeStamps, @missing, @univariate, @dimensions, @equalLength,
// @seriesLength, @classLabel true <labels> | false, @targetLabel true) then @data, one case per line:
// dimensions separated by ':', values by ',', the class label or target last.
struct TsCase {
  std::vector<std::vector<double>> dims;  // [dimension][time]; missing values are NaN
  std::string label;                      // class label or target text
};
struct TsFile {
  std::string name;
  std::string problem;
  bool class_label = false, target_label = false;
  std::vector<std::string> labels;  // from @classLabel
  int dimensions = 0;
  std::vector<TsCase> cases;
};
TsFile parse_ts(std::string_view text, const std::string& name);
struct TsOptions {
  std::string train, test;  // test optional: without it the file is split
  std::string missing = "interpolate";  // interpolate | zero | error
  double val = 0.15, test_fraction = 0.15;
  uint64_t seed = 1;
};
Dataset load_ts(const TsOptions& o);

// IDX (MNIST family), optionally gzip-compressed: u8/i8/i16/i32/f32/f64 arrays, big-endian.
struct IdxArray {
  std::vector<long> shape;
  std::vector<double> data;
};
IdxArray parse_idx(std::string_view bytes, const std::string& name);
IdxArray read_idx(const std::string& path);  // reads .gz transparently
struct IdxOptions {
  std::string train_images, train_labels, test_images, test_labels;  // test files optional
  double scale = 1.0 / 255.0;  // multiplies every pixel
  long limit = 0;              // > 0: first `limit` training and test images only (quick runs)
  double val = 0.1, test_fraction = 0.15;
  uint64_t seed = 1;
};
// Images [N, rows, cols] read row by row: a sequence of `rows` steps with `cols` features.
Dataset load_idx(const IdxOptions& o);

// ---- Audio ----
// Mono 16-bit PCM at a given rate.
struct Audio {
  int sample_rate = 0;
  std::vector<int16_t> pcm;
};
// Decodes a WAV file's bytes (PCM 8/16/24/32-bit, float, u-law, a-law; several channels are averaged).
// Rejects other containers and compressed encodings with a clear error.
Audio decode_wav(std::string_view bytes, const std::string& name);
Audio read_wav(const std::string& path);
// Band-limited resampling (libsamplerate, sinc).
Audio resample(const Audio& in, int rate);

// Features of one recording via the C runtime's front end (runtime/rnnas_frontend.h), [frames x features].
// Throws if the recording is shorter than one window.
class FrontEnd {
 public:
  explicit FrontEnd(const FrontEndOptions& o);
  Sequence compute(const Audio& audio) const;  // resampled to the front end's rate if needed
  int num_features() const;
  int window() const;
  int hop() const;
  // Bytes of the runtime's buffer (tables + one frame's scratch): rnnas_fe_get_buffer_size().
  size_t buffer_bytes() const;
  const FrontEndOptions& options() const { return o_; }
  std::string describe() const;

 private:
  FrontEndOptions o_;
  int window_ = 0, hop_ = 0, fft_ = 0;
};

struct WavFolderOptions {
  std::string path;
  std::string labels = "auto";  // auto | folders ({label}/x.wav) | names ({label}_{speaker}_{n}.wav)
  FrontEndOptions fe;
  double seconds = 0;           // > 0: pad with silence / cut every clip to this length
  double max_seconds = 0;       // > 0: cut longer clips to this length (keeps variable lengths)
  double val = 0.15, test = 0.15;
  uint64_t seed = 1;
};
// Speakers are groups: with labels in names the speaker is the second field; in folders it is the part
// of the file name before "_nohash_" (Speech Commands) or the whole stem.
Dataset load_wav_folder(const WavFolderOptions& o);

// ---- Presets: real datasets with their community's protocol (docs/datasets.md) ----
struct UciHarOptions {
  std::string path;       // HAPT folder with RawData/
  int classes = 6;        // 6 activities, or 12 with the postural transitions
  std::string channels = "ucihar9";  // ucihar9: body acc, gyro, total acc | raw6: total acc, gyro
  int window = 128, stride = 64;
  int train_stride = 0;   // stride of the training volunteers' windows (0 = stride); the test keeps `stride`
  double val = 0.2;       // fraction of the 21 training volunteers held out for validation
  uint64_t seed = 1;
};
Dataset load_uci_har(const UciHarOptions& o);

struct CmapssOptions {
  std::string path;       // folder with train_FD00x.txt, test_FD00x.txt, RUL_FD00x.txt
  int fd = 1;
  int window = 30, stride = 1;
  double cap = 125;       // piecewise-linear RUL cap
  double val = 0.2;       // fraction of training units held out for validation
  uint64_t seed = 1;
};
Dataset load_cmapss(const CmapssOptions& o);

struct FsddOptions {
  std::string path;
  std::string split = "index";  // index: recordings 0-4 of each speaker/digit are test (customary);
                                // speaker: hold out `test_speakers`
  std::vector<std::string> test_speakers = {"theo"};
  FrontEndOptions fe;
  double max_seconds = 1.0;
  double val = 0.1;
  uint64_t seed = 1;
};
Dataset load_fsdd(const FsddOptions& o);

struct SpeechCommandsOptions {
  std::string path;
  std::vector<std::string> words;  // empty: every word folder; else these, the rest `_unknown_` if unknown
  bool unknown = false;
  FrontEndOptions fe;
  double val = 10, test = 10;      // percentages of the speaker-hash split of the dataset's README
  uint64_t seed = 1;               // unused by the hash split; kept for the report
};
Dataset load_speech_commands(const SpeechCommandsOptions& o);

// ---- Data specs (the --data syntax) ----
//   adding:T=50,n=8000,seed=1[,minT=20]          sine:classes=4,T=64,noise=0.3,n=2000,seed=1
//   csv:<manifest.csv | directory>[,val=0.15,test=0.15,seed=1]
//   csv:<recording.csv>,window=128,stride=64,label=<col> | target=<col>[;<col>...][,group=<col>]
//        [,drop=<col>;<col>][,labeling=majority|last|pure][,split=auto|group|time|random]
//   memory:delay=40,symbols=8   chirp:T=100,noise=0.3   motion:difficulty=0.5
//   npy:X.npy,y=Y.npy[,groups=G.npy,lengths=L.npy]   npz:data.npz   ts:TRAIN.ts[,TEST.ts]
//   idx:images,labels[,test_images,test_labels]   wav:<dir>[,labels=folders|names][,front-end keys]
//   uci-har:<dir>   cmapss:<dir>[,fd=1,window=30]   fsdd:<dir>   speech-commands:<dir>   fashion-mnist[:<dir>]
// Throws rnnas::Error for unknown kinds or keys. The full list of kinds and keys: docs/datasets.md.
Dataset load_dataset(std::string_view spec);
// The spec with an arch's front-end choice applied (win, hop, mels, mfcc keys replaced); throws if `fe` is
// set and the spec is not an audio kind (wav, fsdd, speech-commands). An empty choice returns `spec`.
std::string with_front_end(std::string_view spec, const FrontEndChoice& fe);
// Multi-line description for `rnnas data inspect`: shapes, lengths, class balance, split sizes, groups.
std::string inspect(const Dataset& ds);

}  // namespace rnnas
