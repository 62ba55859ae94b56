package torchx

import (
	"fmt"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// FromFloat32s copies data into a new float32 CPU tensor of the given shape
// (one memcpy, unlike ts.OfSlice's per-element encoding).
func FromFloat32s(data []float32, shape ...int64) (*ts.Tensor, error) {
	if err := checkLen(len(data), shape); err != nil {
		return nil, err
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	return ofData(p, shape, 4, gotch.Float)
}

// FromInt64s copies data into a new int64 CPU tensor of the given shape.
func FromInt64s(data []int64, shape ...int64) (*ts.Tensor, error) {
	if err := checkLen(len(data), shape); err != nil {
		return nil, err
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	return ofData(p, shape, 8, gotch.Int64)
}

// FromUint8s copies data into a new uint8 CPU tensor of the given shape.
func FromUint8s(data []uint8, shape ...int64) (*ts.Tensor, error) {
	if err := checkLen(len(data), shape); err != nil {
		return nil, err
	}
	var p unsafe.Pointer
	if len(data) > 0 {
		p = unsafe.Pointer(&data[0])
	}
	return ofData(p, shape, 1, gotch.Uint8)
}

// FromInt64sOn is FromInt64s followed by a move to device.
func FromInt64sOn(data []int64, device gotch.Device, shape ...int64) (*ts.Tensor, error) {
	t, err := FromInt64s(data, shape...)
	if err != nil || device == gotch.CPU {
		return t, err
	}
	defer t.Drop()
	return t.To(device, false)
}

// FromFloat32sOn is FromFloat32s followed by a move to device.
func FromFloat32sOn(data []float32, device gotch.Device, shape ...int64) (*ts.Tensor, error) {
	t, err := FromFloat32s(data, shape...)
	if err != nil || device == gotch.CPU {
		return t, err
	}
	defer t.Drop()
	return t.To(device, false)
}

func checkLen(n int, shape []int64) error {
	want := int64(1)
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("torchx: negative dim in shape %v", shape)
		}
		want *= d
	}
	if int64(n) != want {
		return fmt.Errorf("torchx: %d values for shape %v (%d elements)", n, shape, want)
	}
	return nil
}

func ofData(p unsafe.Pointer, shape []int64, elt uint, kind gotch.DType) (*ts.Tensor, error) {
	if len(shape) == 0 {
		return nil, fmt.Errorf("torchx: empty shape")
	}
	if p == nil {
		return ts.Zeros(shape, kind, gotch.CPU)
	}
	ci, err := gotch.DType2CInt(kind)
	if err != nil {
		return nil, err
	}
	c := lib.AtTensorOfData(p, shape, uint(len(shape)), elt, int(ci))
	if err := ts.TorchErr(); err != nil {
		return nil, fmt.Errorf("torchx: tensor of data: %w", err)
	}
	return ts.FromCtensor(unsafe.Pointer(c)), nil
}

// Float32s returns t's elements (any dtype, any device) as float32 in
// row-major order.
func Float32s(t *ts.Tensor) ([]float32, error) {
	c, err := t.Totype(gotch.Float, false)
	if err != nil {
		return nil, err
	}
	defer c.Drop()
	out := make([]float32, c.Numel())
	if err := CopyOut(c, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Float64s returns t's elements as float64.
func Float64s(t *ts.Tensor) ([]float64, error) {
	c, err := t.Totype(gotch.Double, false)
	if err != nil {
		return nil, err
	}
	defer c.Drop()
	out := make([]float64, c.Numel())
	if err := CopyOut(c, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Int64s returns t's elements as int64.
func Int64s(t *ts.Tensor) ([]int64, error) {
	c, err := t.Totype(gotch.Int64, false)
	if err != nil {
		return nil, err
	}
	defer c.Drop()
	out := make([]int64, c.Numel())
	if err := CopyOut(c, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CopyOut copies t's first len(dst) elements into dst with one memcpy
// (through a contiguous CPU copy when t is neither). t's dtype must have
// T's size (float32 for Float, int64 for Int64, ...); libtorch refuses a
// size mismatch with an error. gotch's CopyData and *Values first walk the
// destination element by element through reflection (ts.DataCheck), which
// costs far more than the copy.
func CopyOut[T uint8 | int32 | int64 | float32 | float64](t *ts.Tensor, dst []T) error {
	if len(dst) == 0 {
		return nil
	}
	var zero T
	lib.AtCopyData(lib.Ctensor(t.Ctensor()), unsafe.Pointer(&dst[0]), uint(len(dst)), uint(unsafe.Sizeof(zero)))
	if err := ts.TorchErr(); err != nil {
		return fmt.Errorf("torchx: copy data: %w", err)
	}
	return nil
}

// Copy copies src into dst in place (broadcasting, casting and moving
// across devices as torch's copy_ does), returning gotch's error instead of
// calling log.Fatal as ts.Tensor.Copy_ does.
func Copy(dst, src *ts.Tensor) error {
	lib.AtCopy_(lib.Ctensor(dst.Ctensor()), lib.Ctensor(src.Ctensor()))
	if err := ts.TorchErr(); err != nil {
		return fmt.Errorf("torchx: copy_: %w", err)
	}
	return nil
}

// Undefined returns an undefined tensor, gotch's way of passing None for an
// optional tensor argument (e.g. Bincount's weights). Drop it after use.
func Undefined() *ts.Tensor { return ts.NewTensor() }

// Float32s is Float32s inside a Run.
func (s *Scope) Float32s(t *ts.Tensor) []float32 {
	v, err := Float32s(t)
	s.Check(err)
	return v
}

// Float64s is Float64s inside a Run.
func (s *Scope) Float64s(t *ts.Tensor) []float64 {
	v, err := Float64s(t)
	s.Check(err)
	return v
}

// Int64s is Int64s inside a Run.
func (s *Scope) Int64s(t *ts.Tensor) []int64 {
	v, err := Int64s(t)
	s.Check(err)
	return v
}

// Scalar returns the single element of t as float64.
func (s *Scope) Scalar(t *ts.Tensor) float64 {
	v := s.Float64s(t)
	if len(v) != 1 {
		s.Fail("torchx: scalar of a %d-element tensor", len(v))
	}
	return v[0]
}

// Shape returns t's sizes.
func (s *Scope) Shape(t *ts.Tensor) []int64 {
	d, err := t.Size()
	s.Check(err)
	return d
}

// Clone returns a new tensor with t's values, dtype and device, sharing no
// storage and not requiring grad (gotch v0.7.0 has no clone).
func Clone(t *ts.Tensor) (*ts.Tensor, error) {
	out, err := t.ZerosLike(false)
	if err != nil {
		return nil, err
	}
	if err := Copy(out, t); err != nil {
		_ = out.Drop()
		return nil, err
	}
	return out, nil
}
