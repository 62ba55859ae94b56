package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Tensor is a dense CPU tensor as torch.save stores it.
//
// Data holds little-endian elements. With Stride nil they are the Numel elements in
// row-major order; with Stride set, Data is a storage indexed from element 0 by
// Stride (in elements), which lets a writer store a transposed view as is. Tensors
// returned by Read always have Stride nil: views are materialised.
type Tensor struct {
	DType        DType
	Shape        []int64 // empty for a 0-d (scalar) tensor
	Stride       []int64 // nil means contiguous row-major
	Data         []byte
	RequiresGrad bool
}

const maxDims = 64

// numel is the product of shape, or an error when a dimension is negative or the
// product overflows.
func numel(shape []int64) (int64, error) {
	if len(shape) > maxDims {
		return 0, fmt.Errorf("%d dimensions (at most %d)", len(shape), maxDims)
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}

// Numel is the number of elements (1 for a 0-d tensor); 0 if Shape is invalid.
func (t *Tensor) Numel() int64 {
	n, err := numel(t.Shape)
	if err != nil {
		return 0
	}
	return n
}

// contiguousStride is the row-major stride of shape, torch's default.
func contiguousStride(shape []int64) []int64 {
	s := make([]int64, len(shape))
	acc := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		if shape[i] > 1 {
			acc *= shape[i]
		}
	}
	return s
}

// Validate reports whether Shape, Stride and Data are consistent.
func (t *Tensor) Validate() error {
	if !t.DType.valid() {
		return fmt.Errorf("unknown dtype %d", int(t.DType))
	}
	n, err := numel(t.Shape)
	if err != nil {
		return err
	}
	es := int64(t.DType.Size())
	if t.Stride == nil {
		if int64(len(t.Data)) != n*es {
			return fmt.Errorf("%s tensor of shape %v needs %d bytes, has %d", t.DType, t.Shape, n*es, len(t.Data))
		}
		return nil
	}
	need, err := storageSpan(0, t.Shape, t.Stride)
	if err != nil {
		return err
	}
	if need > int64(len(t.Data))/es {
		return fmt.Errorf("%s tensor of shape %v stride %v needs %d elements of storage, has %d",
			t.DType, t.Shape, t.Stride, need, int64(len(t.Data))/es)
	}
	return nil
}

// storageSpan is the number of storage elements a view reaches (0 if it is empty).
func storageSpan(offset int64, shape, stride []int64) (int64, error) {
	if len(shape) != len(stride) {
		return 0, fmt.Errorf("shape %v and stride %v differ in rank", shape, stride)
	}
	n, err := numel(shape)
	if err != nil {
		return 0, err
	}
	if offset < 0 {
		return 0, fmt.Errorf("negative storage offset %d", offset)
	}
	if n == 0 {
		return 0, nil
	}
	last := offset
	for i, d := range shape {
		if stride[i] < 0 {
			return 0, fmt.Errorf("negative stride in %v", stride)
		}
		if stride[i] != 0 && d-1 > (math.MaxInt64-last)/stride[i] {
			return 0, fmt.Errorf("stride %v with shape %v overflows", stride, shape)
		}
		last += (d - 1) * stride[i]
	}
	return last + 1, nil
}

// gather copies the view (offset, shape, stride) of storage into a contiguous buffer.
// The caller has checked the span with storageSpan.
func gather(storage []byte, es int, offset int64, shape, stride []int64) []byte {
	n, _ := numel(shape)
	out := make([]byte, n*int64(es))
	if n == 0 {
		return out
	}
	idx := make([]int64, len(shape))
	pos := offset
	for k := int64(0); k < n; k++ {
		copy(out[k*int64(es):], storage[pos*int64(es):(pos+1)*int64(es)])
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			pos += stride[d]
			if idx[d] < shape[d] {
				break
			}
			pos -= idx[d] * stride[d]
			idx[d] = 0
		}
	}
	return out
}

// Contiguous returns t with Stride nil, copying when t is a strided view.
func (t *Tensor) Contiguous() (*Tensor, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if t.Stride == nil {
		return t, nil
	}
	c := *t
	c.Shape = append([]int64(nil), t.Shape...)
	c.Stride = nil
	c.Data = gather(t.Data, t.DType.Size(), 0, t.Shape, t.Stride)
	return &c, nil
}

// NewTensor wraps little-endian contiguous data (not copied) as a tensor of shape.
func NewTensor(dtype DType, shape []int64, data []byte) (*Tensor, error) {
	t := &Tensor{DType: dtype, Shape: append([]int64(nil), shape...), Data: data}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("new tensor: %w", err)
	}
	return t, nil
}

func checkCount(shape []int64, have int) error {
	n, err := numel(shape)
	if err != nil {
		return err
	}
	if n != int64(have) {
		return fmt.Errorf("shape %v needs %d values, got %d", shape, n, have)
	}
	return nil
}

// FromFloat32 makes a float32 tensor of shape (empty for a 0-d tensor) from vals.
func FromFloat32(shape []int64, vals []float32) (*Tensor, error) {
	if err := checkCount(shape, len(vals)); err != nil {
		return nil, fmt.Errorf("float32 tensor: %w", err)
	}
	b := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return &Tensor{DType: Float32, Shape: append([]int64{}, shape...), Data: b}, nil
}

// FromFloat64 makes a float64 tensor of shape from vals.
func FromFloat64(shape []int64, vals []float64) (*Tensor, error) {
	if err := checkCount(shape, len(vals)); err != nil {
		return nil, fmt.Errorf("float64 tensor: %w", err)
	}
	b := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	}
	return &Tensor{DType: Float64, Shape: append([]int64{}, shape...), Data: b}, nil
}

// FromInt64 makes an int64 tensor of shape from vals.
func FromInt64(shape []int64, vals []int64) (*Tensor, error) {
	if err := checkCount(shape, len(vals)); err != nil {
		return nil, fmt.Errorf("int64 tensor: %w", err)
	}
	b := make([]byte, 8*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return &Tensor{DType: Int64, Shape: append([]int64{}, shape...), Data: b}, nil
}

// elemFloat decodes element i of contiguous data as float64 (exact for every dtype
// except int64 beyond 2^53).
func elemFloat(d DType, b []byte, i int) float64 {
	switch d {
	case Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	case Float64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	case Float16:
		return float64(float16ToFloat32(binary.LittleEndian.Uint16(b[2*i:])))
	case BFloat16:
		return float64(bfloat16ToFloat32(binary.LittleEndian.Uint16(b[2*i:])))
	}
	return float64(elemInt(d, b, i))
}

// elemInt decodes element i of an integer or bool dtype.
func elemInt(d DType, b []byte, i int) int64 {
	switch d {
	case Int64:
		return int64(binary.LittleEndian.Uint64(b[8*i:]))
	case Int32:
		return int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
	case Int16:
		return int64(int16(binary.LittleEndian.Uint16(b[2*i:])))
	case Int8:
		return int64(int8(b[i]))
	case Uint8:
		return int64(b[i])
	case Bool:
		if b[i] != 0 {
			return 1
		}
		return 0
	}
	return int64(elemFloat(d, b, i)) // truncates toward zero like torch's .long()
}

func putElem(d DType, b []byte, i int, f float64, n int64) {
	switch d {
	case Float32:
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(f)))
	case Float64:
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(f))
	case Float16:
		binary.LittleEndian.PutUint16(b[2*i:], float32ToFloat16(float32(f)))
	case BFloat16:
		binary.LittleEndian.PutUint16(b[2*i:], float32ToBFloat16(float32(f)))
	case Int64:
		binary.LittleEndian.PutUint64(b[8*i:], uint64(n))
	case Int32:
		binary.LittleEndian.PutUint32(b[4*i:], uint32(n))
	case Int16:
		binary.LittleEndian.PutUint16(b[2*i:], uint16(n))
	case Int8, Uint8:
		b[i] = byte(n)
	case Bool:
		if n != 0 {
			b[i] = 1
		} else {
			b[i] = 0
		}
	}
}

// contiguousData validates t and returns its elements in row-major order.
func (t *Tensor) contiguousData() ([]byte, int, error) {
	c, err := t.Contiguous()
	if err != nil {
		return nil, 0, err
	}
	return c.Data, int(c.Numel()), nil
}

// Float32s returns the elements in row-major order converted to float32.
func (t *Tensor) Float32s() ([]float32, error) {
	b, n, err := t.contiguousData()
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		if t.DType == Float32 {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		} else {
			out[i] = float32(elemFloat(t.DType, b, i))
		}
	}
	return out, nil
}

// Float64s returns the elements in row-major order converted to float64.
func (t *Tensor) Float64s() ([]float64, error) {
	b, n, err := t.contiguousData()
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = elemFloat(t.DType, b, i)
	}
	return out, nil
}

// ErrNotInteger is returned by Int64s for floating point tensors.
var ErrNotInteger = errors.New("tensor is not of an integer or bool dtype")

// Int64s returns the elements of an integer or bool tensor in row-major order.
func (t *Tensor) Int64s() ([]int64, error) {
	if t.DType.IsFloat() {
		return nil, fmt.Errorf("%s: %w", t.DType, ErrNotInteger)
	}
	b, n, err := t.contiguousData()
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = elemInt(t.DType, b, i)
	}
	return out, nil
}

// Convert returns a contiguous copy of t in dtype, converting as torch's .to(dtype)
// does: round to nearest even for narrower floats, truncation toward zero for
// floats to integers, wrap-around between integer widths, nonzero is true.
func (t *Tensor) Convert(dtype DType) (*Tensor, error) {
	if !dtype.valid() {
		return nil, fmt.Errorf("convert to unknown dtype %d", int(dtype))
	}
	b, n, err := t.contiguousData()
	if err != nil {
		return nil, err
	}
	out := &Tensor{DType: dtype, Shape: append([]int64{}, t.Shape...), Data: make([]byte, n*dtype.Size()), RequiresGrad: t.RequiresGrad}
	for i := 0; i < n; i++ {
		var f float64
		var k int64
		if t.DType.IsFloat() {
			f = elemFloat(t.DType, b, i)
			if dtype == Bool && f != 0 {
				k = 1
			} else if !math.IsNaN(f) && f > -9.3e18 && f < 9.3e18 {
				k = int64(f)
			}
		} else {
			k = elemInt(t.DType, b, i)
			f = float64(k)
		}
		putElem(dtype, out.Data, i, f, k)
	}
	return out, nil
}
