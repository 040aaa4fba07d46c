// ishowtts._native: the audio hot paths (resampler, WAV encoder, buffer pool).
#include "bindings.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "ishowtts native audio core";
  ishowtts::bind_cpu(m);
  ishowtts::bind_pool(m);
  ishowtts::bind_resampler(m);
  ishowtts::bind_wav(m);
}
