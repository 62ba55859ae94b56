package checkpoint

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTensorContiguous(t *testing.T) {
	// storage 0..11 as a 3x4 matrix; views as torch would describe them.
	st := make([]float32, 12)
	for i := range st {
		st[i] = float32(i)
	}
	base, _ := FromFloat32([]int64{12}, st)
	for _, tc := range []struct {
		name          string
		shape, stride []int64
		want          []float32
	}{
		{"transpose", []int64{4, 3}, []int64{1, 4}, []float32{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}},
		{"column", []int64{3}, []int64{4}, []float32{0, 4, 8}},
		{"expand", []int64{2, 3}, []int64{0, 1}, []float32{0, 1, 2, 0, 1, 2}},
		{"scalar", []int64{}, []int64{}, []float32{0}},
		{"empty", []int64{0, 5}, []int64{5, 1}, []float32{}},
	} {
		v := &Tensor{DType: Float32, Shape: tc.shape, Stride: tc.stride, Data: base.Data}
		c, err := v.Contiguous()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, _ := c.Float32s()
		if c.Stride != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v (stride %v), want %v", tc.name, got, c.Stride, tc.want)
		}
	}
}

func TestTensorValidate(t *testing.T) {
	four := make([]byte, 16)
	for _, tc := range []struct {
		name string
		t    Tensor
		msg  string
	}{
		{"short data", Tensor{DType: Float32, Shape: []int64{5}, Data: four}, "needs 20 bytes"},
		{"negative dim", Tensor{DType: Float32, Shape: []int64{-1}, Data: four}, "negative dimension"},
		{"overflow", Tensor{DType: Float32, Shape: []int64{1 << 40, 1 << 40}, Data: four}, "overflows"},
		{"stride rank", Tensor{DType: Float32, Shape: []int64{2}, Stride: []int64{1, 1}, Data: four}, "rank"},
		{"stride reach", Tensor{DType: Float32, Shape: []int64{2, 2}, Stride: []int64{3, 1}, Data: four}, "needs 5 elements"},
		{"negative stride", Tensor{DType: Float32, Shape: []int64{2}, Stride: []int64{-1}, Data: four}, "negative stride"},
		{"bad dtype", Tensor{DType: 42, Data: four}, "unknown dtype"},
	} {
		err := tc.t.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.msg)
		}
	}
	if _, err := FromFloat32([]int64{2, 2}, []float32{1, 2, 3}); err == nil {
		t.Error("FromFloat32 accepted 3 values for shape [2 2]")
	}
}

func TestTensorConvert(t *testing.T) {
	f, _ := FromFloat32([]int64{5}, []float32{-1.7, 0, 2.9, 300, 0.5})
	for _, tc := range []struct {
		to   DType
		want []int64
	}{
		{Int64, []int64{-1, 0, 2, 300, 0}}, // truncation toward zero
		{Uint8, []int64{255, 0, 2, 44, 0}}, // wrap-around
		{Bool, []int64{1, 0, 1, 1, 1}},
	} {
		c, err := f.Convert(tc.to)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Int64s()
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("to %s: %v %v, want %v", tc.to, got, err, tc.want)
		}
	}
	if _, err := f.Int64s(); !errors.Is(err, ErrNotInteger) {
		t.Errorf("Int64s of float32: %v", err)
	}
	i, _ := FromInt64([]int64{2}, []int64{1 << 40, -3})
	h, _ := i.Convert(Float64)
	if got, _ := h.Float64s(); !reflect.DeepEqual(got, []float64{1 << 40, -3}) {
		t.Errorf("int64 -> float64: %v", got)
	}
}
