package model

/*
#include <stdlib.h>
// flowssl's shim (tools/gotchprep/shim), compiled into gotch's libtch in
// the cgo link mode and into libflowssl_tch.so in the shared one. Each
// returns NULL or a malloc'd error message.
char *flowssl_autocast_set_enabled(int device, int enabled, int *prev);
char *flowssl_autocast_is_enabled(int device, int *out);
char *flowssl_autocast_set_dtype(int device, int dtype, int *prev);
char *flowssl_autocast_get_dtype(int device, int *out);
char *flowssl_autocast_increment_nesting(int *depth);
char *flowssl_autocast_decrement_nesting(int *depth);
char *flowssl_autocast_clear_cache(void);
char *flowssl_contiguous(void *t, int memory_format, void **out);
char *flowssl_is_contiguous(void *t, int memory_format, int *out);
char *flowssl_set_data(void *t, void *src);
char *flowssl_cuda_synchronize(int device);
const char *flowssl_build_info(void);
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// c10::ScalarType codes. gotch v0.7.0's DType cannot name half or bfloat16
// (its Half is Float) and Tensor.DType() ends the process on them, so mixed
// precision code reads and casts through these codes instead.
const (
	ScalarHalf     = 5
	ScalarFloat    = 6
	ScalarDouble   = 7
	ScalarBFloat16 = 15
)

// Precision is a mixed-precision mode: the dtype autocast runs its
// lower-precision ops in.
type Precision int

const (
	// PrecisionFP32 runs everything in float32 (no autocast).
	PrecisionFP32 Precision = iota
	// PrecisionFP16 is torch.cuda.amp's float16 autocast; it needs loss
	// scaling and CUDA.
	PrecisionFP16
	// PrecisionBF16 autocasts to bfloat16 (CPU or CUDA); its float32-sized
	// exponent makes loss scaling unnecessary.
	PrecisionBF16
)

// ParsePrecision reads --amp: "", "off" or "fp32"; "fp16"; "bf16".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "off", "fp32":
		return PrecisionFP32, nil
	case "fp16":
		return PrecisionFP16, nil
	case "bf16":
		return PrecisionBF16, nil
	}
	return PrecisionFP32, fmt.Errorf("precision %q: want off, fp16 or bf16", s)
}

func (p Precision) String() string {
	switch p {
	case PrecisionFP16:
		return "fp16"
	case PrecisionBF16:
		return "bf16"
	}
	return "fp32"
}

// ScalarType is the c10::ScalarType code autocast casts to.
func (p Precision) ScalarType() int {
	switch p {
	case PrecisionFP16:
		return ScalarHalf
	case PrecisionBF16:
		return ScalarBFloat16
	}
	return ScalarFloat
}

// shimErr turns a shim result into an error (and frees the message).
func shimErr(op string, msg *C.char) error {
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return fmt.Errorf("%s: %s", op, C.GoString(msg))
}

// autocastDevice maps a device to the shim's device kind.
func autocastDevice(d gotch.Device) C.int {
	if d.IsCuda() {
		return 1
	}
	return 0
}

// CheckAutocast reports whether p can run on d with this libtorch: fp16
// autocast exists only for CUDA (libtorch 1.13's CPU autocast is bfloat16
// only), and CUDA needs a CUDA libtorch.
func CheckAutocast(d gotch.Device, p Precision) error {
	if d.IsCuda() {
		return CheckCUDA(d)
	}
	if p == PrecisionFP16 {
		return errors.New("fp16 autocast needs a CUDA device; on the CPU use bf16")
	}
	return nil
}

// CheckCUDA returns an error unless libtorch sees device d.
func CheckCUDA(d gotch.Device) error {
	if !d.IsCuda() {
		return nil
	}
	n := gotch.CUDA.DeviceCount()
	if n == 0 {
		return fmt.Errorf("cuda:%d: CUDA not available in this libtorch (%s)", d.Value, LibraryInfo())
	}
	if int64(d.Value) >= n {
		return fmt.Errorf("cuda:%d: libtorch sees %d CUDA devices", d.Value, n)
	}
	return nil
}

// LibraryInfo is the libtorch version and flavour the C++ layer was built
// against, e.g. "2.11.0 cuda" (in the shared link mode, the library found
// at run time, not the one the binary was linked with).
func LibraryInfo() string { return C.GoString(C.flowssl_build_info()) }

// WithAutocast runs fn with autocast on for d's device kind in p's dtype on
// the calling OS thread, as `with torch.autocast(device_type, dtype):`
// does: ops on autocast's lower-precision list (convolutions, linear,
// matmul) run in p's dtype, those on its float32 list (losses, softmax,
// norms) in float32. On exit the previous state is restored and, at the
// outermost level, the cast-weight cache is cleared. PrecisionFP32 runs fn
// unchanged. Call it on a pinned thread: autocast state is per thread.
func WithAutocast(d gotch.Device, p Precision, fn func() error) (err error) {
	if p == PrecisionFP32 {
		return fn()
	}
	if err := CheckAutocast(d, p); err != nil {
		return err
	}
	dev := autocastDevice(d)
	var prevOn, prevDtype, depth C.int
	if err := shimErr("autocast: set dtype", C.flowssl_autocast_set_dtype(dev, C.int(p.ScalarType()), &prevDtype)); err != nil {
		return err
	}
	if err := shimErr("autocast: enable", C.flowssl_autocast_set_enabled(dev, 1, &prevOn)); err != nil {
		var ignored C.int
		_ = shimErr("", C.flowssl_autocast_set_dtype(dev, prevDtype, &ignored))
		return err
	}
	if err := shimErr("autocast: nesting", C.flowssl_autocast_increment_nesting(&depth)); err != nil {
		return err
	}
	defer func() {
		var ignored C.int
		errs := []error{shimErr("autocast: nesting", C.flowssl_autocast_decrement_nesting(&depth))}
		if depth == 0 {
			errs = append(errs, shimErr("autocast: clear cache", C.flowssl_autocast_clear_cache()))
		}
		errs = append(errs,
			shimErr("autocast: restore", C.flowssl_autocast_set_enabled(dev, prevOn, &ignored)),
			shimErr("autocast: restore dtype", C.flowssl_autocast_set_dtype(dev, prevDtype, &ignored)))
		if e := errors.Join(errs...); e != nil && err == nil {
			err = e
		}
	}()
	return fn()
}

// AutocastEnabled reports whether autocast is on for d's kind on this thread.
func AutocastEnabled(d gotch.Device) (bool, error) {
	var on C.int
	err := shimErr("autocast: is enabled", C.flowssl_autocast_is_enabled(autocastDevice(d), &on))
	return on != 0, err
}

// ScalarTypeOf is t's c10::ScalarType code (safe for half and bfloat16,
// unlike t.DType()).
func ScalarTypeOf(t *ts.Tensor) int {
	return int(lib.AtScalarType(lib.Ctensor(t.Ctensor())))
}

// ToScalarType returns t cast to the c10::ScalarType code st (a new tensor,
// also when t already has that type).
func ToScalarType(t *ts.Tensor, st int) (*ts.Tensor, error) {
	ptr := (*lib.Ctensor)(C.malloc(C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(ptr))
	lib.AtgToDtype(ptr, lib.Ctensor(t.Ctensor()), int32(st), 0, 1)
	if err := ts.TorchErr(); err != nil {
		return nil, fmt.Errorf("cast to scalar type %d: %w", st, err)
	}
	return ts.FromCtensor(unsafe.Pointer(*ptr)), nil
}

// ChannelsLast returns a copy of the 4-D tensor t laid out NHWC in memory
// (shape and values unchanged), torch.channels_last: cuDNN's tensor-core
// convolutions run without transposes on it.
func ChannelsLast(t *ts.Tensor) (*ts.Tensor, error) {
	var out unsafe.Pointer
	if err := shimErr("channels_last", C.flowssl_contiguous(t.Ctensor(), 1, &out)); err != nil {
		return nil, err
	}
	return ts.FromCtensor(out), nil
}

// IsChannelsLast reports whether t is laid out NHWC.
func IsChannelsLast(t *ts.Tensor) (bool, error) {
	var on C.int
	err := shimErr("is_contiguous(channels_last)", C.flowssl_is_contiguous(t.Ctensor(), 1, &on))
	return on != 0, err
}

// ParamsToChannelsLast re-lays every 4-D parameter (convolution weights)
// NHWC in place, keeping the parameter tensors themselves (optimizers hold
// them), as model.to(memory_format=torch.channels_last) does.
func ParamsToChannelsLast(params []Param) error {
	return WithoutGrad(func() error {
		for _, p := range params {
			if p.T.Dim() != 4 {
				continue
			}
			nhwc, err := ChannelsLast(p.T)
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
			err = shimErr("set_data", C.flowssl_set_data(p.T.Ctensor(), nhwc.Ctensor()))
			nhwc.MustDrop()
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		return nil
	})
}

// CUDASynchronize waits for every kernel queued on d (timing needs it:
// CUDA calls return before the work is done).
func CUDASynchronize(d gotch.Device) error {
	if !d.IsCuda() {
		return nil
	}
	return shimErr("cuda synchronize", C.flowssl_cuda_synchronize(C.int(d.Value)))
}

// ToDeviceAsync copies a host tensor to d the way a pin_memory DataLoader
// feeds a GPU: into page-locked memory, then a non_blocking copy that the
// CUDA stream runs while the host goes on queueing the step's kernels. On
// the CPU it returns a shallow copy (same storage).
func ToDeviceAsync(t *ts.Tensor, d gotch.Device) (*ts.Tensor, error) {
	if !d.IsCuda() {
		return t.ShallowClone()
	}
	pinned, err := t.PinMemory(d, false)
	if err != nil {
		return nil, fmt.Errorf("pin_memory: %w", err)
	}
	defer pinned.MustDrop()
	ptr := (*lib.Ctensor)(C.malloc(C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(ptr))
	// The raw binding keeps the tensor's own dtype, which gotch's DType
	// cannot always name.
	lib.AtgToDevice(ptr, lib.Ctensor(pinned.Ctensor()), int32(d.CInt()), int32(ScalarTypeOf(t)), 1, 0)
	if err := ts.TorchErr(); err != nil {
		return nil, fmt.Errorf("copy to cuda:%d: %w", d.Value, err)
	}
	return ts.FromCtensor(unsafe.Pointer(*ptr)), nil
}
