// Python bindings of the WAV encoder: encode_wav, encode_pcm16, to_pcm16, WavStreamEncoder, and the
// private _encode_pcm16_with_isa / _pcm16_isas used to compare kernels in one process.
//
// Inputs: float32, C-contiguous, aligned numpy arrays shaped (samples,) or (samples, channels) with 1 or 2
// channels. The check is array_t<float, c_style>::check_ -- exactly what .noconvert() applies -- done by
// hand so the TypeError can say what was passed and how to fix it; nothing is ever silently copied.
// Outputs are written once, straight into their final object: a bytes object allocated at its final size
// (PyBytes_FromStringAndSize(nullptr, n)) that the kernel fills with the GIL released, or a pooled int16
// array for to_pcm16. Pointers are read and objects allocated with the GIL held.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "bindings.h"
#include "cpu/cpu_features.h"
#include "pool/pooled_array.h"
#include "wav/wav_format.h"

namespace py = pybind11;

namespace ishowtts {
namespace {

using F32Array = py::array_t<float, py::array::c_style>;

// Below this many samples the kernel takes well under 10 us: releasing the GIL would cost more than it
// frees (and re-acquiring it can wait a whole switch interval under contention), as numpy's own
// NPY_BEGIN_THREADS_THRESHOLDED does.
constexpr std::size_t kGilReleaseMinSamples = 16384;

struct Audio {
  const float* data;
  std::size_t frames;
  unsigned channels;
  std::size_t samples;
};

[[noreturn]] void raise_not_f32(py::handle x) {
  std::string got;
  if (py::isinstance<py::array>(x)) {
    const auto a = py::reinterpret_borrow<py::array>(x);
    got = "a " + std::string(py::str(a.dtype())) + " array";
    if (!(a.flags() & py::array::c_style)) got += " that is not C-contiguous";
  } else {
    got = "a " + std::string(py::str(py::type::handle_of(x).attr("__name__")));
  }
  throw py::type_error("x must be a C-contiguous float32 numpy array, got " + got +
                       "; convert it with np.ascontiguousarray(x, dtype=np.float32)");
}

Audio audio_of(py::handle x, unsigned expected_channels /* 0: infer from the shape */) {
  if (!F32Array::check_(x)) raise_not_f32(x);
  const auto a = py::reinterpret_borrow<F32Array>(x);
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
    throw py::type_error("x is not aligned to 4 bytes (a view into a byte buffer?); pass x.copy()");
  }
  unsigned channels = 1;
  if (a.ndim() == 2) {
    const py::ssize_t c = a.shape(1);
    if (c < 1 || c > static_cast<py::ssize_t>(wav::kMaxChannels)) {
      throw py::value_error("x must have 1 or 2 channels (shape (samples, channels)), got shape (" +
                            std::to_string(a.shape(0)) + ", " + std::to_string(c) + ")");
    }
    channels = static_cast<unsigned>(c);
  } else if (a.ndim() != 1) {
    throw py::value_error("x must be shaped (samples,) or (samples, channels), got " + std::to_string(a.ndim()) +
                          " dimensions");
  }
  if (expected_channels != 0 && channels != expected_channels) {
    throw py::value_error("this encoder takes " + std::to_string(expected_channels) +
                          "-channel audio shaped (samples, " + std::to_string(expected_channels) +
                          "), got " + std::to_string(channels) + " channel(s)");
  }
  const auto samples = static_cast<std::size_t>(a.size());
  if (samples > wav::kMaxSamples) {
    throw py::value_error("x has " + std::to_string(samples) + " samples; at most 2^31 per call");
  }
  return Audio{a.data(), static_cast<std::size_t>(a.shape(0)), channels, samples};
}

wav::SampleFormat parse_format(const std::string& s) {
  if (s == "pcm16") return wav::SampleFormat::Pcm16;
  if (s == "float32") return wav::SampleFormat::Float32;
  throw py::value_error("sample_format must be 'pcm16' or 'float32', got '" + s + "'");
}

const char* format_name(wav::SampleFormat f) { return f == wav::SampleFormat::Pcm16 ? "pcm16" : "float32"; }

std::uint32_t check_rate(long long sample_rate) {
  if (sample_rate < wav::kMinSampleRate || sample_rate > wav::kMaxSampleRate) {
    throw py::value_error("sample_rate must be between " + std::to_string(wav::kMinSampleRate) + " and " +
                          std::to_string(wav::kMaxSampleRate) + " Hz, got " + std::to_string(sample_rate));
  }
  return static_cast<std::uint32_t>(sample_rate);
}

unsigned check_channels(long long channels) {
  if (channels < 1 || channels > static_cast<long long>(wav::kMaxChannels)) {
    throw py::value_error("channels must be 1 or 2, got " + std::to_string(channels));
  }
  return static_cast<unsigned>(channels);
}

py::bytes new_bytes(std::size_t n, std::uint8_t** data) {
  PyObject* o = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(n));
  if (o == nullptr) throw py::error_already_set();
  *data = reinterpret_cast<std::uint8_t*>(PyBytes_AS_STRING(o));
  return py::reinterpret_steal<py::bytes>(o);
}

// Runs `fn` with the GIL released when the input is large enough for that to pay off. The output object
// is referenced only by this thread until we return, so writing into it without the GIL is safe.
template <class Fn>
void run_kernel(std::size_t samples, Fn&& fn) {
  if (samples >= kGilReleaseMinSamples) {
    py::gil_scoped_release nogil;
    fn();
  } else {
    fn();
  }
}

py::bytes encode_samples_to_bytes(const Audio& a, wav::SampleFormat fmt, wav::Pcm16Kernel kernel) {
  std::uint8_t* out = nullptr;
  py::bytes result = new_bytes(a.samples * wav::bytes_per_sample(fmt), &out);
  run_kernel(a.samples, [&] { wav::encode_samples(fmt, kernel, a.data, out, a.samples); });
  return result;
}

py::bytes encode_wav(py::handle x, long long sample_rate, const std::string& sample_format) {
  const wav::SampleFormat fmt = parse_format(sample_format);
  const std::uint32_t rate = check_rate(sample_rate);
  const Audio a = audio_of(x, 0);
  const std::uint64_t data_bytes = static_cast<std::uint64_t>(a.samples) * wav::bytes_per_sample(fmt);
  if (data_bytes > wav::kMaxDataBytes) {
    throw py::value_error("audio too long for one WAV file (" + std::to_string(data_bytes) +
                          " data bytes; the RIFF size field is 32-bit): use WavStreamEncoder");
  }
  std::uint8_t* out = nullptr;
  py::bytes result = new_bytes(wav::kHeaderBytes + data_bytes, &out);
  const wav::Pcm16Kernel kernel = wav::active_pcm16_kernel();
  run_kernel(a.samples, [&] {
    wav::write_header(out, fmt, a.channels, rate, data_bytes, /*streaming=*/false);
    wav::encode_samples(fmt, kernel, a.data, out + wav::kHeaderBytes, a.samples);
  });
  return result;
}

py::array to_pcm16(py::handle x) {
  const Audio a = audio_of(x, 0);
  const auto arr = py::reinterpret_borrow<py::array>(x);
  std::vector<py::ssize_t> shape(arr.shape(), arr.shape() + arr.ndim());
  py::array_t<std::int16_t> out = pooled_array<std::int16_t>(shape);
  std::int16_t* dst = out.mutable_data();
  const wav::Pcm16Kernel kernel = wav::active_pcm16_kernel();
  run_kernel(a.samples, [&] {
    if (a.samples != 0) kernel(a.data, dst, a.samples);
  });
  return std::move(out);
}

cpu::Isa parse_isa(const std::string& s) {
  if (s == "scalar") return cpu::Isa::Scalar;
  if (s == "avx2+fma") return cpu::Isa::Avx2Fma;
  if (s == "neon") return cpu::Isa::Neon;
  throw py::value_error("isa must be 'scalar', 'avx2+fma' or 'neon', got '" + s + "'");
}

struct StreamEncoder {
  std::uint32_t sample_rate;
  unsigned channels;
  wav::SampleFormat fmt;
};

}  // namespace

void bind_wav(py::module_& m) {
  m.def("encode_wav", &encode_wav, py::arg("x"), py::arg("sample_rate"), py::arg("sample_format") = "pcm16",
        "A complete WAV file (44-byte header + samples) as bytes. x: float32 (samples,) or (samples, channels).");
  m.def(
      "encode_pcm16",
      [](py::handle x) {
        return encode_samples_to_bytes(audio_of(x, 0), wav::SampleFormat::Pcm16, wav::active_pcm16_kernel());
      },
      py::arg("x"), "Raw little-endian PCM16 samples (interleaved), no header.");
  m.def("to_pcm16", &to_pcm16, py::arg("x"),
        "PCM16 samples as an int16 array of x's shape, backed by the default buffer pool.");
  m.def(
      "_encode_pcm16_with_isa",
      [](py::handle x, const std::string& isa) {
        const wav::Pcm16Kernel k = wav::pcm16_kernel_for(parse_isa(isa));
        if (k == nullptr) throw py::value_error("ISA '" + isa + "' is not available on this CPU/build");
        return encode_samples_to_bytes(audio_of(x, 0), wav::SampleFormat::Pcm16, k);
      },
      py::arg("x"), py::arg("isa"), "Testing aid: encode_pcm16 through one named kernel.");
  m.def("_pcm16_isas", [] {
    py::list out;
    for (cpu::Isa isa : {cpu::Isa::Scalar, cpu::Isa::Avx2Fma, cpu::Isa::Neon}) {
      if (wav::pcm16_kernel_for(isa) != nullptr) out.append(cpu::isa_name(isa));
    }
    return out;
  });
  m.attr("WAV_HEADER_BYTES") = wav::kHeaderBytes;

  py::class_<StreamEncoder>(m, "WavStreamEncoder",
                            "Streaming WAV: header() once (sizes 0xFFFFFFFF), then encode(chunk) per chunk.")
      .def(py::init([](long long sample_rate, long long channels, const std::string& sample_format) {
             return StreamEncoder{check_rate(sample_rate), check_channels(channels), parse_format(sample_format)};
           }),
           py::arg("sample_rate"), py::arg("channels") = 1, py::arg("sample_format") = "pcm16")
      .def("header",
           [](const StreamEncoder& e) {
             std::uint8_t* out = nullptr;
             py::bytes b = new_bytes(wav::kHeaderBytes, &out);
             wav::write_header(out, e.fmt, e.channels, e.sample_rate, 0, /*streaming=*/true);
             return b;
           })
      .def(
          "encode",
          [](const StreamEncoder& e, py::handle x) {
            return encode_samples_to_bytes(audio_of(x, e.channels), e.fmt, wav::active_pcm16_kernel());
          },
          py::arg("x"))
      .def_property_readonly("sample_rate", [](const StreamEncoder& e) { return e.sample_rate; })
      .def_property_readonly("channels", [](const StreamEncoder& e) { return e.channels; })
      .def_property_readonly("sample_format", [](const StreamEncoder& e) { return format_name(e.fmt); })
      .def_property_readonly("bytes_per_frame", [](const StreamEncoder& e) {
        return e.channels * wav::bytes_per_sample(e.fmt);
      });
}

}  // namespace ishowtts
