package memory

import (
	"math"
	"runtime"
	"testing"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func lock(t *testing.T) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

func tensor(t *testing.T, data []float32, shape ...int64) *ts.Tensor {
	t.Helper()
	x, err := torchx.FromFloat32s(data, shape...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Drop() })
	return x
}

func values(t *testing.T, x *ts.Tensor) []float64 {
	t.Helper()
	v, err := torchx.Float64s(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// unit is v/(‖v‖ + add), or v/max(‖v‖, 1e-12) when add is 0.
func unit(v []float64, add float64) []float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	n := math.Sqrt(s)
	if add > 0 {
		n += add
	} else {
		n = math.Max(n, 1e-12)
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x / n
	}
	return out
}

func close(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// testDevice is where the memories under test live: the GPU when libtorch
// sees one (inputs stay on the CPU, exercising the moves), else the CPU.
var testDevice = gotch.CudaIfAvailable()
