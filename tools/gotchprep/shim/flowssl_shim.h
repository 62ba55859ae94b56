// flowssl's additions to gotch's C layer (tools/gotchprep copies this file
// into every prepared libtch and into libflowssl_tch.so). Every function
// returns NULL on success or a malloc'd message the caller frees, so the
// shim does not depend on gotch's thread-local error slot.
#ifndef FLOWSSL_SHIM_H
#define FLOWSSL_SHIM_H

#ifdef __cplusplus
extern "C" {
#endif

// Device kinds for autocast: 0 = CPU, 1 = CUDA.
char *flowssl_autocast_set_enabled(int device, int enabled, int *prev);
char *flowssl_autocast_is_enabled(int device, int *out);
// dtype is a c10::ScalarType code (5 = Half, 6 = Float, 15 = BFloat16).
char *flowssl_autocast_set_dtype(int device, int dtype, int *prev);
char *flowssl_autocast_get_dtype(int device, int *out);
char *flowssl_autocast_increment_nesting(int *depth);
char *flowssl_autocast_decrement_nesting(int *depth);
char *flowssl_autocast_clear_cache(void);

// memory_format: 0 = contiguous, 1 = channels_last.
char *flowssl_contiguous(void *t, int memory_format, void **out);
char *flowssl_is_contiguous(void *t, int memory_format, int *out);
// param.data = src: swaps a parameter's storage, keeping its identity.
char *flowssl_set_data(void *t, void *src);
// Waits for every kernel queued on the CUDA device (-1: current).
char *flowssl_cuda_synchronize(int device);
// Compiled-in libtorch version and flavour, e.g. "2.11.0 cuda".
const char *flowssl_build_info(void);

#ifdef __cplusplus
}
#endif
#endif
