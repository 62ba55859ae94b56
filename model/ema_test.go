package model

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// TestEMA: averages start as copies in their own storage, follow
// (1-m)·avg + m·param, carry mmcv's buffer names and swap both ways.
func TestEMA(t *testing.T) {
	lockThread(t)
	vs := nn.NewVarStore(gotch.CPU)
	p, err := vs.Root().Sub("neck").Sub("fc").Add("weight", ts.MustOfSlice([]float32{1, 2, 3, 4}), true)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEMA(vs)
	if err != nil {
		t.Fatal(err)
	}
	if e.Len() != 1 {
		t.Fatalf("%d averages, want 1", e.Len())
	}
	var avg *ts.Tensor
	for _, n := range StateDict(vs) {
		if n.Name == "ema_neck_fc_weight" {
			avg = n.T
		}
	}
	if avg == nil {
		t.Fatal("state dict has no ema_neck_fc_weight")
	}
	set := func(x *ts.Tensor, v []float32) {
		if err := WithoutGrad(func() error {
			src := ts.MustOfSlice(v)
			defer src.MustDrop()
			x.Copy_(src)
			return ts.TorchErr()
		}); err != nil {
			t.Fatal(err)
		}
	}
	vals := func(x *ts.Tensor) []float64 { return x.Float64Values() }
	set(p, []float32{5, 6, 7, 8}) // the average must not follow: own storage
	if got := vals(avg); got[0] != 1 || got[3] != 4 {
		t.Fatalf("average shares the parameter's storage: %v", got)
	}
	if err := e.Update(0.25); err != nil {
		t.Fatal(err)
	}
	want := []float64{0.75*1 + 0.25*5, 0.75*2 + 0.25*6, 0.75*3 + 0.25*7, 0.75*4 + 0.25*8}
	for i, g := range vals(avg) {
		if math.Abs(g-want[i]) > 1e-6 {
			t.Fatalf("average %v, want %v", vals(avg), want)
		}
	}
	if err := e.Swap(); err != nil {
		t.Fatal(err)
	}
	if g := vals(p); math.Abs(g[0]-want[0]) > 1e-6 || vals(avg)[0] != 5 {
		t.Fatalf("after swap: param %v, average %v", g, vals(avg))
	}
}
