package model

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// simsiamCfg is _base_/models/simsiam.py scaled down (3-layer projector
// with a non-affine last BN; predictor with last bias, no last BN).
func simsiamCfg() map[string]any {
	return map[string]any{
		"type":     "SimSiam",
		"backbone": tinyResNet(),
		"neck": map[string]any{"type": "NonLinearNeck", "in_channels": 512, "hid_channels": 32, "out_channels": 32,
			"num_layers": 3, "with_last_bn_affine": false, "with_avg_pool": true},
		"head": map[string]any{"type": "LatentPredictHead", "predictor": map[string]any{
			"type": "NonLinearNeck", "in_channels": 32, "hid_channels": 16, "out_channels": 32,
			"with_avg_pool": false, "with_last_bn": false, "with_last_bias": true}},
	}
}

func TestSimSiamStateDictAndFixLR(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(20)
		a, vs := algoBuild(t, simsiamCfg())
		m := a.(*SimSiam)
		checkKeyLayout(t, algoKeys(vs), []string{"encoder", "backbone", "neck", "head"},
			map[string]string{"backbone": "encoder.0", "neck": "encoder.1"},
			[]string{"encoder.0.conv1.weight", "encoder.1.fc2.weight", "encoder.1.bn2.running_mean", "neck.bn1.bias",
				"head.predictor.fc0.weight", "head.predictor.bn0.weight", "head.predictor.fc1.bias"},
			[]string{"encoder.1.bn2.weight", "head.predictor.bn1.weight", "head.predictor.fc0.bias"})
		want := []string{"head.predictor.fc0.weight", "head.predictor.bn0.weight", "head.predictor.bn0.bias",
			"head.predictor.fc1.weight", "head.predictor.fc1.bias"}
		if got := m.PredictorParams(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("PredictorParams %v, want %v", got, want)
		}
		// The shipped optimizer config marks exactly those groups fix_lr.
		opt, err := BuildOptimizer(ParamsOf(vs), map[string]any{"type": "SGD", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4,
			"paramwise_options": map[string]any{"predictor": map[string]any{"fix_lr": true}}})
		if err != nil {
			return err
		}
		defer opt.Close()
		isPred := map[string]bool{}
		for _, n := range want {
			isPred[n] = true
		}
		params := opt.Params()
		for _, g := range opt.Groups() {
			for _, i := range g.Params {
				if g.FixLR != isPred[params[i].Name] {
					t.Errorf("%s: fix_lr %v", params[i].Name, g.FixLR)
				}
			}
		}
		return nil
	})
}

// loss = ½(−cos(pred(z1), z2) − cos(pred(z2), z1)) from the model's own
// projections, and the target side of each term carries no gradient.
func TestSimSiamLossAndStopGrad(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(21)
		a, _ := algoBuild(t, simsiamCfg())
		m := a.(*SimSiam)
		v := algoImages(2, 4, 32)
		defer algoDropAll(v)
		got := stepValues(t, a, &StepInput{Views: v})["loss"]
		s := NewScope()
		defer s.Close()
		var want float64
		if err := WithoutGrad(func() error {
			var z, p [2][]float64
			for i := 0; i < 2; i++ {
				zi, err := m.enc.forward(s, v[i], true)
				if err != nil {
					return err
				}
				pi, err := m.head.Predictor.Forward([]*ts.Tensor{zi}, true)
				if err != nil {
					return err
				}
				s.TrackAll(pi)
				z[i], p[i] = f64s(zi), f64s(pi[0])
			}
			want = 0.5 * (negMeanCos(p[0], z[1], 4) + negMeanCos(p[1], z[0], 4))
			return nil
		}); err != nil {
			return err
		}
		if math.Abs(got-want) > 1e-5 {
			t.Fatalf("SimSiam loss %.6f, ½·Σ −cos from the projections %.6f", got, want)
		}

		// Stop-gradient: with leaf projections z1, z2, the symmetric loss
		// gives z1 exactly the gradient of its predictor term ½·head(z1, z2);
		// without sg(·) the term head(z2, z1) would add to it.
		grads := func(sym bool) []float64 {
			sc := NewScope()
			defer sc.Close()
			z1 := sc.Track(ts.MustRandn([]int64{4, 32}, gotch.Float, gotch.CPU).MustSetRequiresGrad(true, true))
			z2 := sc.Track(ts.MustRandn([]int64{4, 32}, gotch.Float, gotch.CPU).MustSetRequiresGrad(false, true))
			var loss *ts.Tensor
			var err error
			if sym {
				loss, err = symmetricLatentLoss(sc, m.head, z1, z2, z1, z2, 0.5)
			} else {
				l, lerr := m.head.Loss(z1, z2, true)
				if lerr != nil {
					t.Fatal(lerr)
				}
				sc.TrackLosses(l)
				loss = mulScalar(l.Get("loss"), 0.5, false)
			}
			if err != nil {
				t.Fatal(err)
			}
			sc.Track(loss)
			if err := loss.Backward(); err != nil {
				t.Fatal(err)
			}
			g, err := gradOf(z1)
			if err != nil || g == nil {
				t.Fatalf("z1 has no gradient (%v)", err)
			}
			sc.Track(g)
			return f64s(g)
		}
		ManualSeed(5)
		gs := grads(true)
		ManualSeed(5)
		g1 := grads(false)
		var diff, scale float64
		for i := range gs {
			diff = math.Max(diff, math.Abs(gs[i]-g1[i]))
			scale = math.Max(scale, math.Abs(g1[i]))
		}
		if scale == 0 || diff > 1e-6*math.Max(1, scale) {
			t.Fatalf("∂loss/∂z1: symmetric %v vs predictor term only %v (max diff %g): the target branch carries gradient", gs[:3], g1[:3], diff)
		}
		return nil
	})
}

func TestSimSiamLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(22)
		a, vs := algoBuild(t, simsiamCfg())
		v := algoImages(2, 4, 32)
		defer algoDropAll(v)
		trainSteps(t, a, vs, &StepInput{Views: v}, 8, 0.05, nil)
		return nil
	})
}
