// RIFF/WAVE layout and sample encoding for the WAV encoder (bindings in bind_wav.cpp).
// Every header is the canonical 44 bytes: "RIFF" size "WAVE", a 16-byte "fmt " chunk (format tag 1 = PCM
// or 3 = IEEE float; no cbSize, no "fact"/"PEAK" chunks), then "data" size. Little-endian hosts only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/cpu_features.h"
#include "wav/pcm16_kernels.h"

namespace ishowtts {
namespace wav {

enum class SampleFormat : std::uint16_t { Pcm16 = 1, Float32 = 3 };  // values are the WAVE format tags

constexpr std::size_t kHeaderBytes = 44;
constexpr std::uint32_t kUnknownSize = 0xFFFFFFFFu;  // streaming: RIFF and data sizes unknown
constexpr long long kMinSampleRate = 1000;
constexpr long long kMaxSampleRate = 768000;
constexpr unsigned kMaxChannels = 2;
constexpr std::size_t kMaxSamples = std::size_t{1} << 31;            // per call (frames x channels)
constexpr std::uint64_t kMaxDataBytes = 0xFFFFFFFFull - (kHeaderBytes - 8);  // RIFF size is 32-bit

std::size_t bytes_per_sample(SampleFormat fmt);

// Writes the 44-byte header into dst. streaming=true puts 0xFFFFFFFF in both the RIFF and data sizes
// (what OpenAI-compatible clients expect for a stream) and ignores data_bytes.
void write_header(std::uint8_t* dst, SampleFormat fmt, unsigned channels, std::uint32_t sample_rate,
                  std::uint64_t data_bytes, bool streaming);

// The PCM16 kernel of the process-wide ISA (cpu::active_isa()), chosen once.
Pcm16Kernel active_pcm16_kernel();
// The kernel for a given ISA, or nullptr when it is not compiled in or the CPU lacks it.
Pcm16Kernel pcm16_kernel_for(cpu::Isa isa);

// Encodes n samples (interleaved) into out: PCM16 through `kernel`, float32 as a plain copy.
void encode_samples(SampleFormat fmt, Pcm16Kernel kernel, const float* in, std::uint8_t* out, std::size_t n);

}  // namespace wav
}  // namespace ishowtts
