// Python binding of the CPU attention kernel: _native.masked_attention_bf16 and _native.has_avx512_bf16.
//
// Inputs are numpy views of torch bf16 tensors (uint16, the same bits): q, k, v and out (B, N, H, 64),
// key_bias float32 (B, N) or None; every array C-contiguous and aligned, checked here with a TypeError /
// ValueError that names the argument (nothing is copied or converted). The kernel runs with the GIL released.
// The Python face, with the torch side, is ishowtts.model.cpu_attention.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "attention/attention.h"
#include "bindings.h"
#include "cpu/cpu_features.h"

namespace py = pybind11;

namespace ishowtts {
namespace attention {

bool has_avx512_bf16() {
#if defined(ISHOWTTS_HAVE_AVX512BF16)
  return cpu::has_avx512_bf16();
#else
  return false;  // the kernel is not compiled in (not x86-64, or the compiler lacks -mavx512bf16)
#endif
}

#if !defined(ISHOWTTS_HAVE_AVX512BF16)
void attend_slice_avx512(const SliceArgs&) { throw std::runtime_error("no AVX512-BF16 attention in this build"); }
#endif

}  // namespace attention

namespace {

using U16 = py::array_t<uint16_t, py::array::c_style>;
using F32 = py::array_t<float, py::array::c_style>;

template <class A>
A checked(py::handle x, const char* name, const char* what) {
  if (!A::check_(x)) {
    throw py::type_error(std::string(name) + " must be a C-contiguous " + what +
                         " numpy array (a torch tensor's .contiguous().view(torch.uint16).numpy() for bf16)");
  }
  auto a = py::reinterpret_borrow<A>(x);
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
    throw py::type_error(std::string(name) + " is not aligned");
  }
  return a;
}

// The B * H slices split over `threads` threads (the caller's included), each with its own workspace.
void run(const uint16_t* q, const uint16_t* k, const uint16_t* v, const float* key_bias, uint16_t* out, int batch,
         int frames, int heads, float scale, int threads) {
  using attention::kHeadDim;
  const int np = (frames + attention::kFrameStep - 1) / attention::kFrameStep * attention::kFrameStep;
  const long row = static_cast<long>(heads) * kHeadDim, per_batch = row * frames;
  const int slices = batch * heads;
  threads = std::max(1, std::min(threads, slices));
  auto work = [&](int t) {
    std::vector<uint16_t> kp(static_cast<size_t>(np) * kHeadDim), vp(kp.size());
    std::vector<float> bias(np), scores(static_cast<size_t>(attention::kRowBlock) * np);
    std::vector<uint16_t> probs(scores.size());
    for (int bh = t; bh < slices; bh += threads) {
      const int b = bh / heads, h = bh % heads;
      const long base = b * per_batch + static_cast<long>(h) * kHeadDim;
      const attention::SliceArgs args{q + base, k + base, v + base,
                                      key_bias != nullptr ? key_bias + static_cast<long>(b) * frames : nullptr,
                                      out + base, frames, heads, scale, np, kp.data(), vp.data(), bias.data(),
                                      scores.data(), probs.data()};
      attention::attend_slice_avx512(args);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& th : pool) th.join();
}

void masked_attention_bf16(py::handle q_, py::handle k_, py::handle v_, py::handle key_bias_, py::handle out_,
                           float scale, int threads) {
  if (!attention::has_avx512_bf16()) {
    throw std::runtime_error("masked_attention_bf16 needs AVX512-BF16 (check has_avx512_bf16() first)");
  }
  const U16 q = checked<U16>(q_, "q", "uint16"), k = checked<U16>(k_, "k", "uint16"),
            v = checked<U16>(v_, "v", "uint16");
  U16 out = checked<U16>(out_, "out", "uint16");
  if (q.ndim() != 4 || q.shape(3) != attention::kHeadDim) {
    throw py::value_error("q must be shaped (batch, frames, heads, 64)");
  }
  for (const U16* a : {&k, &v, static_cast<const U16*>(&out)}) {
    if (a->ndim() != 4 || !std::equal(q.shape(), q.shape() + 4, a->shape())) {
      throw py::value_error("q, k, v and out must have the same shape (batch, frames, heads, 64)");
    }
  }
  if (!out.writeable()) throw py::value_error("out must be writable");
  const int batch = static_cast<int>(q.shape(0)), frames = static_cast<int>(q.shape(1)),
            heads = static_cast<int>(q.shape(2));
  const float* bias = nullptr;
  F32 key_bias;
  if (!key_bias_.is_none()) {
    key_bias = checked<F32>(key_bias_, "key_bias", "float32");
    if (key_bias.ndim() != 2 || key_bias.shape(0) != batch || key_bias.shape(1) != frames) {
      throw py::value_error("key_bias must be shaped (batch, frames)");
    }
    bias = key_bias.data();
  }
  if (threads < 1) throw py::value_error("threads must be >= 1");
  if (batch == 0 || frames == 0 || heads == 0) return;
  const uint16_t *qp = q.data(), *kp = k.data(), *vp = v.data();
  uint16_t* op = out.mutable_data();
  py::gil_scoped_release release;
  run(qp, kp, vp, bias, op, batch, frames, heads, scale, threads);
}

}  // namespace

void bind_attention(py::module_& m) {
  m.def("has_avx512_bf16", &attention::has_avx512_bf16,
        "The AVX512-BF16 attention kernel is compiled in and this CPU runs it (False under ISHOWTTS_FORCE_SCALAR).");
  m.def("masked_attention_bf16", &masked_attention_bf16, py::arg("q"), py::arg("k"), py::arg("v"),
        py::arg("key_bias"), py::arg("out"), py::arg("scale"), py::arg("threads"),
        "out = softmax(scale * q k^T + key_bias) v per (batch, head); bf16 bits as uint16 (B, N, H, 64).");
}

}  // namespace ishowtts
