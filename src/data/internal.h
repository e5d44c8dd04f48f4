// Helpers shared by the data loaders (not part of the public API).
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "rnnas/data.h"

namespace rnnas::detail {

// The whole file; throws "<path>: cannot open file" / "is a directory". `what` names the expected kind.
std::string read_file(const std::string& path, std::string_view what = "file");
// Like read_file, but inflates gzip (.gz) content transparently; names the file in errors.
std::string read_file_maybe_gz(const std::string& path);
// Class names sorted numerically when all are integers, else lexicographically.
std::vector<std::string> sorted_class_names(const std::set<std::string>& names);
int class_index(const std::vector<std::string>& names, const std::string& name);
// Files in a directory (sorted) whose extension is `ext` (lower-case compare, with the dot).
std::vector<std::string> list_files(const std::string& dir, std::string_view ext);
// Checks 0 <= val, 0 <= test, val + test < 1.
void check_fractions(double val, double test, std::string_view what);
// Reads, resamples, cuts/pads and featurises WAV clips in parallel (errors name the first bad file).
// seconds > 0: pad/cut to that length; max_seconds > 0: cut longer clips.
Split load_clips(const std::vector<std::string>& files, const std::vector<int>& labels,
                 const std::vector<std::string>& groups, const FrontEnd& fe, double seconds, double max_seconds);

}  // namespace rnnas::detail
