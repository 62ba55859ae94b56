package torchx

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func lock(t *testing.T) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

func TestRoundTrip(t *testing.T) {
	lock(t)
	x, err := FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	if d := x.MustSize(); d[0] != 2 || d[1] != 3 {
		t.Fatalf("shape %v", d)
	}
	v, err := Float64s(x)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{1, 2, 3, 4, 5, 6} {
		if v[i] != w {
			t.Fatalf("value %d = %g, want %g", i, v[i], w)
		}
	}
	y, err := FromInt64s([]int64{7, -8}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Drop()
	iv, _ := Int64s(y)
	if iv[0] != 7 || iv[1] != -8 || y.DType() != gotch.Int64 {
		t.Fatalf("int64 round trip %v %v", iv, y.DType())
	}
	if _, err := FromFloat32s([]float32{1}, 2); err == nil {
		t.Fatal("length mismatch accepted")
	}
}

// TestRunErrors: a gotch error raised inside Run comes back as an error
// (no log.Fatal) and a shape error names the reason.
func TestRunErrors(t *testing.T) {
	lock(t)
	err := Run(func(s *Scope) error {
		a := s.T(ts.Ones([]int64{2, 3}, gotch.Float, gotch.CPU))
		b := s.T(ts.Ones([]int64{2, 3}, gotch.Float, gotch.CPU))
		s.T(a.Mm(b, false)) // 2×3 · 2×3: shape error
		t.Fatal("not reached")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "mat") {
		t.Fatalf("got %v, want a matmul shape error", err)
	}
	sentinel := errors.New("boom")
	if err := Run(func(s *Scope) error { return sentinel }); !errors.Is(err, sentinel) {
		t.Fatalf("got %v", err)
	}
	if err := Run(func(s *Scope) error { panic("x") }); err == nil {
		t.Fatal("panic not turned into error")
	}
}

// TestRunKeeps: kept tensors survive and hold the right value; the rest are
// dropped (Live counts them before the end).
func TestRunKeeps(t *testing.T) {
	lock(t)
	var out *ts.Tensor
	err := Run(func(s *Scope) error {
		a := s.T(ts.Ones([]int64{3}, gotch.Float, gotch.CPU))
		b := s.T(a.MulScalar(s.Float(2), false))
		c := s.T(b.Sum(gotch.Float, false))
		if s.Live() != 3 {
			t.Fatalf("live %d, want 3", s.Live())
		}
		s.Drop(a)
		if s.Live() != 2 {
			t.Fatalf("live after Drop %d, want 2", s.Live())
		}
		out = s.Keep(c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Drop()
	v, _ := Float64s(out)
	if v[0] != 6 {
		t.Fatalf("sum = %v, want 6", v)
	}
}

func TestWithoutGradRestores(t *testing.T) {
	lock(t)
	for _, on := range []bool{true, false} {
		if _, err := SetGradMode(on); err != nil {
			t.Fatal(err)
		}
		_ = WithoutGrad(func() error {
			if prev, _ := SetGradMode(false); prev {
				t.Error("grad on inside WithoutGrad")
			}
			return errors.New("fail")
		})
		prev, err := SetGradMode(true)
		if err != nil {
			t.Fatal(err)
		}
		if prev != on {
			t.Fatalf("grad mode after WithoutGrad = %v, want %v", prev, on)
		}
	}
}

func TestCopy(t *testing.T) {
	lock(t)
	dst := ts.MustZeros([]int64{2}, gotch.Float, gotch.CPU)
	defer dst.Drop()
	src, _ := FromFloat32s([]float32{3, 4}, 2)
	defer src.Drop()
	if err := Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	v, _ := Float64s(dst)
	if v[0] != 3 || v[1] != 4 {
		t.Fatalf("copy %v", v)
	}
	bad, _ := FromFloat32s([]float32{1, 2, 3}, 3)
	defer bad.Drop()
	if err := Copy(dst, bad); err == nil {
		t.Fatal("shape mismatch accepted")
	}
}

// TestCopyOutAndFromUint8s: the memcpy paths give back every element in
// row-major order, read non-contiguous tensors through a contiguous copy,
// and refuse a destination whose element size is not the tensor's.
func TestCopyOutAndFromUint8s(t *testing.T) {
	lock(t)
	m, err := FromUint8s([]uint8{0, 1, 255, 7, 8, 9}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Drop()
	if m.DType() != gotch.Uint8 {
		t.Fatalf("dtype %v", m.DType())
	}
	got := make([]uint8, 6)
	if err := CopyOut(m, got); err != nil {
		t.Fatal(err)
	}
	for i, w := range []uint8{0, 1, 255, 7, 8, 9} {
		if got[i] != w {
			t.Fatalf("uint8 %d: got %d want %d", i, got[i], w)
		}
	}
	x, err := FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Drop()
	xt, err := x.Transpose(0, 1, false) // 3×2, not contiguous
	if err != nil {
		t.Fatal(err)
	}
	defer xt.Drop()
	f := make([]float32, 6)
	if err := CopyOut(xt, f); err != nil {
		t.Fatal(err)
	}
	for i, w := range []float32{1, 4, 2, 5, 3, 6} {
		if f[i] != w {
			t.Fatalf("transposed %d: got %v want %v (%v)", i, f[i], w, f)
		}
	}
	if err := CopyOut(x, make([]float64, 6)); err == nil {
		t.Fatal("float64 destination for a float32 tensor accepted")
	}
	ids, err := Int64s(xt)
	if err != nil {
		t.Fatal(err)
	}
	if ids[1] != 4 || len(ids) != 6 {
		t.Fatalf("Int64s of transposed: %v", ids)
	}
}

// BenchmarkBatchToTensor: one 32-image batch of 3×96×96 views into a
// tensor, by FromFloat32s (one memcpy) and by gotch's NewTensorFromData
// (per-element reflection), the path the trainer took before.
func BenchmarkBatchToTensor(b *testing.B) {
	data := make([]float32, 32*3*96*96)
	for _, c := range []struct {
		name string
		f    func() (*ts.Tensor, error)
	}{
		{"FromFloat32s", func() (*ts.Tensor, error) { return FromFloat32s(data, 32, 3, 96, 96) }},
		{"gotchNewTensorFromData", func() (*ts.Tensor, error) { return ts.NewTensorFromData(data, []int64{32, 3, 96, 96}) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				x, err := c.f()
				if err != nil {
					b.Fatal(err)
				}
				x.Drop()
			}
			b.SetBytes(int64(len(data) * 4))
		})
	}
}

// TestWithoutGradHoldsItsThread: called from a goroutine that did not pin
// itself, WithoutGrad still keeps grad mode off for every op of fn, while
// other goroutines churn the scheduler so an unpinned one would move to a
// thread whose grad mode is on (the default).
func TestWithoutGradHoldsItsThread(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	for i := 0; i < 4; i++ {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
					runtime.Gosched()
				}
			}
		}()
	}
	done := make(chan int)
	go func() { // deliberately not locked
		bad := 0
		_ = WithoutGrad(func() error {
			for i := 0; i < 2000; i++ {
				runtime.Gosched()
				time.Sleep(time.Microsecond)
				if prev, _ := SetGradMode(false); prev {
					bad++
				}
			}
			return nil
		})
		done <- bad
	}()
	if bad := <-done; bad > 0 {
		t.Fatalf("grad mode was on at %d of 2000 points inside WithoutGrad", bad)
	}
}
