// Python bindings of the resampler: _native.resample (one-shot), _native.Resampler (streaming),
// _native.resample_info. Inputs are float32 C-contiguous arrays shaped (frames,) or (frames, channels),
// taken with .noconvert(); anything else reaches a fallback overload that raises a TypeError naming the fix.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "bindings.h"
#include "pool/pooled_array.h"
#include "resample/resample_plan.h"
#include "resample/resample_stream.h"

namespace py = pybind11;

namespace ishowtts {
namespace {

using resample::Plan;
using resample::Stream;
using FloatArray = py::array_t<float, py::array::c_style>;

constexpr std::int64_t kMaxChannels = 1024;

// Plans are cached; building a new one takes up to ~90 ms (441-phase tables), so it runs without the GIL.
std::shared_ptr<const Plan> get_plan(std::int64_t src_rate, std::int64_t dst_rate) {
  py::gil_scoped_release release;
  return Plan::get(src_rate, dst_rate);
}

const resample::KernelOps& ops_for(const std::optional<std::string>& isa) {
  return isa ? resample::kernel_ops_for(isa->c_str()) : resample::active_kernel_ops();
}

[[noreturn]] void raise_bad_array(const py::handle& x) {
  const std::string fix = "pass np.ascontiguousarray(x, dtype=np.float32)";
  if (!py::isinstance<py::array>(x)) {
    throw py::type_error("x must be a numpy.ndarray of float32, got " +
                         std::string(py::str(py::type::of(x).attr("__name__"))) + "; " + fix);
  }
  auto arr = py::reinterpret_borrow<py::array>(x);
  if (!arr.dtype().is(py::dtype::of<float>()) && !arr.dtype().equal(py::dtype::of<float>())) {
    throw py::type_error("x has dtype " + std::string(py::str(arr.dtype())) +
                         "; the resampler takes float32 and never converts silently: " + fix);
  }
  if (!(arr.flags() & py::array::c_style)) {
    throw py::type_error("x is not C-contiguous (a strided view); the resampler never copies silently: " + fix);
  }
  throw py::type_error("src_rate and dst_rate must be int (Hz), channels an int, isa a str or None");
}

struct Shape {
  std::int64_t frames;
  std::int64_t channels;
};

Shape check_shape(const FloatArray& x, std::optional<std::int64_t> expected_channels) {
  if (x.ndim() != 1 && x.ndim() != 2) {
    throw py::value_error("x must be shaped (samples,) or (samples, channels), got ndim=" +
                          std::to_string(x.ndim()));
  }
  const std::int64_t frames = x.shape(0);
  const std::int64_t channels = x.ndim() == 2 ? x.shape(1) : 1;
  if (channels < 1 || channels > kMaxChannels) {
    throw py::value_error("channels must be in [1, " + std::to_string(kMaxChannels) + "], got " +
                          std::to_string(channels));
  }
  if (frames > resample::kMaxCallSamples) {
    throw py::value_error("at most 2**31 - 1 samples per channel per call, got " + std::to_string(frames) +
                          "; feed longer signals to Resampler.process in chunks");
  }
  if (expected_channels && channels != *expected_channels) {
    throw py::value_error("this Resampler was made for " + std::to_string(*expected_channels) +
                          " channel(s); got an array with " + std::to_string(channels) +
                          (x.ndim() == 1 ? " (1-D input is mono)" : ""));
  }
  return {frames, channels};
}

py::array make_output(std::int64_t frames, std::int64_t channels, bool two_d) {
  if (two_d) return pooled_array<float>({static_cast<py::ssize_t>(frames), static_cast<py::ssize_t>(channels)});
  return pooled_array<float>({static_cast<py::ssize_t>(frames)});
}

py::array resample_oneshot(const FloatArray& x, std::int64_t src_rate, std::int64_t dst_rate,
                           const std::optional<std::string>& isa) {
  const resample::KernelOps& ops = ops_for(isa);
  auto plan = get_plan(src_rate, dst_rate);
  const Shape s = check_shape(x, std::nullopt);
  const std::int64_t n_out = plan->identity ? s.frames : plan->output_length(s.frames);
  py::array out = make_output(n_out, s.channels, x.ndim() == 2);
  const float* in = x.data();
  float* dst = static_cast<float*>(out.mutable_data());
  {
    py::gil_scoped_release release;  // no Python object is touched in here
    if (plan->identity) {
      if (n_out > 0) std::memcpy(dst, in, static_cast<std::size_t>(n_out * s.channels) * sizeof(float));
    } else if (s.channels == 1 && reinterpret_cast<std::uintptr_t>(in) % alignof(float) == 0) {
      resample::resample_mono_in_place(*plan, ops, in, s.frames, dst);
    } else {  // multichannel (deinterleaved into the history) or misaligned input
      Stream stream(plan, ops, s.channels);
      stream.reserve(s.frames);
      const std::int64_t first = stream.outputs_for_process(s.frames);
      stream.process(in, s.frames, dst);
      stream.flush(dst + first * s.channels);
    }
  }
  return out;
}

// Streaming wrapper. Not for concurrent use from several threads: overlapping calls raise RuntimeError.
class PyResampler {
 public:
  PyResampler(std::int64_t src_rate, std::int64_t dst_rate, std::int64_t channels,
              const std::optional<std::string>& isa)
      : stream_(get_plan(src_rate, dst_rate), ops_for(isa), check_channels(channels)) {}

  py::array process(const FloatArray& x) {
    const Shape s = check_shape(x, stream_.channels());
    Busy busy(busy_);
    last_two_d_ = x.ndim() == 2;
    const std::int64_t n_out = stream_.outputs_for_process(s.frames);
    py::array out = make_output(n_out, s.channels, last_two_d_);
    const float* in = x.data();
    float* dst = static_cast<float*>(out.mutable_data());
    {
      py::gil_scoped_release release;
      stream_.process(in, s.frames, dst);
    }
    return out;
  }

  py::array flush() {
    Busy busy(busy_);
    const std::int64_t n_out = stream_.outputs_for_flush();
    py::array out = make_output(n_out, stream_.channels(), last_two_d_ || stream_.channels() > 1);
    float* dst = static_cast<float*>(out.mutable_data());
    {
      py::gil_scoped_release release;
      stream_.flush(dst);
    }
    last_two_d_ = false;
    return out;
  }

  void reset() {
    Busy busy(busy_);
    stream_.reset();
    last_two_d_ = false;
  }

  const Plan& plan() const { return stream_.plan(); }
  const Stream& stream() const { return stream_; }

 private:
  static std::int64_t check_channels(std::int64_t c) {
    if (c < 1 || c > kMaxChannels)
      throw py::value_error("channels must be in [1, " + std::to_string(kMaxChannels) + "], got " +
                            std::to_string(c));
    return c;
  }
  struct Busy {
    explicit Busy(std::atomic<bool>& f) : flag(f) {
      if (flag.exchange(true))
        throw std::runtime_error("Resampler used from two threads at once; give each stream its own Resampler");
    }
    ~Busy() { flag.store(false); }
    std::atomic<bool>& flag;
  };

  Stream stream_;
  std::atomic<bool> busy_{false};
  bool last_two_d_ = false;
};

py::dict plan_info(const Plan& p) {
  py::dict d;
  d["src_rate"] = p.src_rate;
  d["dst_rate"] = p.dst_rate;
  d["up"] = p.L;
  d["down"] = p.M;
  d["identity"] = p.identity;
  d["taps_per_group"] = p.K;
  d["groups"] = p.G;
  d["half_width_input_samples"] = p.half_width_in;
  d["latency_input_samples"] = p.latency_in;
  d["cutoff"] = p.design.cutoff;
  d["half_width"] = p.design.half_width;
  d["kaiser_beta"] = p.design.beta;
  d["table_bytes"] = p.identity ? 0 : p.table_bytes();
  return d;
}

}  // namespace

void bind_resampler(py::module_& m) {
  m.def("resample", &resample_oneshot, py::arg("x").noconvert(), py::arg("src_rate"), py::arg("dst_rate"),
        py::arg("isa") = py::none(),
        "One-shot resample of float32 (samples,) or (samples, channels); returns ceil(n * dst / src) frames, "
        "time-aligned with the input. isa=None uses the kernels chosen at import.");
  m.def(
      "resample",
      [](const py::object& x, const py::object&, const py::object&, const py::object&) -> py::array {
        raise_bad_array(x);
      },
      py::arg("x"), py::arg("src_rate"), py::arg("dst_rate"), py::arg("isa") = py::none());

  m.def(
      "resample_info",
      [](std::int64_t src_rate, std::int64_t dst_rate) { return plan_info(*get_plan(src_rate, dst_rate)); },
      py::arg("src_rate"), py::arg("dst_rate"), "Filter design and table figures for a rate pair.");

  py::class_<PyResampler>(m, "Resampler")
      .def(py::init<std::int64_t, std::int64_t, std::int64_t, const std::optional<std::string>&>(),
           py::arg("src_rate"), py::arg("dst_rate"), py::arg("channels") = 1, py::arg("isa") = py::none())
      .def("process", &PyResampler::process, py::arg("x").noconvert())
      .def("process",
           [](PyResampler&, const py::object& x) -> py::array { raise_bad_array(x); }, py::arg("x"))
      .def("flush", &PyResampler::flush)
      .def("reset", &PyResampler::reset)
      .def_property_readonly("src_rate", [](const PyResampler& r) { return r.plan().src_rate; })
      .def_property_readonly("dst_rate", [](const PyResampler& r) { return r.plan().dst_rate; })
      .def_property_readonly("channels", [](const PyResampler& r) { return r.stream().channels(); })
      .def_property_readonly("isa", [](const PyResampler& r) { return std::string(r.stream().ops().isa); })
      .def_property_readonly("latency_input_samples", [](const PyResampler& r) { return r.plan().latency_in; })
      .def_property_readonly("input_frames", [](const PyResampler& r) { return r.stream().input_frames(); })
      .def_property_readonly("output_frames", [](const PyResampler& r) { return r.stream().output_frames(); })
      .def_property_readonly("info", [](const PyResampler& r) { return plan_info(r.plan()); });
}

}  // namespace ishowtts
