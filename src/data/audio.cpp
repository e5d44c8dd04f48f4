// WAV decoding (libsndfile), resampling (libsamplerate), the host side of the C front end, and labelled
// folders of recordings.
#include <fmt/format.h>
#include <samplerate.h>
#include <sndfile.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "internal.h"
#include "rnnas/core.h"
#include "rnnas/data.h"

extern "C" {
#include "rnnas_frontend.h"
}

namespace rnnas {
namespace fs = std::filesystem;
namespace {

struct MemFile {
  std::string_view bytes;
  sf_count_t pos = 0;
};

sf_count_t vio_len(void* u) { return static_cast<sf_count_t>(static_cast<MemFile*>(u)->bytes.size()); }
sf_count_t vio_seek(sf_count_t off, int whence, void* u) {
  auto* m = static_cast<MemFile*>(u);
  const auto size = static_cast<sf_count_t>(m->bytes.size());
  sf_count_t p = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : size + off;
  m->pos = std::clamp<sf_count_t>(p, 0, size);
  return m->pos;
}
sf_count_t vio_read(void* dst, sf_count_t count, void* u) {
  auto* m = static_cast<MemFile*>(u);
  const sf_count_t n = std::min<sf_count_t>(count, static_cast<sf_count_t>(m->bytes.size()) - m->pos);
  if (n <= 0) return 0;
  std::memcpy(dst, m->bytes.data() + m->pos, static_cast<size_t>(n));
  m->pos += n;
  return n;
}
sf_count_t vio_write(const void*, sf_count_t, void*) { return 0; }
sf_count_t vio_tell(void* u) { return static_cast<MemFile*>(u)->pos; }

uint32_t le32(std::string_view b, size_t at) {
  return static_cast<uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}

// libsndfile shortens a data chunk that runs past the end of the file without failing; a truncated
// recording must be an error, so walk the RIFF chunks and compare the data chunk's size with the bytes left.
void check_riff_data(std::string_view b, const std::string& name) {
  if (b.size() < 12 || b.substr(0, 4) != "RIFF" || b.substr(8, 4) != "WAVE") return;  // sndfile will judge
  size_t at = 12;
  while (at + 8 <= b.size()) {
    const std::string_view id = b.substr(at, 4);
    const uint32_t size = le32(b, at + 4);
    if (id == "data") {
      const size_t left = b.size() - at - 8;
      if (size != 0xFFFFFFFFu && size != 0 && size > left)
        throw Error(fmt::format("{}: truncated: the data chunk declares {} bytes, the file holds {}", name, size, left));
      return;
    }
    at += 8 + static_cast<size_t>(size) + (size & 1u);
  }
}

int16_t to_pcm16(float v) {
  const float s = std::nearbyint(v * 32768.0f);
  return static_cast<int16_t>(std::clamp(s, -32768.0f, 32767.0f));
}

}  // namespace

Audio decode_wav(std::string_view bytes, const std::string& name) {
  if (bytes.empty()) throw Error(fmt::format("{}: empty file", name));
  check_riff_data(bytes, name);
  MemFile mem{bytes, 0};
  SF_VIRTUAL_IO io{vio_len, vio_seek, vio_read, vio_write, vio_tell};
  SF_INFO info{};
  SNDFILE* f = sf_open_virtual(&io, SFM_READ, &info, &mem);
  if (!f) throw Error(fmt::format("{}: not a readable WAV file ({})", name, sf_strerror(nullptr)));
  struct Closer {
    SNDFILE* f;
    ~Closer() { sf_close(f); }
  } closer{f};
  const int major = info.format & SF_FORMAT_TYPEMASK;
  const int sub = info.format & SF_FORMAT_SUBMASK;
  if (major != SF_FORMAT_WAV && major != SF_FORMAT_WAVEX && major != SF_FORMAT_RF64) {
    SF_FORMAT_INFO fi{};
    fi.format = major;
    sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof fi);
    throw Error(fmt::format("{}: a {} file, expected WAV", name, fi.name ? fi.name : "non-WAV"));
  }
  static const std::set<int> kAccepted = {SF_FORMAT_PCM_S8, SF_FORMAT_PCM_U8, SF_FORMAT_PCM_16, SF_FORMAT_PCM_24,
                                          SF_FORMAT_PCM_32, SF_FORMAT_FLOAT,  SF_FORMAT_DOUBLE, SF_FORMAT_ULAW,
                                          SF_FORMAT_ALAW};
  if (!kAccepted.count(sub)) {
    SF_FORMAT_INFO fi{};
    fi.format = sub;
    sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof fi);
    throw Error(fmt::format("{}: encoding '{}' is not supported (expected PCM 8/16/24/32-bit, float, u-law or "
                            "a-law)", name, fi.name ? fi.name : "unknown"));
  }
  if (info.channels < 1 || info.channels > 64)
    throw Error(fmt::format("{}: {} channels (expected 1-64)", name, info.channels));
  if (info.samplerate < 1000 || info.samplerate > 384000)
    throw Error(fmt::format("{}: sample rate {} Hz out of range", name, info.samplerate));
  if (info.frames <= 0) throw Error(fmt::format("{}: holds no samples", name));
  if (info.frames > (1LL << 31) / info.channels) throw Error(fmt::format("{}: too long", name));
  std::vector<float> buf(static_cast<size_t>(info.frames) * static_cast<size_t>(info.channels));
  const sf_count_t got = sf_readf_float(f, buf.data(), info.frames);
  if (got != info.frames)
    throw Error(fmt::format("{}: truncated: read {} of {} samples", name, got, info.frames));
  Audio a;
  a.sample_rate = info.samplerate;
  a.pcm.resize(static_cast<size_t>(info.frames));
  for (sf_count_t i = 0; i < info.frames; ++i) {
    float s = 0;
    for (int c = 0; c < info.channels; ++c) s += buf[static_cast<size_t>(i * info.channels + c)];
    const float v = s / static_cast<float>(info.channels);
    if (!std::isfinite(v)) throw Error(fmt::format("{}: sample {} is not finite", name, i));
    a.pcm[static_cast<size_t>(i)] = to_pcm16(v);
  }
  return a;
}

Audio read_wav(const std::string& path) { return decode_wav(detail::read_file(path, "WAV file"), path); }

Audio resample(const Audio& in, int rate) {
  if (in.sample_rate == rate) return in;
  if (rate < 1000 || in.sample_rate < 1000) throw Error(fmt::format("resample: rate {} Hz out of range", rate));
  std::vector<float> src(in.pcm.size());
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(in.pcm[i]) / 32768.0f;
  const double ratio = static_cast<double>(rate) / in.sample_rate;
  std::vector<float> dst(static_cast<size_t>(std::ceil(static_cast<double>(src.size()) * ratio)) + 16);
  SRC_DATA d{};
  d.data_in = src.data();
  d.input_frames = static_cast<long>(src.size());
  d.data_out = dst.data();
  d.output_frames = static_cast<long>(dst.size());
  d.src_ratio = ratio;
  const int err = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1);
  if (err) throw Error(fmt::format("resample {} -> {} Hz: {}", in.sample_rate, rate, src_strerror(err)));
  Audio out;
  out.sample_rate = rate;
  out.pcm.resize(static_cast<size_t>(d.output_frames_gen));
  for (size_t i = 0; i < out.pcm.size(); ++i) out.pcm[i] = to_pcm16(dst[i]);
  return out;
}

namespace {

rnnas_fe_config to_config(const FrontEndOptions& o, int window, int hop) {
  rnnas_fe_config c{};
  c.sample_rate = o.rate;
  c.window = window;
  c.hop = hop;
  c.fft_size = o.fft;
  c.num_mels = o.mels;
  c.num_mfcc = o.mfcc;
  c.low_hz = static_cast<float>(o.low_hz);
  c.high_hz = static_cast<float>(o.high_hz);
  return c;
}

}  // namespace

FrontEnd::FrontEnd(const FrontEndOptions& o) : o_(o) {
  if (o.rate < 1000 || o.rate > 192000) throw Error(fmt::format("front end: rate={} Hz out of [1000, 192000]", o.rate));
  if (!(o.win_ms > 0) || !(o.hop_ms > 0) || o.hop_ms > o.win_ms)
    throw Error(fmt::format("front end: win={} ms and hop={} ms must be positive with hop <= win", o.win_ms, o.hop_ms));
  window_ = static_cast<int>(std::lround(o.win_ms * o.rate / 1000.0));
  hop_ = static_cast<int>(std::lround(o.hop_ms * o.rate / 1000.0));
  const rnnas_fe_config c = to_config(o, window_, hop_);
  if (rnnas_fe_check_config(&c) != RNNAS_OK)
    throw Error(fmt::format("front end: invalid settings (rate={} Hz, window={} samples, hop={}, fft={}, mels={}, "
                            "mfcc={}, low={} Hz, high={} Hz): window must be 16-8192 samples, fft even and >= window, "
                            "mels <= fft/2 and <= 256, mfcc <= mels, low < high <= rate/2",
                            o.rate, window_, hop_, o.fft, o.mels, o.mfcc, o.low_hz, o.high_hz));
  fft_ = o.fft ? o.fft : static_cast<int>(std::bit_ceil(static_cast<unsigned>(window_)));
}

int FrontEnd::num_features() const { return o_.mfcc > 0 ? o_.mfcc : o_.mels; }
int FrontEnd::window() const { return window_; }
int FrontEnd::hop() const { return hop_; }

std::string FrontEnd::describe() const {
  return fmt::format("{} Hz, window {} ({} ms), hop {} ({} ms), fft {}, {} mel bands {}-{} Hz, {}", o_.rate, window_,
                     o_.win_ms, hop_, o_.hop_ms, fft_, o_.mels, o_.low_hz, o_.high_hz > 0 ? o_.high_hz : o_.rate / 2.0,
                     o_.mfcc > 0 ? fmt::format("{} MFCC", o_.mfcc) : std::string("log-mel"));
}

size_t FrontEnd::buffer_bytes() const {
  const rnnas_fe_config c = to_config(o_, window_, hop_);
  return rnnas_fe_get_buffer_size(&c);
}

Sequence FrontEnd::compute(const Audio& audio) const {
  const Audio a = audio.sample_rate == o_.rate ? audio : resample(audio, o_.rate);
  const rnnas_fe_config c = to_config(o_, window_, hop_);
  std::vector<unsigned char> buffer(rnnas_fe_get_buffer_size(&c));
  rnnas_fe fe;
  if (rnnas_fe_init(&fe, &c, buffer.data(), buffer.size()) != RNNAS_OK)
    throw Error("front end: initialisation failed");
  const int n = static_cast<int>(std::min<size_t>(a.pcm.size(), size_t{1} << 30));
  const int frames = rnnas_fe_num_frames(&c, n);
  if (frames < 1)
    throw Error(fmt::format("recording of {} samples is shorter than one front-end window ({} samples)", n, window_));
  Sequence s(frames, num_features());
  int32_t written = 0;
  const rnnas_status st = rnnas_fe_compute(&fe, a.pcm.data(), n, s.data(), frames, &written);
  if (st != RNNAS_OK) throw Error(fmt::format("front end: {}", rnnas_status_string(st)));
  return s;
}

namespace detail {

// Loads and featurises clips in parallel; errors name the file (the first failing file in list order).
Split load_clips(const std::vector<std::string>& files, const std::vector<int>& labels,
                 const std::vector<std::string>& groups, const FrontEnd& fe, double seconds, double max_seconds) {
  std::vector<Sequence> seqs(files.size());
  std::vector<std::string> errors(files.size());
  parallel_for(files.size(), 0, [&](size_t i) {
    try {
      Audio a = read_wav(files[i]);
      if (a.sample_rate != fe.options().rate) a = resample(a, fe.options().rate);
      if (seconds > 0) a.pcm.resize(static_cast<size_t>(std::lround(seconds * a.sample_rate)), 0);
      if (max_seconds > 0)
        a.pcm.resize(std::min(a.pcm.size(), static_cast<size_t>(std::lround(max_seconds * a.sample_rate))));
      seqs[i] = fe.compute(a);
    } catch (const Error& e) {
      const std::string msg = e.what();
      errors[i] = msg.rfind(files[i], 0) == 0 ? msg : files[i] + ": " + msg;
    }
  });
  for (const auto& e : errors)
    if (!e.empty()) throw Error(e);
  Split s;
  s.x = std::move(seqs);
  s.label = labels;
  s.group = groups;
  return s;
}

}  // namespace detail

Dataset load_wav_folder(const WavFolderOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(o.path, ec)) throw Error(fmt::format("{}: not a directory of recordings", o.path));
  std::string layout = o.labels;
  std::vector<std::string> subdirs;
  for (const auto& e : fs::directory_iterator(o.path))
    if (e.is_directory() && !detail::list_files(e.path().string(), ".wav").empty() &&
        e.path().filename().string().front() != '_')
      subdirs.push_back(e.path().string());
  std::sort(subdirs.begin(), subdirs.end());
  const auto top = detail::list_files(o.path, ".wav");
  if (layout == "auto") layout = !subdirs.empty() ? "folders" : "names";
  if (layout != "folders" && layout != "names")
    throw Error(fmt::format("{}: labels='{}', expected auto, folders or names", o.path, o.labels));
  std::vector<std::string> files, label_text, groups;
  bool have_groups = true;
  if (layout == "folders") {
    if (subdirs.size() < 2)
      throw Error(fmt::format("{}: expected one folder of .wav files per label (at least 2), found {}", o.path,
                              subdirs.size()));
    for (const auto& d : subdirs)
      for (const auto& f : detail::list_files(d, ".wav")) {
        files.push_back(f);
        label_text.push_back(fs::path(d).filename().string());
        const std::string stem = fs::path(f).stem().string();
        const auto nohash = stem.find("_nohash_");
        if (nohash == std::string::npos) have_groups = false;
        groups.push_back(stem.substr(0, nohash));
      }
  } else {
    if (top.empty()) throw Error(fmt::format("{}: no .wav files", o.path));
    for (const auto& f : top) {
      const std::string stem = fs::path(f).stem().string();
      const auto parts = split(stem, '_');
      if (parts.size() < 3 || parts[0].empty() || parts[1].empty())
        throw Error(fmt::format("{}: file name is not {{label}}_{{speaker}}_{{n}}.wav", f));
      files.push_back(f);
      label_text.emplace_back(parts[0]);
      groups.emplace_back(parts[1]);
    }
  }
  Dataset ds;
  ds.name = fs::path(o.path).filename().string();
  ds.task = TaskKind::classification;
  ds.class_names = detail::sorted_class_names(std::set<std::string>(label_text.begin(), label_text.end()));
  ds.num_classes = static_cast<int>(ds.class_names.size());
  if (ds.num_classes < 2) throw Error(fmt::format("{}: recordings of {} label only", o.path, ds.num_classes));
  std::vector<int> labels;
  for (const auto& l : label_text) labels.push_back(detail::class_index(ds.class_names, l));
  const FrontEnd fe(o.fe);
  ds.num_features = fe.num_features();
  ds.audio = true;
  ds.frontend = fe.options();
  Split all = detail::load_clips(files, labels, have_groups ? groups : std::vector<std::string>{}, fe, o.seconds,
                                 o.max_seconds);
  if (have_groups) ds.group_kind = "speaker";
  random_split(std::move(all), o.val, o.test, o.seed, 0, ds);
  ds.split_info += "; features: " + fe.describe();
  ds.validate();
  return ds;
}

}  // namespace rnnas
