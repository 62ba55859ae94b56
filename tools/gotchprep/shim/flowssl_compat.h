// Version switches for the parts of libtorch's C++ API that gotch v0.7.0's
// hand-written torch_api.cpp and flowssl's shim use and that libtorch
// changed: autocast became per device type in 2.4 (the CUDA-only and
// CPU-only calls were deprecated, then removed).
#ifndef FLOWSSL_COMPAT_H
#define FLOWSSL_COMPAT_H

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define FLOWSSL_AUTOCAST_BY_DEVICE 1
#endif

static inline bool flowssl_compat_autocast_is_enabled(at::DeviceType d) {
#ifdef FLOWSSL_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
#endif
}

static inline void flowssl_compat_autocast_set_enabled(at::DeviceType d, bool on) {
#ifdef FLOWSSL_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == at::kCPU) {
    at::autocast::set_cpu_enabled(on);
  } else {
    at::autocast::set_enabled(on);
  }
#endif
}

static inline at::ScalarType flowssl_compat_autocast_get_dtype(at::DeviceType d) {
#ifdef FLOWSSL_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(d);
#else
  return d == at::kCPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
#endif
}

static inline void flowssl_compat_autocast_set_dtype(at::DeviceType d, at::ScalarType t) {
#ifdef FLOWSSL_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(d, t);
#else
  if (d == at::kCPU) {
    at::autocast::set_autocast_cpu_dtype(t);
  } else {
    at::autocast::set_autocast_gpu_dtype(t);
  }
#endif
}

#endif
