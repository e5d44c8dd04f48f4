// Files embedded in the library at build time (src/CMakeLists.txt, rnnas_embed()), so an installed rnnas
// needs no source tree. Internal to src/.
#pragma once

#include <cstddef>

namespace rnnas {

struct EmbeddedFile {
  const char* name;
  const char* text;
};

// runtime/: what `rnnas export` writes next to a generated model.
extern const EmbeddedFile kRuntimeFiles[];
extern const size_t kRuntimeFileCount;
// src/deploy/firmware/: the deployment harness.
extern const EmbeddedFile kFirmwareFiles[];
extern const size_t kFirmwareFileCount;

// src/report/web/ and the plotting libraries (when built with RNNAS_REPORT): the report's page.
extern const EmbeddedFile kReportFiles[];
extern const size_t kReportFileCount;

}  // namespace rnnas
