#include "wav/wav_format.h"

#include <cstring>

namespace ishowtts {
namespace wav {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the WAV encoder writes samples in host order and supports little-endian hosts only"
#endif

namespace {

void put_u32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}

}  // namespace

std::size_t bytes_per_sample(SampleFormat fmt) { return fmt == SampleFormat::Pcm16 ? 2 : 4; }

void write_header(std::uint8_t* d, SampleFormat fmt, unsigned channels, std::uint32_t sample_rate,
                  std::uint64_t data_bytes, bool streaming) {
  const auto bps = static_cast<std::uint16_t>(bytes_per_sample(fmt));
  const auto block_align = static_cast<std::uint16_t>(bps * channels);
  const std::uint32_t data_size = streaming ? kUnknownSize : static_cast<std::uint32_t>(data_bytes);
  const std::uint32_t riff_size =
      streaming ? kUnknownSize : static_cast<std::uint32_t>(data_bytes + (kHeaderBytes - 8));
  std::memcpy(d + 0, "RIFF", 4);
  put_u32(d + 4, riff_size);
  std::memcpy(d + 8, "WAVE", 4);
  std::memcpy(d + 12, "fmt ", 4);
  put_u32(d + 16, 16);
  put_u16(d + 20, static_cast<std::uint16_t>(fmt));
  put_u16(d + 22, static_cast<std::uint16_t>(channels));
  put_u32(d + 24, sample_rate);
  put_u32(d + 28, sample_rate * block_align);
  put_u16(d + 32, block_align);
  put_u16(d + 34, static_cast<std::uint16_t>(bps * 8));
  std::memcpy(d + 36, "data", 4);
  put_u32(d + 40, data_size);
}

Pcm16Kernel pcm16_kernel_for(cpu::Isa isa) {
  switch (isa) {
    case cpu::Isa::Scalar:
      return &pcm16_scalar;
    case cpu::Isa::Avx2Fma:
#if defined(ISHOWTTS_HAVE_AVX2)
      if (cpu::detect_isa() == cpu::Isa::Avx2Fma) return &pcm16_avx2;
#endif
      return nullptr;
    case cpu::Isa::Neon:
#if defined(ISHOWTTS_HAVE_NEON)
      if (cpu::detect_isa() == cpu::Isa::Neon) return &pcm16_neon;
#endif
      return nullptr;
  }
  return nullptr;
}

Pcm16Kernel active_pcm16_kernel() {
  static const Pcm16Kernel chosen = [] {
    Pcm16Kernel k = pcm16_kernel_for(cpu::active_isa());
    return k != nullptr ? k : &pcm16_scalar;
  }();
  return chosen;
}

void encode_samples(SampleFormat fmt, Pcm16Kernel kernel, const float* in, std::uint8_t* out, std::size_t n) {
  if (n == 0) return;
  if (fmt == SampleFormat::Pcm16) {
    // out may be only 2-byte aligned (it follows a 44-byte header inside a bytes object): the kernels use
    // unaligned stores, and int16 access at an even address is well defined.
    kernel(in, reinterpret_cast<std::int16_t*>(out), n);
  } else {
    std::memcpy(out, in, n * sizeof(float));
  }
}

}  // namespace wav
}  // namespace ishowtts
