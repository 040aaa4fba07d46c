// ishowtts._native: the audio hot paths (resampler, WAV encoder, buffer pool) and the DiT's CPU attention.
#include "bindings.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "ishowtts native core";
  ishowtts::bind_attention(m);
  ishowtts::bind_cpu(m);
  ishowtts::bind_pool(m);
  ishowtts::bind_resampler(m);
  ishowtts::bind_wav(m);
}
