// File reading and small helpers shared by the loaders.
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "internal.h"
#include "rnnas/core.h"

namespace rnnas::detail {
namespace fs = std::filesystem;

std::string read_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(fmt::format("{}: is a directory, expected a {}", path, what));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open file", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: read error", path));
  return ss.str();
}

std::string read_file_maybe_gz(const std::string& path) {
  std::string raw = read_file(path);
  if (raw.size() < 2 || static_cast<unsigned char>(raw[0]) != 0x1f || static_cast<unsigned char>(raw[1]) != 0x8b)
    return raw;
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) throw Error(fmt::format("{}: zlib initialisation failed", path));
  std::string out;
  char buf[1 << 16];
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      const std::string msg = z.msg ? z.msg : "corrupt data";
      inflateEnd(&z);
      throw Error(fmt::format("{}: gzip data is corrupt or truncated ({})", path,
                              rc == Z_BUF_ERROR ? "unexpected end of file" : msg));
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      throw Error(fmt::format("{}: gzip data is truncated", path));
    }
  }
  inflateEnd(&z);
  return out;
}

std::vector<std::string> sorted_class_names(const std::set<std::string>& names) {
  std::vector<std::string> v(names.begin(), names.end());
  long long a, b;
  const bool numeric = std::all_of(v.begin(), v.end(), [&](const std::string& s) { return parse_int(s, a); });
  if (numeric)
    std::sort(v.begin(), v.end(), [&](const std::string& x, const std::string& y) {
      parse_int(x, a);
      parse_int(y, b);
      return a < b;
    });
  return v;
}

int class_index(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<int>(std::find(names.begin(), names.end(), name) - names.begin());
}

std::vector<std::string> list_files(const std::string& dir, std::string_view ext) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::string x = e.path().extension().string();
    std::transform(x.begin(), x.end(), x.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (x == ext) files.push_back(e.path().string());
  }
  if (ec) throw Error(fmt::format("{}: cannot list directory ({})", dir, ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace rnnas::detail
