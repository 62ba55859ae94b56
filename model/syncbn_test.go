package model

import (
	"math"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// syncBNNet is a ResNet-18 with SyncBN (every BN layer synchronised) and
// a loss that depends on the batch statistics: mean_i (f_i·w)² over the
// pooled features f.
type syncBNNet struct {
	vs *nn.VarStore
	bb Backbone
}

func newSyncBNNet(t *testing.T) syncBNNet {
	t.Helper()
	ManualSeed(7)
	vs := nn.NewVarStore(gotch.CPU)
	cfg := tinyResNet()
	cfg["norm_cfg"] = map[string]any{"type": "SyncBN"}
	bb, err := BuildBackbone(vs.Root().Sub("backbone"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return syncBNNet{vs, bb}
}

// loss returns the loss and the pooled features (N×512) of x.
func (n syncBNNet) loss(s *Scope, x, w *ts.Tensor) (*ts.Tensor, []float32, error) {
	feats, err := n.bb.Forward(x, true)
	if err != nil {
		return nil, nil, err
	}
	s.TrackAll(feats)
	f := s.Track(feats[len(feats)-1].MustFlatten(1, -1, false)) // N×512 (1×1 maps at 32 px)
	fv, err := torchx.Float32s(f)
	if err != nil {
		return nil, nil, err
	}
	p := s.Track(f.MustMv(w, false))
	return s.Track(p.MustSquare(false).MustMean(gotch.Float, true)), fv, nil
}

// grads returns every trainable variable's gradient by name.
func (n syncBNNet) grads(t *testing.T) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for name, v := range n.vs.Variables() {
		if !v.MustRequiresGrad() {
			continue
		}
		g := v.MustGrad(false)
		vals, err := torchx.Float32s(g)
		g.MustDrop()
		if err != nil {
			t.Fatal(err)
		}
		out[name] = vals
	}
	return out
}

// SyncBN over two ranks of 2 images: the features are one process's with
// all 4 (batch statistics over both ranks), the running statistics are
// the global batch's, and the mean of the ranks' gradients is one
// process's gradient of the mean loss over the 4 images, for every
// parameter (the cross-rank terms of the backward included).
func TestSyncBNTwoRanksMatchOneProcess(t *testing.T) {
	const b = 2
	ranks := newMemGroup(2)
	nets := make([]syncBNNet, 2)
	var one syncBNNet
	var x, w *ts.Tensor
	var wantF []float32
	var wantG map[string][]float32
	onPinned(t, func() error {
		one = newSyncBNNet(t)
		for r := range nets {
			nets[r] = newSyncBNNet(t)
			if g := EnableSyncBN(nets[r].vs, ranks[r]); g == nil {
				t.Fatal("EnableSyncBN found no SyncBN layer")
			}
		}
		if EnableSyncBN(one.vs, nil) != nil {
			t.Fatal("EnableSyncBN without several ranks should leave SyncBN as BN")
		}
		ManualSeed(21)
		x = ts.MustRandn([]int64{2 * b, 3, 32, 32}, gotch.Float, gotch.CPU)
		w = ts.MustRandn([]int64{512}, gotch.Float, gotch.CPU)
		s := NewScope()
		defer s.Close()
		l, f, err := one.loss(s, x, w)
		if err != nil {
			return err
		}
		wantF = f
		if err := l.Backward(); err != nil {
			return err
		}
		wantG = one.grads(t)
		return nil
	})
	defer x.MustDrop()
	defer w.MustDrop()
	feats := make([][]float32, 2)
	grads := make([]map[string][]float32, 2)
	runRanks(t, ranks, func(r *memRank) error {
		n := nets[r.rank]
		s := NewScope()
		defer s.Close()
		xr := s.Track(x.MustNarrow(0, int64(r.rank)*b, b, false))
		l, f, err := n.loss(s, xr, w)
		if err != nil {
			return err
		}
		feats[r.rank] = f
		g := EnableSyncBN(n.vs, r)
		if err := g.Backward(l); err != nil {
			return err
		}
		grads[r.rank] = n.grads(t)
		return nil
	})
	per := len(wantF) / 2
	fscale := 0.0
	for _, v := range wantF {
		fscale = math.Max(fscale, math.Abs(float64(v)))
	}
	for r := range feats {
		d := maxAbsDiff(feats[r], wantF[r*per:(r+1)*per]) / fscale
		t.Logf("rank %d features: relative difference %.3g", r, d)
		if d > 1e-4 {
			t.Fatalf("rank %d features differ from one process's by %g relative", r, d)
		}
	}
	worst, worstName := 0.0, ""
	for name, want := range wantG {
		g0, g1 := grads[0][name], grads[1][name]
		if len(g0) != len(want) || len(g1) != len(want) {
			t.Fatalf("%s: gradients of %d, %d and %d elements", name, len(g0), len(g1), len(want))
		}
		scale := 1e-8
		for _, v := range want {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i := range want {
			d := math.Abs(float64(g0[i]+g1[i])/2-float64(want[i])) / scale
			if d > worst {
				worst, worstName = d, name
			}
		}
	}
	t.Logf("%d parameters: worst relative gradient difference %.3g (%s)", len(wantG), worst, worstName)
	if worst > 1e-3 {
		t.Fatalf("SyncBN gradients differ from one process's: %.3g relative (%s)", worst, worstName)
	}
	onPinned(t, func() error {
		for _, name := range []string{"backbone.bn1.running_mean", "backbone.layer4.1.bn2.running_var"} {
			a, okA := one.vs.Variables()[name]
			c, okC := nets[1].vs.Variables()[name]
			if !okA || !okC {
				t.Fatalf("no %s", name)
			}
			av, _ := torchx.Float32s(&a)
			cv, _ := torchx.Float32s(&c)
			if d := maxAbsDiff(av, cv); d > 1e-4 {
				t.Fatalf("%s of rank 1 differs from one process's by %g", name, d)
			}
		}
		return nil
	})
}
