// IDX files (MNIST family; http://yann.lecun.com/exdb/mnist/ "FILE FORMATS"), optionally gzip-compressed.
#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <filesystem>
#include <set>

#include "internal.h"
#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace fs = std::filesystem;

IdxArray parse_idx(std::string_view b, const std::string& name) {
  if (b.size() < 4) throw Error(fmt::format("{}: truncated IDX header ({} bytes)", name, b.size()));
  if (b[0] != 0 || b[1] != 0) throw Error(fmt::format("{}: not an IDX file (magic must start with two zero bytes)", name));
  const auto type = static_cast<unsigned char>(b[2]);
  const int ndim = static_cast<unsigned char>(b[3]);
  int size = 0;
  switch (type) {
    case 0x08: case 0x09: size = 1; break;
    case 0x0B: size = 2; break;
    case 0x0C: case 0x0D: size = 4; break;
    case 0x0E: size = 8; break;
    default: throw Error(fmt::format("{}: unknown IDX data type 0x{:02X}", name, type));
  }
  if (ndim < 1 || ndim > 4) throw Error(fmt::format("{}: IDX with {} dimensions (expected 1-4)", name, ndim));
  if (b.size() < 4 + 4 * static_cast<size_t>(ndim)) throw Error(fmt::format("{}: truncated IDX header", name));
  IdxArray a;
  uint64_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    uint64_t v = 0;
    for (int k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(b[4 + 4 * d + k]);
    if (v > (1ULL << 31)) throw Error(fmt::format("{}: dimension {} is {}, too large", name, d + 1, v));
    a.shape.push_back(static_cast<long>(v));
    if (v != 0 && count > (1ULL << 36) / v) throw Error(fmt::format("{}: IDX array too large", name));
    count *= v;
  }
  const size_t at = 4 + 4 * static_cast<size_t>(ndim);
  const uint64_t need = count * static_cast<uint64_t>(size);
  if (b.size() - at < need)
    throw Error(fmt::format("{}: truncated: the header promises {} bytes of data, the file has {}", name, need,
                            b.size() - at));
  if (b.size() - at > need)
    throw Error(fmt::format("{}: {} bytes after the data the header describes (wrong file?)", name, b.size() - at - need));
  a.data.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t raw = 0;
    const size_t p = at + static_cast<size_t>(i) * static_cast<size_t>(size);
    for (int k = 0; k < size; ++k) raw = (raw << 8) | static_cast<unsigned char>(b[p + k]);
    double v;
    switch (type) {
      case 0x08: v = static_cast<double>(raw); break;
      case 0x09: v = static_cast<int8_t>(raw); break;
      case 0x0B: v = static_cast<int16_t>(raw); break;
      case 0x0C: v = static_cast<int32_t>(raw); break;
      case 0x0D: v = std::bit_cast<float>(static_cast<uint32_t>(raw)); break;
      default: v = std::bit_cast<double>(raw);
    }
    a.data[i] = v;
  }
  return a;
}

IdxArray read_idx(const std::string& path) { return parse_idx(detail::read_file_maybe_gz(path), path); }

namespace {

void append_images(const IdxArray& img, const IdxArray& lab, const std::string& ipath, const std::string& lpath,
                   double scale, long limit, Split& part, int& rows, int& cols) {
  if (img.shape.size() != 3 && img.shape.size() != 2)
    throw Error(fmt::format("{}: expected images [N, rows, cols], found {} dimensions", ipath, img.shape.size()));
  if (lab.shape.size() != 1)
    throw Error(fmt::format("{}: expected labels [N], found {} dimensions", lpath, lab.shape.size()));
  if (lab.shape[0] != img.shape[0])
    throw Error(fmt::format("{}: {} labels for the {} images of {}", lpath, lab.shape[0], img.shape[0], ipath));
  const long N = limit > 0 ? std::min(limit, img.shape[0]) : img.shape[0];
  const long R = img.shape[1], C = img.shape.size() == 3 ? img.shape[2] : 1;
  if (R < 1 || C < 1 || N < 1) throw Error(fmt::format("{}: empty images", ipath));
  if (rows && (R != rows || C != cols))
    throw Error(fmt::format("{}: images are {}x{}, the training images {}x{}", ipath, R, C, rows, cols));
  rows = static_cast<int>(R);
  cols = static_cast<int>(C);
  for (long n = 0; n < N; ++n) {
    Sequence s(R, C);
    for (long r = 0; r < R; ++r)
      for (long c = 0; c < C; ++c) {
        const double v = img.data[(n * R + r) * C + c];
        if (!std::isfinite(v)) throw Error(fmt::format("{}: image {} pixel ({}, {}) is not finite", ipath, n, r, c));
        s(r, c) = static_cast<float>(v * scale);
      }
    part.x.push_back(std::move(s));
    const double l = lab.data[n];
    if (l < 0 || l > 1000 || l != std::floor(l))
      throw Error(fmt::format("{}: label {} is {}, expected a class number 0-1000", lpath, n, l));
    part.label.push_back(static_cast<int>(l));
  }
}

}  // namespace

Dataset load_idx(const IdxOptions& o) {
  if ((o.test_images.empty()) != (o.test_labels.empty()))
    throw Error(fmt::format("{}: give both test images and test labels, or neither", o.train_images));
  Dataset ds;
  ds.name = fs::path(o.train_images).filename().string();
  ds.task = TaskKind::classification;
  int rows = 0, cols = 0;
  Split all;
  append_images(read_idx(o.train_images), read_idx(o.train_labels), o.train_images, o.train_labels, o.scale, o.limit,
                o.test_images.empty() ? all : ds.train, rows, cols);
  if (!o.test_images.empty())
    append_images(read_idx(o.test_images), read_idx(o.test_labels), o.test_images, o.test_labels, o.scale, o.limit,
                  ds.test, rows, cols);
  int max_label = 0;
  for (const Split* p : {&all, &ds.train, &ds.test})
    for (int l : p->label) max_label = std::max(max_label, l);
  ds.num_classes = max_label + 1;
  for (int k = 0; k < ds.num_classes; ++k) ds.class_names.push_back(std::to_string(k));
  ds.num_features = cols;
  for (int c = 0; c < cols; ++c) ds.feature_names.push_back(fmt::format("col{}", c));
  if (o.test_images.empty()) {
    random_split(std::move(all), o.val, o.test_fraction, o.seed, 0, ds);
  } else {
    carve_validation(ds, o.val, o.seed);
    ds.split_info = fmt::format("the files' own train/test parts; val {:.0f}% of train (stratified), seed {}",
                                100 * o.val, o.seed);
  }
  ds.validate();
  return ds;
}

}  // namespace rnnas
