// libFuzzer targets, one per parser of untrusted files. Every input must either parse or throw
// rnnas::Error; a crash, sanitizer report, hang or other exception is a bug. Built by scripts/fuzz.sh
// (clang, -fsanitize=fuzzer,address,undefined); RNNAS_FUZZ_TARGET selects the parser at compile time.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rnnas/core.h"
#include "rnnas/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
#if RNNAS_FUZZ_TARGET == 1
    rnnas::parse_csv(bytes, "fuzz.csv", {"label"});
#elif RNNAS_FUZZ_TARGET == 2
    rnnas::parse_npy(bytes, "fuzz.npy");
#elif RNNAS_FUZZ_TARGET == 3
    rnnas::parse_ts(bytes, "fuzz.ts");
#elif RNNAS_FUZZ_TARGET == 4
    rnnas::parse_idx(bytes, "fuzz.idx");
#elif RNNAS_FUZZ_TARGET == 5
    const rnnas::Audio a = rnnas::decode_wav(bytes, "fuzz.wav");
    if (a.pcm.size() >= 640 && a.pcm.size() < 200000) {  // and the front end on what decoded
      rnnas::FrontEndOptions o;
      o.rate = a.sample_rate < 4000 || a.sample_rate > 48000 ? 16000 : a.sample_rate;
      rnnas::FrontEnd(o).compute(a);
    }
#else
#error "RNNAS_FUZZ_TARGET must be 1-5"
#endif
  } catch (const rnnas::Error&) {
  }
  return 0;
}
