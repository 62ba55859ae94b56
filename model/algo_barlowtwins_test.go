package model

import (
	"math"
	"testing"
)

// barlowCfg is _base_/models/barlowtwins.py scaled down, Kaiming-uniform
// neck init included.
func barlowCfg() map[string]any {
	return map[string]any{
		"type":     "BarlowTwins",
		"backbone": tinyResNet(),
		"neck": map[string]any{"type": "NonLinearNeck", "in_channels": 512, "hid_channels": 32, "out_channels": 32,
			"num_layers": 3, "with_last_bn": false, "with_last_bn_affine": false, "with_avg_pool": true,
			"init_cfg": map[string]any{"type": "Kaiming", "distribution": "uniform", "layer": []any{"Linear"}}},
		"head": map[string]any{"type": "LatentCrossCorrelationHead", "in_channels": 32},
	}
}

// barlowRef is Σ(C_ii−1)² + λΣ_{i≠j}C_ij² with C = BN(z1)ᵀBN(z2)/N, BN
// the non-affine batch standardisation (biased variance, eps 1e-5).
func barlowRef(z1, z2 []float64, n int, lambd float64) float64 {
	d := len(z1) / n
	bn := func(z []float64) []float64 {
		out := make([]float64, len(z))
		for c := 0; c < d; c++ {
			var mu, v float64
			for i := 0; i < n; i++ {
				mu += z[i*d+c]
			}
			mu /= float64(n)
			for i := 0; i < n; i++ {
				v += (z[i*d+c] - mu) * (z[i*d+c] - mu)
			}
			v /= float64(n)
			for i := 0; i < n; i++ {
				out[i*d+c] = (z[i*d+c] - mu) / math.Sqrt(v+1e-5)
			}
		}
		return out
	}
	a, b := bn(z1), bn(z2)
	var loss float64
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			var c float64
			for k := 0; k < n; k++ {
				c += a[k*d+i] * b[k*d+j]
			}
			c /= float64(n)
			if i == j {
				loss += (c - 1) * (c - 1)
			} else {
				loss += lambd * c * c
			}
		}
	}
	return loss
}

func TestBarlowTwinsLossAndKeys(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(30)
		a, vs := algoBuild(t, barlowCfg())
		m := a.(*BarlowTwins)
		checkKeyLayout(t, algoKeys(vs), []string{"backbone", "neck", "head"}, nil,
			[]string{"backbone.conv1.weight", "neck.fc0.weight", "neck.bn1.running_var", "neck.fc2.weight",
				"head.bn.running_mean", "head.bn.num_batches_tracked"},
			[]string{"neck.fc2.bias", "neck.bn2.running_mean", "head.bn.weight"})
		v := algoImages(2, 6, 32)
		defer algoDropAll(v)
		got := stepValues(t, a, &StepInput{Views: v})["loss"]
		s := NewScope()
		defer s.Close()
		var want float64
		if err := WithoutGrad(func() error {
			z1, err := m.enc.forward(s, v[0], true)
			if err != nil {
				return err
			}
			z2, err := m.enc.forward(s, v[1], true)
			if err != nil {
				return err
			}
			want = barlowRef(f64s(z1), f64s(z2), 6, 0.0051)
			return nil
		}); err != nil {
			return err
		}
		if math.Abs(got-want) > 1e-4*math.Max(1, want) {
			t.Fatalf("Barlow Twins loss %.6f, formula from the projections %.6f", got, want)
		}
		return nil
	})
}

func TestBarlowTwinsLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(31)
		a, vs := algoBuild(t, barlowCfg())
		v := algoImages(2, 6, 32)
		defer algoDropAll(v)
		trainSteps(t, a, vs, &StepInput{Views: v}, 8, 0.01, nil)
		return nil
	})
}
