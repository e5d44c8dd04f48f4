// NumPy .npy / .npz arrays (format: numpy.lib.format, versions 1.0-3.0; .npz = zip of .npy members).
#include <fmt/format.h>
#include <zip.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "internal.h"
#include "rnnas/core.h"
#include "rnnas/data.h"

namespace rnnas {
namespace fs = std::filesystem;
namespace {

uint64_t read_le(std::string_view b, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int k = bytes - 1; k >= 0; --k) v = (v << 8) | static_cast<unsigned char>(b[pos + k]);
  return v;
}

double half_to_double(uint16_t h) {
  const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  double v;
  if (exp == 0) v = std::ldexp(frac, -24);
  else if (exp == 31) v = frac ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else v = std::ldexp(frac + 1024, exp - 25);
  return sign ? -v : v;
}

// The value of `key` in the header dict, as raw text up to the next top-level ',' or '}'.
std::string dict_value(std::string_view header, std::string_view key, const std::string& name) {
  for (const char* q : {"'", "\""}) {
    const std::string k = std::string(q) + std::string(key) + q;
    const auto at = header.find(k);
    if (at == std::string_view::npos) continue;
    auto colon = header.find(':', at + k.size());
    if (colon == std::string_view::npos) break;
    size_t i = colon + 1;
    int depth = 0;
    std::string v;
    for (; i < header.size(); ++i) {
      const char c = header[i];
      if (c == '(' || c == '[') ++depth;
      if (c == ')' || c == ']') --depth;
      if (depth == 0 && (c == ',' || c == '}')) break;
      if (depth < 0) break;
      v += c;
    }
    return std::string(trim(v));
  }
  throw Error(fmt::format("{}: .npy header has no '{}' entry", name, key));
}

}  // namespace

NpyArray parse_npy(std::string_view b, const std::string& name) {
  static constexpr std::string_view kMagic = "\x93NUMPY";
  if (b.size() < 10 || b.substr(0, 6) != kMagic)
    throw Error(fmt::format("{}: not a .npy file (no \\x93NUMPY magic)", name));
  const int major = static_cast<unsigned char>(b[6]);
  if (major < 1 || major > 3) throw Error(fmt::format("{}: unsupported .npy version {}", name, major));
  const int len_bytes = major == 1 ? 2 : 4;
  if (b.size() < static_cast<size_t>(8 + len_bytes)) throw Error(fmt::format("{}: truncated .npy header", name));
  const uint64_t hlen = read_le(b, 8, len_bytes);
  const size_t data_at = 8 + static_cast<size_t>(len_bytes) + hlen;
  if (hlen > b.size() || data_at > b.size()) throw Error(fmt::format("{}: truncated .npy header", name));
  const std::string_view header = b.substr(8 + len_bytes, hlen);

  std::string descr = dict_value(header, "descr", name);
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"') || descr.back() != descr.front())
    throw Error(fmt::format("{}: descr {} is not a simple dtype (structured arrays are not supported)", name, descr));
  descr = descr.substr(1, descr.size() - 2);
  if (descr.size() < 3) throw Error(fmt::format("{}: unsupported dtype '{}'", name, descr));
  const char order = descr[0];
  const char kind = descr[1];
  long long size = 0;
  if (!parse_int(descr.substr(2), size) || (order != '<' && order != '>' && order != '|' && order != '='))
    throw Error(fmt::format("{}: unsupported dtype '{}'", name, descr));
  const bool big = order == '>';
  const bool ok = (kind == 'b' && size == 1) || ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
                  (kind == 'f' && (size == 2 || size == 4 || size == 8));
  if (!ok)
    throw Error(fmt::format("{}: unsupported dtype '{}' (expected bool, int8-64, uint8-64 or float16/32/64)", name,
                            descr));
  const std::string fortran = dict_value(header, "fortran_order", name);
  if (fortran != "True" && fortran != "False")
    throw Error(fmt::format("{}: fortran_order is '{}', expected True or False", name, fortran));
  std::string shape_text = dict_value(header, "shape", name);
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')')
    throw Error(fmt::format("{}: shape '{}' is not a tuple", name, shape_text));
  NpyArray a;
  a.kind = kind;
  uint64_t count = 1;
  for (auto part : split(std::string_view(shape_text).substr(1, shape_text.size() - 2), ',')) {
    part = trim(part);
    if (part.empty()) continue;
    long long d;
    if (!parse_int(part, d) || d < 0 || d > (1LL << 40))
      throw Error(fmt::format("{}: shape '{}' holds '{}', not a dimension", name, shape_text, part));
    a.shape.push_back(static_cast<long>(d));
    if (d != 0 && count > (1ULL << 40) / static_cast<uint64_t>(d))
      throw Error(fmt::format("{}: shape {} is too large", name, shape_text));
    count *= static_cast<uint64_t>(d);
  }
  const uint64_t need = count * static_cast<uint64_t>(size);
  if (b.size() - data_at < need)
    throw Error(fmt::format("{}: truncated: shape {} of {} needs {} bytes of data, the file has {}", name,
                            shape_text, descr, need, b.size() - data_at));
  a.data.resize(count);
  const auto sz = static_cast<int>(size);
  for (uint64_t i = 0; i < count; ++i) {
    const size_t at = data_at + static_cast<size_t>(i) * static_cast<size_t>(sz);
    uint64_t raw = 0;
    if (big)
      for (int k = 0; k < sz; ++k) raw = (raw << 8) | static_cast<unsigned char>(b[at + k]);
    else
      raw = read_le(b, at, sz);
    double v = 0;
    switch (kind) {
      case 'b': v = raw != 0; break;
      case 'u': v = static_cast<double>(raw); break;
      case 'i': {
        const int shift = 64 - 8 * sz;
        v = static_cast<double>(static_cast<int64_t>(raw << shift) >> shift);
        break;
      }
      default:
        if (sz == 2) v = half_to_double(static_cast<uint16_t>(raw));
        else if (sz == 4) v = std::bit_cast<float>(static_cast<uint32_t>(raw));
        else v = std::bit_cast<double>(raw);
    }
    a.data[i] = v;
  }
  if (fortran == "True" && a.shape.size() > 1) {
    // Column-major -> row-major.
    std::vector<double> c(count);
    const size_t nd = a.shape.size();
    std::vector<long> idx(nd, 0);
    for (uint64_t f = 0; f < count; ++f) {
      // idx is the multi-index of Fortran position f (first index fastest).
      size_t ci = 0;
      for (size_t d = 0; d < nd; ++d) ci = ci * static_cast<size_t>(a.shape[d]) + static_cast<size_t>(idx[d]);
      c[ci] = a.data[f];
      for (size_t d = 0; d < nd; ++d) {
        if (++idx[d] < a.shape[d]) break;
        idx[d] = 0;
      }
    }
    a.data = std::move(c);
  }
  return a;
}

NpyArray read_npy(const std::string& path) { return parse_npy(detail::read_file(path, ".npy file"), path); }

std::vector<std::pair<std::string, NpyArray>> read_npz(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{}: is a directory, expected an .npz file", path));
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    const std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw Error(fmt::format("{}: cannot read as .npz (zip): {}", path, msg));
  }
  std::vector<std::pair<std::string, NpyArray>> out;
  try {
    const zip_int64_t n = zip_get_num_entries(z, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      zip_stat_t st;
      if (zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        throw Error(fmt::format("{}: cannot read member {} ({})", path, i, zip_strerror(z)));
      std::string member = st.name ? st.name : "";
      if (member.size() < 4 || member.substr(member.size() - 4) != ".npy") continue;
      if (st.size > (1ULL << 34)) throw Error(fmt::format("{}: member {} is too large", path, member));
      zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0);
      if (!f) throw Error(fmt::format("{}: cannot open member {} ({})", path, member, zip_strerror(z)));
      std::string bytes(st.size, '\0');
      const zip_int64_t got = zip_fread(f, bytes.data(), st.size);
      const std::string ferr = got < 0 ? zip_file_strerror(f) : "";
      zip_fclose(f);
      if (got < 0 || static_cast<zip_uint64_t>(got) != st.size)
        throw Error(fmt::format("{}: member {} is truncated or corrupt{}", path, member, ferr.empty() ? "" : " (" + ferr + ")"));
      out.emplace_back(member.substr(0, member.size() - 4), parse_npy(bytes, path + ":" + member));
    }
  } catch (...) {
    zip_discard(z);
    throw;
  }
  zip_discard(z);
  if (out.empty()) throw Error(fmt::format("{}: the archive holds no .npy arrays", path));
  return out;
}

namespace {

struct ArraySet {
  const NpyArray* x = nullptr;
  const NpyArray* y = nullptr;
  const NpyArray* groups = nullptr;
  const NpyArray* lengths = nullptr;
  std::string xname, yname;
};

// Appends the sequences of one (x, y) pair to `part`. Class names are collected in `names` by the caller.
void append_arrays(const ArraySet& s, const std::string& where, bool classification,
                   const std::vector<std::string>& class_names, int& features, int& outputs, Split& part) {
  const NpyArray& x = *s.x;
  const NpyArray& y = *s.y;
  if (x.shape.size() != 2 && x.shape.size() != 3)
    throw Error(fmt::format("{}: {} has {} dimensions, expected [N, T, F] or [N, T]", where, s.xname, x.shape.size()));
  const long N = x.shape[0], T = x.shape[1], F = x.shape.size() == 3 ? x.shape[2] : 1;
  if (N < 1 || T < 1 || F < 1) throw Error(fmt::format("{}: {} is empty", where, s.xname));
  if (features && F != features)
    throw Error(fmt::format("{}: {} has {} features, others have {}", where, s.xname, F, features));
  features = static_cast<int>(F);
  if (y.shape.empty() || y.shape[0] != N || y.shape.size() > 2)
    throw Error(fmt::format("{}: {} must be [N] or [N, O] with N = {} (as {})", where, s.yname, N, s.xname));
  const long O = y.shape.size() == 2 ? y.shape[1] : 1;
  if (classification && O != 1) throw Error(fmt::format("{}: class labels {} must be [N]", where, s.yname));
  if (!classification) {
    if (outputs && O != outputs) throw Error(fmt::format("{}: {} has {} outputs, others {}", where, s.yname, O, outputs));
    outputs = static_cast<int>(O);
  }
  for (long n = 0; n < N; ++n) {
    long len = T;
    if (s.lengths) {
      const double l = s.lengths->data[n];
      if (!(l >= 1 && l <= static_cast<double>(T)) || l != std::floor(l))
        throw Error(fmt::format("{}: lengths[{}] = {} is not an integer in [1, {}]", where, n, l, T));
      len = static_cast<long>(l);
    }
    Sequence seq(len, F);
    for (long t = 0; t < len; ++t)
      for (long f = 0; f < F; ++f) {
        const double v = x.data[(n * T + t) * F + f];
        if (!std::isfinite(v))
          throw Error(fmt::format("{}: {}[{}, {}, {}] is {}, expected a finite number", where, s.xname, n, t, f, v));
        seq(t, f) = static_cast<float>(v);
      }
    part.x.push_back(std::move(seq));
    if (classification) {
      part.label.push_back(detail::class_index(class_names, fmt::format("{}", y.data[n])));
    } else {
      for (long o = 0; o < O; ++o) {
        const double v = y.data[n * O + o];
        if (!std::isfinite(v)) throw Error(fmt::format("{}: {}[{}] is {}, expected a finite target", where, s.yname, n, v));
        part.y.push_back(static_cast<float>(v));
      }
    }
    if (s.groups) part.group.push_back(fmt::format("{}", s.groups->data[n]));
  }
}

void check_vector(const NpyArray* a, long n, const std::string& where, const std::string& what) {
  if (a && (a->shape.size() != 1 || a->shape[0] != n))
    throw Error(fmt::format("{}: {} must be a vector of {} entries", where, what, n));
}

}  // namespace

Dataset load_arrays(const ArrayDataOptions& o) {
  if (o.task != "auto" && o.task != "classification" && o.task != "regression")
    throw Error(fmt::format("{}: task='{}', expected auto, classification or regression", o.path, o.task));
  const bool npz = o.path.size() > 4 && o.path.substr(o.path.size() - 4) == ".npz";
  std::map<std::string, NpyArray> arrays;
  if (npz) {
    if (!o.labels.empty() || !o.groups.empty() || !o.lengths.empty())
      throw Error(fmt::format("{}: an .npz holds its labels, groups and lengths itself (no y=, groups=, lengths=)", o.path));
    for (auto& [k, v] : read_npz(o.path)) arrays[k] = std::move(v);
  } else {
    if (o.labels.empty()) throw Error(fmt::format("{}: a .npy of sequences needs y=<labels.npy>", o.path));
    arrays["x"] = read_npy(o.path);
    arrays["y"] = read_npy(o.labels);
    if (!o.groups.empty()) arrays["groups"] = read_npy(o.groups);
    if (!o.lengths.empty()) arrays["lengths"] = read_npy(o.lengths);
  }
  auto find = [&](std::initializer_list<const char*> names) -> const NpyArray* {
    for (const char* n : names) {
      auto it = arrays.find(n);
      if (it != arrays.end()) return &it->second;
    }
    return nullptr;
  };
  auto name_of = [&](const NpyArray* a) {
    for (const auto& [k, v] : arrays)
      if (&v == a) return npz ? k : (k == "x" ? o.path : k == "y" ? o.labels : k);
    return std::string();
  };
  // Parts present: (x, y) or x_train/y_train [, x_val/y_val] [, x_test/y_test].
  std::vector<std::pair<int, ArraySet>> sets;  // part index (-1 = to split), arrays
  if (const NpyArray* whole = find({"x", "X"})) {
    ArraySet s{whole, find({"y", "Y"}), find({"groups", "g"}), find({"lengths"}), name_of(whole), ""};
    if (!s.y) throw Error(fmt::format("{}: has x but no y array", o.path));
    s.yname = name_of(s.y);
    sets.emplace_back(-1, s);
  } else {
    const char* parts[3] = {"train", "val", "test"};
    for (int p = 0; p < 3; ++p) {
      const std::string xs = fmt::format("x_{}", parts[p]), ys = fmt::format("y_{}", parts[p]);
      const NpyArray* x = find({xs.c_str()});
      const NpyArray* y = find({ys.c_str()});
      if (!x && !y) continue;
      if (!x || !y) throw Error(fmt::format("{}: has {} but not {}", o.path, x ? xs : ys, x ? ys : xs));
      const std::string gs = fmt::format("groups_{}", parts[p]), ls = fmt::format("lengths_{}", parts[p]);
      sets.emplace_back(p, ArraySet{x, y, find({gs.c_str()}), find({ls.c_str()}), xs, ys});
    }
    if (sets.empty() || sets.front().first != 0) {
      std::string keys;
      for (const auto& [k, v] : arrays) keys += (keys.empty() ? "" : ", ") + k;
      throw Error(fmt::format("{}: expected arrays x and y, or x_train and y_train (found: {})", o.path, keys));
    }
  }
  for (const auto& [p, s] : sets) {
    const long n = s.x->shape.empty() ? 0 : s.x->shape[0];
    check_vector(s.groups, n, o.path, "groups");
    check_vector(s.lengths, n, o.path, "lengths");
  }
  bool classification = o.task == "classification";
  if (o.task == "auto") {
    classification = true;
    for (const auto& [p, s] : sets)
      for (double v : s.y->data) classification = classification && s.y->kind != 'f' && v == std::floor(v);
    for (const auto& [p, s] : sets) classification = classification && s.y->shape.size() == 1;
  }
  Dataset ds;
  ds.name = fs::path(o.path).filename().string();
  ds.task = classification ? TaskKind::classification : TaskKind::regression;
  if (classification) {
    std::set<std::string> names;
    for (const auto& [p, s] : sets)
      for (double v : s.y->data) {
        if (!std::isfinite(v)) throw Error(fmt::format("{}: {} holds a non-finite label", o.path, s.yname));
        names.insert(fmt::format("{}", v));
      }
    ds.class_names = detail::sorted_class_names(names);
    ds.num_classes = static_cast<int>(ds.class_names.size());
  }
  int outputs = 0;
  Split* dst[3] = {&ds.train, &ds.val, &ds.test};
  for (const auto& [p, s] : sets) {
    if (p >= 0) {
      append_arrays(s, o.path, classification, ds.class_names, ds.num_features, outputs, *dst[p]);
      continue;
    }
    Split all;
    append_arrays(s, o.path, classification, ds.class_names, ds.num_features, outputs, all);
    if (!all.group.empty()) ds.group_kind = "group";
    ds.num_outputs = classification ? 0 : outputs;
    random_split(std::move(all), o.val, o.test, o.seed, ds.num_outputs, ds);
  }
  ds.num_outputs = classification ? 0 : outputs;
  if (!classification)
    for (int k = 0; k < outputs; ++k) ds.output_names.push_back(fmt::format("y{}", k));
  if (sets.front().first == 0) {
    const bool has_val = std::any_of(sets.begin(), sets.end(), [](const auto& e) { return e.first == 1; });
    if (!has_val) carve_validation(ds, o.val, o.seed);
    ds.split_info = fmt::format("the archive's own train/test parts; {}", has_val ? "its val part"
                                : fmt::format("val {:.0f}% of train, seed {}", 100 * o.val, o.seed));
  }
  ds.validate();
  return ds;
}

}  // namespace rnnas
