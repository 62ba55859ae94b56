// flowssl's additions to gotch's C layer; see flowssl_shim.h.
#include <torch/torch.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "flowssl_compat.h"
#include "flowssl_shim.h"

// gotchprep passes -DFLOWSSL_CUDA=1 when it links libtorch_cuda.
#if defined(FLOWSSL_CUDA) && FLOWSSL_CUDA
#define FLOWSSL_FLAVOUR "cuda"
#else
#define FLOWSSL_FLAVOUR "cpu"
#endif

namespace {

char *fail(const char *msg) { return strdup(msg); }

// guard runs f and turns a C++ exception into the returned message.
template <typename F> char *guard(F f) {
  try {
    f();
    return nullptr;
  } catch (const std::exception &e) {
    return fail(e.what());
  } catch (...) {
    return fail("flowssl shim: unknown C++ exception");
  }
}

at::DeviceType device_of(int d) {
  switch (d) {
  case 0:
    return at::kCPU;
  case 1:
    return at::kCUDA;
  }
  throw std::invalid_argument("flowssl autocast: device must be 0 (cpu) or 1 (cuda), got " + std::to_string(d));
}

at::MemoryFormat format_of(int f) {
  switch (f) {
  case 0:
    return at::MemoryFormat::Contiguous;
  case 1:
    return at::MemoryFormat::ChannelsLast;
  }
  throw std::invalid_argument("flowssl: memory format must be 0 (contiguous) or 1 (channels_last), got " + std::to_string(f));
}

} // namespace

extern "C" {

char *flowssl_autocast_set_enabled(int device, int enabled, int *prev) {
  return guard([&] {
    auto d = device_of(device);
    *prev = flowssl_compat_autocast_is_enabled(d) ? 1 : 0;
    flowssl_compat_autocast_set_enabled(d, enabled != 0);
  });
}

char *flowssl_autocast_is_enabled(int device, int *out) {
  return guard([&] { *out = flowssl_compat_autocast_is_enabled(device_of(device)) ? 1 : 0; });
}

char *flowssl_autocast_set_dtype(int device, int dtype, int *prev) {
  return guard([&] {
    auto d = device_of(device);
    auto t = static_cast<at::ScalarType>(dtype);
    if (t != at::kHalf && t != at::kBFloat16 && t != at::kFloat) {
      throw std::invalid_argument("flowssl autocast: dtype must be Half, BFloat16 or Float, got code " + std::to_string(dtype));
    }
    *prev = static_cast<int>(flowssl_compat_autocast_get_dtype(d));
    flowssl_compat_autocast_set_dtype(d, t);
  });
}

char *flowssl_autocast_get_dtype(int device, int *out) {
  return guard([&] { *out = static_cast<int>(flowssl_compat_autocast_get_dtype(device_of(device))); });
}

char *flowssl_autocast_increment_nesting(int *depth) {
  return guard([&] { *depth = at::autocast::increment_nesting(); });
}

char *flowssl_autocast_decrement_nesting(int *depth) {
  return guard([&] { *depth = at::autocast::decrement_nesting(); });
}

char *flowssl_autocast_clear_cache(void) {
  return guard([&] { at::autocast::clear_cache(); });
}

char *flowssl_contiguous(void *t, int memory_format, void **out) {
  return guard([&] {
    auto *x = static_cast<torch::Tensor *>(t);
    *out = new torch::Tensor(x->contiguous(format_of(memory_format)));
  });
}

char *flowssl_is_contiguous(void *t, int memory_format, int *out) {
  return guard([&] {
    auto *x = static_cast<torch::Tensor *>(t);
    *out = x->is_contiguous(format_of(memory_format)) ? 1 : 0;
  });
}

char *flowssl_set_data(void *t, void *src) {
  return guard([&] {
    auto *x = static_cast<torch::Tensor *>(t);
    x->set_data(*static_cast<torch::Tensor *>(src));
  });
}

char *flowssl_cuda_synchronize(int device) {
  return guard([&] {
    if (!torch::cuda::is_available()) {
      throw std::runtime_error("CUDA not available in this libtorch (" TORCH_VERSION " " FLOWSSL_FLAVOUR ")");
    }
    torch::cuda::synchronize(device);
  });
}

const char *flowssl_build_info(void) { return TORCH_VERSION " " FLOWSSL_FLAVOUR; }

} // extern "C"
