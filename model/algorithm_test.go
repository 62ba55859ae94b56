package model

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

func tinyResNet() map[string]any {
	return map[string]any{"type": "ResNet", "depth": 18, "in_channels": 3, "out_indices": []any{4}, "norm_cfg": map[string]any{"type": "BN"}}
}

func simclrCfg() map[string]any {
	return map[string]any{
		"type":     "SimCLR",
		"backbone": tinyResNet(),
		"neck": map[string]any{"type": "NonLinearNeck", "in_channels": 512, "hid_channels": 64, "out_channels": 16,
			"num_layers": 2, "with_avg_pool": true},
		"head": map[string]any{"type": "ContrastiveHead", "temperature": 0.1},
	}
}

func mocoCfg(queueLen int, m float64) map[string]any {
	return map[string]any{
		"type": "MoCo", "queue_len": queueLen, "feat_dim": 16, "momentum": m,
		"backbone": tinyResNet(),
		"neck":     map[string]any{"type": "MoCoV2Neck", "in_channels": 512, "hid_channels": 32, "out_channels": 16, "with_avg_pool": true},
		"head":     map[string]any{"type": "ContrastiveHead", "temperature": 0.2},
	}
}

func randViews(n int64, size int64) []*ts.Tensor {
	return []*ts.Tensor{
		ts.MustRandn([]int64{n, 3, size, size}, gotch.Float, gotch.CPU),
		ts.MustRandn([]int64{n, 3, size, size}, gotch.Float, gotch.CPU),
	}
}

// MMSelfSup removes the diagonal of the 2N×2N matrix, then takes column
// 2⌊i/2⌋ of the remaining 2N−1 as the positive; simclrIndices picks the
// partner and the negatives directly. Both must select the same entries.
func TestSimCLRIndicesMatchMMSelfSup(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		pos, neg := simclrIndices(n)
		m := 2 * n
		for i := 0; i < m; i++ {
			var rest []int64 // row i without the diagonal, original order
			for j := 0; j < m; j++ {
				if j != i {
					rest = append(rest, int64(j))
				}
			}
			p := 2 * (i / 2)
			if rest[p] != pos[i] {
				t.Fatalf("n=%d row %d: MMSelfSup positive column %d, ours %d", n, i, rest[p], pos[i])
			}
			want := append(append([]int64{}, rest[:p]...), rest[p+1:]...)
			got := neg[i*(m-2) : (i+1)*(m-2)]
			for k := range want {
				if want[k] != got[k] {
					t.Fatalf("n=%d row %d: negatives %v, want %v", n, i, got, want)
				}
			}
		}
	}
}

// The loss equals NT-Xent computed in float64 from the same projections.
func TestSimCLRLossIsNTXent(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(1)
		vs := nn.NewVarStore(gotch.CPU)
		a, err := BuildAlgorithm(vs, simclrCfg())
		if err != nil {
			return err
		}
		m := a.(*SimCLR)
		views := randViews(3, 32)
		defer views[0].MustDrop()
		defer views[1].MustDrop()
		var got float64
		if err := WithoutGrad(func() error {
			l, err := m.TrainStep(&StepInput{Views: views})
			if err != nil {
				return err
			}
			defer l.Drop()
			got = l.Values()["loss"]
			return nil
		}); err != nil {
			return err
		}
		// Projections of the interleaved batch, computed the same way.
		s := NewScope()
		defer s.Close()
		x := s.Track(ts.MustStack([]ts.Tensor{*views[0], *views[1]}, 1).MustReshape([]int64{6, 3, 32, 32}, true))
		var z []float64
		_ = WithoutGrad(func() error {
			zt, err := m.enc.forward(s, x, true)
			if err != nil {
				return err
			}
			z = zt.Float64Values()
			return nil
		})
		d := len(z) / 6
		for i := 0; i < 6; i++ {
			var nrm float64
			for k := 0; k < d; k++ {
				nrm += z[i*d+k] * z[i*d+k]
			}
			nrm = math.Sqrt(nrm) + 1e-10
			for k := 0; k < d; k++ {
				z[i*d+k] /= nrm
			}
		}
		var want float64
		for i := 0; i < 6; i++ {
			dot := func(j int) float64 {
				var s float64
				for k := 0; k < d; k++ {
					s += z[i*d+k] * z[j*d+k]
				}
				return s / 0.1
			}
			var lse float64
			for j := 0; j < 6; j++ {
				if j != i {
					lse += math.Exp(dot(j))
				}
			}
			want += math.Log(lse) - dot(i^1)
		}
		want /= 6
		if math.Abs(got-want) > 1e-4 {
			t.Fatalf("SimCLR loss %.6f, NT-Xent from the projections %.6f", got, want)
		}
		return nil
	})
}

func TestSimCLRLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(2)
		vs := nn.NewVarStore(gotch.CPU)
		a, err := BuildAlgorithm(vs, simclrCfg())
		if err != nil {
			return err
		}
		opt, err := BuildOptimizer(ParamsOf(vs), map[string]any{"type": "SGD", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0})
		if err != nil {
			return err
		}
		views := randViews(8, 32)
		defer views[0].MustDrop()
		defer views[1].MustDrop()
		var first, last float64
		for it := 0; it < 8; it++ {
			l, err := a.TrainStep(&StepInput{Views: views, Iter: it})
			if err != nil {
				return err
			}
			total, err := l.Total()
			if err != nil {
				return err
			}
			v := total.Float64Values()[0]
			if it == 0 {
				first = v
			}
			last = v
			if err := opt.ZeroGrad(); err != nil {
				return err
			}
			if err := total.Backward(); err != nil {
				return err
			}
			total.MustDrop()
			l.Drop()
			if err := opt.Step(); err != nil {
				return err
			}
		}
		if !(last < first-0.05) || math.IsNaN(last) {
			t.Fatalf("loss %0.4f → %0.4f over 8 steps on a fixed batch; want it to fall", first, last)
		}
		return nil
	})
}

func TestMoCoQueueAndMomentum(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(3)
		vs := nn.NewVarStore(gotch.CPU)
		a, err := BuildAlgorithm(vs, mocoCfg(8, 0.5))
		if err != nil {
			return err
		}
		m := a.(*MoCo)
		// Paper behaviour: the key encoder starts equal to the query encoder.
		vars := vs.Variables()
		for name, q := range vars {
			if !strings.HasPrefix(name, "encoder_q.") {
				continue
			}
			k := vars["encoder_k."+strings.TrimPrefix(name, "encoder_q.")]
			if d := q.MustSub(&k, false).MustAbs(true).MustMax(true).Float64Values()[0]; d != 0 {
				t.Fatalf("%s: key encoder differs from query by %g after init", name, d)
			}
			if req, _ := k.RequiresGrad(); req {
				t.Fatalf("key encoder %s requires grad", name)
			}
		}
		// State dict names follow MMSelfSup (aliases included).
		keys := map[string]bool{}
		for _, e := range StateDict(vs) {
			keys[e.Name] = true
		}
		for _, k := range []string{"queue", "queue_ptr", "encoder_q.0.conv1.weight", "encoder_k.1.mlp.0.weight", "backbone.layer1.0.conv1.weight", "neck.mlp.2.bias"} {
			if !keys[k] {
				t.Errorf("state dict lacks %s", k)
			}
		}
		// Move the query encoder away, then one step: θk = 0.5θk + 0.5θq.
		pair := m.pairs[0]
		before := pair[1].MustShallowClone().MustDetach(true).MustMulScalar(ts.FloatScalar(1), true)
		defer before.MustDrop()
		_ = WithoutGrad(func() error { return pair[0].AddScalar_(ts.FloatScalar(1)) })
		wantK := before.MustMulScalar(ts.FloatScalar(0.5), false).MustAdd(pair[0].MustMulScalar(ts.FloatScalar(0.5), false), true)
		defer wantK.MustDrop()
		views := randViews(4, 32)
		defer views[0].MustDrop()
		defer views[1].MustDrop()
		for step := 0; step < 3; step++ {
			l, err := m.TrainStep(&StepInput{Views: views, Iter: step})
			if err != nil {
				return err
			}
			loss := l.Values()["loss"]
			l.Drop()
			if math.IsNaN(loss) || loss <= 0 || loss > 10 {
				t.Fatalf("step %d: loss %v", step, loss)
			}
			if step == 0 {
				if d := pair[1].MustSub(wantK, false).MustAbs(true).MustMax(true).Float64Values()[0]; d > 1e-6 {
					t.Fatalf("momentum update off by %g", d)
				}
			}
			ptr := m.queuePtr.Int64Values()[0]
			if want := int64((step + 1) * 4 % 8); ptr != want {
				t.Fatalf("step %d: queue_ptr %d, want %d", step, ptr, want)
			}
		}
		// Every queue column is a unit key.
		norms := m.queue.MustNormScalaroptDim(ts.FloatScalar(2), []int64{0}, false, false).Float64Values()
		for i, n := range norms {
			if math.Abs(n-1) > 1e-5 {
				t.Fatalf("queue column %d has norm %g", i, n)
			}
		}
		// queue_len must be a multiple of the batch.
		bad := randViews(3, 32)
		defer bad[0].MustDrop()
		defer bad[1].MustDrop()
		if _, err := m.TrainStep(&StepInput{Views: bad}); err == nil || !strings.Contains(err.Error(), "multiple") {
			t.Fatalf("batch 3 with queue 8: err = %v", err)
		}
		return nil
	})
}

func TestBuildAlgorithmErrors(t *testing.T) {
	onPinned(t, func() error {
		for _, c := range []struct {
			cfg  map[string]any
			want string
		}{
			{map[string]any{"type": "SimCRL"}, `"SimCRL" not registered`},
			{map[string]any{"type": "SimCLR", "nek": 1}, "model.nek: unknown key"},
			{map[string]any{"type": "MoCo", "momentum": 2.0, "backbone": tinyResNet()}, "model.momentum"},
		} {
			_, err := BuildAlgorithm(nn.NewVarStore(gotch.CPU), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v: err = %v, want %q", c.cfg, err, c.want)
			}
		}
		return nil
	})
}
