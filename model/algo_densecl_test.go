package model

import (
	"math"
	"testing"

	"github.com/sugarme/gotch/ts"
)

// denseclCfg is _base_/models/densecl.py scaled down: ResNet-18 (a 2×2
// grid at 64 px), 32-wide DenseCLNeck to 8 dims, queues of 16.
func denseclCfg(extra map[string]any) map[string]any {
	c := map[string]any{
		"type": "DenseCL", "queue_len": 16, "feat_dim": 8, "momentum": 0.5, "loss_lambda": 0.5,
		"backbone": tinyResNet(),
		"neck":     map[string]any{"type": "DenseCLNeck", "in_channels": 512, "hid_channels": 32, "out_channels": 8},
		"head":     map[string]any{"type": "ContrastiveHead", "temperature": 0.2},
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// normDim1 is F.normalize(x, dim=1) for x of shape n×c×l (row-major).
func normDim1(x []float64, n, c int) []float64 {
	l := len(x) / (n * c)
	out := make([]float64, len(x))
	for i := 0; i < n; i++ {
		for s := 0; s < l; s++ {
			var ss float64
			for k := 0; k < c; k++ {
				v := x[(i*c+k)*l+s]
				ss += v * v
			}
			ss = math.Max(math.Sqrt(ss), 1e-12)
			for k := 0; k < c; k++ {
				out[(i*c+k)*l+s] = x[(i*c+k)*l+s] / ss
			}
		}
	}
	return out
}

// denseRaw runs backbone and neck and returns g, grid (N×D×S²) and avg
// normalised along dim 1, and the normalised backbone grid (N×C×S²).
func denseRaw(t testing.TB, s *Scope, e encoder, x *ts.Tensor, n int) (g, grid, avg, bb []float64, c, d, l int) {
	t.Helper()
	feats, err := e.backbone.Forward(x, true)
	if err != nil {
		t.Fatal(err)
	}
	s.TrackAll(feats)
	outs, err := e.neck.Forward(feats, true)
	if err != nil {
		t.Fatal(err)
	}
	s.TrackAll(outs)
	fd := feats[0].MustSize()
	c, l = int(fd[1]), int(fd[2]*fd[3])
	d = int(outs[0].MustSize()[1])
	return normRows(f64s(outs[0]), n), normDim1(f64s(outs[1]), n, d), normRows(f64s(outs[2]), n), normDim1(f64s(feats[0]), n, c), c, d, l
}

func TestDenseCLLossQueuesAndKeys(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(70)
		a, vs := algoBuild(t, denseclCfg(map[string]any{"shuffle_bn_groups": 1}))
		m := a.(*DenseCL)
		keys := algoKeys(vs)
		if len(keys) < 4 || keys[0] != "queue" || keys[1] != "queue_ptr" || keys[2] != "queue2" || keys[3] != "queue2_ptr" {
			t.Errorf("state dict starts %v; PyTorch lists the model's own buffers first", keys[:4])
		}
		checkKeyLayout(t, keys, []string{"queue", "queue_ptr", "queue2", "queue2_ptr", "encoder_q", "encoder_k", "backbone"},
			map[string]string{"backbone": "encoder_q.0", "encoder_k.0": "encoder_q.0", "encoder_k.1": "encoder_q.1"},
			[]string{"encoder_q.1.mlp.0.weight", "encoder_q.1.mlp.2.bias", "encoder_q.1.mlp2.0.weight", "encoder_q.1.mlp2.2.bias",
				"encoder_k.1.mlp2.2.weight", "backbone.layer4.1.conv2.weight"},
			[]string{"neck.mlp.0.weight"})

		const n, K, T = 4, 16, 0.2
		v := algoImages(2, n, 64)
		defer algoDropAll(v)
		queue0, queue20 := f64s(m.queue), f64s(m.queue2)
		got := stepValues(t, a, &StepInput{Views: v})

		s := NewScope()
		defer s.Close()
		var q, qg, qb, k, kg, kavg, kb []float64
		var c, d, l int
		_ = WithoutGrad(func() error {
			q, qg, _, qb, c, d, l = denseRaw(t, s, m.q, v[0], n)
			k, kg, kavg, kb, _, _, _ = denseRaw(t, s, m.k, v[1], n) // key encoder after this step's EMA
			return nil
		})
		// Global InfoNCE.
		var single float64
		for i := 0; i < n; i++ {
			logits := make([]float64, 1+K)
			for e := 0; e < d; e++ {
				logits[0] += q[i*d+e] * k[i*d+e]
				for j := 0; j < K; j++ {
					logits[1+j] += q[i*d+e] * queue0[e*K+j]
				}
			}
			for j := range logits {
				logits[j] /= T
			}
			single += ceRow(logits, 0) / n
		}
		// Dense: each query location s matched to argmax_t ⟨qb_s, kb_t⟩.
		var dense float64
		for i := 0; i < n; i++ {
			for s := 0; s < l; s++ {
				best, bestSim := 0, math.Inf(-1)
				for u := 0; u < l; u++ {
					var sim float64
					for ch := 0; ch < c; ch++ {
						sim += qb[(i*c+ch)*l+s] * kb[(i*c+ch)*l+u]
					}
					if sim > bestSim {
						best, bestSim = u, sim
					}
				}
				logits := make([]float64, 1+K)
				for e := 0; e < d; e++ {
					qv := qg[(i*d+e)*l+s]
					logits[0] += qv * kg[(i*d+e)*l+best]
					for j := 0; j < K; j++ {
						logits[1+j] += qv * queue20[e*K+j]
					}
				}
				for j := range logits {
					logits[j] /= T
				}
				dense += ceRow(logits, 0) / float64(n*l)
			}
		}
		if l != 4 {
			t.Fatalf("grid has %d locations, want 4 (ResNet-18 at 64 px)", l)
		}
		if math.Abs(got["loss_single"]-0.5*single) > 1e-4 || math.Abs(got["loss_dense"]-0.5*dense) > 1e-4 {
			t.Fatalf("losses %v; from the projections: loss_single %.6f, loss_dense %.6f", got, 0.5*single, 0.5*dense)
		}
		// k into queue, the averaged dense key into queue2.
		q1, q21 := f64s(m.queue), f64s(m.queue2)
		for i := 0; i < n; i++ {
			for e := 0; e < d; e++ {
				if math.Abs(q1[e*K+i]-k[i*d+e]) > 1e-5 || math.Abs(q21[e*K+i]-kavg[i*d+e]) > 1e-5 {
					t.Fatalf("queue column %d: (%g, %g), want keys (%g, %g)", i, q1[e*K+i], q21[e*K+i], k[i*d+e], kavg[i*d+e])
				}
			}
		}
		if p, p2 := m.queuePtr.Int64Values()[0], m.queue2Ptr.Int64Values()[0]; p != n || p2 != n {
			t.Fatalf("queue pointers %d, %d after one batch of %d", p, p2, n)
		}

		// DenseCLHook's warm-up: λ = 0 zeroes the dense term.
		m.SetLossLambda(0)
		z := stepValues(t, a, &StepInput{Views: v})
		if z["loss_dense"] != 0 || z["loss_single"] <= 0 || m.LossLambda() != 0 {
			t.Fatalf("λ = 0: %v", z)
		}
		return nil
	})
}

// The default shuffle-BN emulation (2 groups) steps, and the total falls
// over SGD steps on a fixed batch. The queues are put back after every
// step: otherwise they fill with this very batch's keys, which become
// negatives of its queries and push the loss up whatever the model learns.
func TestDenseCLLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(71)
		a, vs := algoBuild(t, denseclCfg(nil))
		m := a.(*DenseCL)
		v := algoImages(2, 4, 64)
		defer algoDropAll(v)
		var saved []*ts.Tensor
		for _, q := range []*ts.Tensor{m.queue, m.queuePtr, m.queue2, m.queue2Ptr} {
			saved = append(saved, addScalar(q, 0, false))
		}
		defer algoDropAll(saved)
		trainSteps(t, a, vs, &StepInput{Views: v}, 8, 0.05, func(int) error {
			return WithoutGrad(func() error {
				for i, q := range []*ts.Tensor{m.queue, m.queuePtr, m.queue2, m.queue2Ptr} {
					q.Copy_(saved[i])
				}
				return ts.TorchErr()
			})
		})
		return nil
	})
}
