package model

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch/ts"
)

// byolCfg is _base_/models/byol.py scaled down: ResNet-18 and 64/16-wide
// projector and predictor with MMSelfSup's flags (bias, no last BN).
func byolCfg() map[string]any {
	return map[string]any{
		"type": "BYOL", "base_momentum": 0.99,
		"backbone": tinyResNet(),
		"neck": map[string]any{"type": "NonLinearNeck", "in_channels": 512, "hid_channels": 64, "out_channels": 16,
			"num_layers": 2, "with_bias": true, "with_last_bn": false, "with_avg_pool": true},
		"head": map[string]any{"type": "LatentPredictHead", "predictor": map[string]any{
			"type": "NonLinearNeck", "in_channels": 16, "hid_channels": 64, "out_channels": 16,
			"num_layers": 2, "with_bias": true, "with_last_bn": false, "with_avg_pool": false}},
	}
}

func TestBYOLStateDictAndTargetInit(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(10)
		a, vs := algoBuild(t, byolCfg())
		m := a.(*BYOL)
		keys := algoKeys(vs)
		checkKeyLayout(t, keys, []string{"online_net", "target_net", "backbone", "neck", "head"},
			map[string]string{"backbone": "online_net.0", "neck": "online_net.1", "target_net.0": "online_net.0", "target_net.1": "online_net.1"},
			[]string{"online_net.0.conv1.weight", "online_net.0.layer4.1.bn2.running_var", "online_net.1.fc0.bias",
				"online_net.1.bn0.num_batches_tracked", "target_net.1.fc1.weight", "backbone.layer1.0.conv1.weight",
				"neck.fc0.weight", "head.predictor.fc0.bias", "head.predictor.fc1.weight"},
			// with_last_bias defaults False, with_last_bn False (algorithms.md §19.2).
			[]string{"online_net.1.fc1.bias", "online_net.1.bn1.weight", "head.predictor.fc1.bias"})
		// PyTorch order: online_net, target_net, then the aliases, then head.
		first := map[string]int{}
		for i, k := range keys {
			top := strings.SplitN(k, ".", 2)[0]
			if _, ok := first[top]; !ok {
				first[top] = i
			}
		}
		if !(first["online_net"] < first["target_net"] && first["target_net"] < first["backbone"] && first["backbone"] < first["neck"] && first["neck"] < first["head"]) {
			t.Errorf("module order %v, want online_net < target_net < backbone < neck < head", first)
		}
		// Paper behaviour: the target starts equal to the online network, frozen.
		if len(m.pairs) == 0 {
			t.Fatal("no target parameters")
		}
		for _, p := range m.pairs {
			if d := algoMaxDiff(p[0], p[1]); d != 0 {
				t.Fatalf("target differs from online by %g after init", d)
			}
			if req, _ := p[1].RequiresGrad(); req {
				t.Fatal("target parameter requires grad")
			}
		}
		if mt, ok := a.(MomentumTarget); !ok || mt.BaseMomentum() != 0.99 {
			t.Fatalf("BYOL as MomentumTarget: %v, base %v", ok, m.BaseMomentum())
		}
		return nil
	})
}

// loss = 2·(−cos(pred(p1), t2) − cos(pred(p2), t1)), from the model's own
// projections, in float64.
func TestBYOLLossIsSymmetricCosine(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(11)
		a, _ := algoBuild(t, byolCfg())
		m := a.(*BYOL)
		// Make target ≠ online so that swapping the roles would show.
		_ = WithoutGrad(func() error {
			for _, p := range m.pairs {
				tmp := mulScalar(p[1], 0.5, false)
				p[1].Copy_(tmp)
				tmp.MustDrop()
			}
			return nil
		})
		v := algoImages(2, 4, 32)
		defer algoDropAll(v)
		got := stepValues(t, a, &StepInput{Views: v})["loss"]

		s := NewScope()
		defer s.Close()
		var want float64
		if err := WithoutGrad(func() error {
			var o, tg, pr [2][]float64
			for i := 0; i < 2; i++ {
				p, err := m.online.forward(s, v[i], true)
				if err != nil {
					return err
				}
				q, err := m.target.forward(s, v[i], true)
				if err != nil {
					return err
				}
				pp, err := m.head.Predictor.Forward([]*ts.Tensor{p}, true)
				if err != nil {
					return err
				}
				s.TrackAll(pp)
				o[i], tg[i], pr[i] = f64s(p), f64s(q), f64s(pp[0])
			}
			want = 2 * (negMeanCos(pr[0], tg[1], 4) + negMeanCos(pr[1], tg[0], 4))
			return nil
		}); err != nil {
			return err
		}
		if math.Abs(got-want) > 1e-5 {
			t.Fatalf("BYOL loss %.6f, 2·Σ −cos from the projections %.6f", got, want)
		}
		return nil
	})
}

func TestBYOLMomentumUpdateAndGradients(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(12)
		a, vs := algoBuild(t, byolCfg())
		m := a.(*BYOL)
		// Online ← online + 1, then one EMA step with m = 0.75:
		// target = 0.75·target + 0.25·online.
		var want []*ts.Tensor
		_ = WithoutGrad(func() error {
			for _, p := range m.pairs {
				up := addScalar(p[0], 1, false)
				p[0].Copy_(up)
				up.MustDrop()
				w := mulScalar(p[1], 0.75, false).MustAdd(mulScalar(p[0], 0.25, false), true)
				want = append(want, w)
			}
			return nil
		})
		defer algoDropAll(want)
		vars := vs.Variables()
		rm := vars["target_net.0.bn1.running_mean"]
		rmBefore := addScalar(&rm, 0, false)
		defer rmBefore.MustDrop()
		if err := m.MomentumUpdate(0.75); err != nil {
			return err
		}
		for i, p := range m.pairs {
			if d := algoMaxDiff(p[1], want[i]); d > 1e-6 {
				t.Fatalf("pair %d: target off the EMA by %g", i, d)
			}
		}
		if d := algoMaxDiff(&rm, rmBefore); d != 0 {
			t.Fatalf("EMA touched a BN buffer (running_mean moved by %g)", d)
		}
		if err := m.MomentumUpdate(1.5); err == nil {
			t.Fatal("momentum 1.5 accepted")
		}

		// Gradients reach the online network and the predictor, never the target.
		v := algoImages(2, 4, 32)
		defer algoDropAll(v)
		l, err := m.TrainStep(&StepInput{Views: v})
		if err != nil {
			return err
		}
		total, err := l.Total()
		if err != nil {
			return err
		}
		if err := total.Backward(); err != nil {
			return err
		}
		total.MustDrop()
		l.Drop()
		for name, x := range vars {
			g, err := gradOf(&x)
			if err != nil {
				return err
			}
			has := g != nil
			if g != nil {
				g.MustDrop()
			}
			req, _ := x.RequiresGrad()
			switch {
			case strings.HasPrefix(name, "target_net.") && has:
				t.Errorf("%s has a gradient", name)
			case req && !has && (strings.HasPrefix(name, "online_net.") || strings.HasPrefix(name, "head.")):
				t.Errorf("%s has no gradient", name)
			}
		}
		return nil
	})
}

// Eight SGD steps on a fixed batch, with the cosine momentum schedule
// applied after each step as the runner's hook does.
func TestBYOLLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(13)
		a, vs := algoBuild(t, byolCfg())
		mt := a.(MomentumTarget)
		hook := MomentumUpdate{EndMomentum: 1, UpdateInterval: 1}
		v := algoImages(2, 4, 32)
		defer algoDropAll(v)
		trainSteps(t, a, vs, &StepInput{Views: v}, 8, 0.05, func(it int) error {
			if !hook.Due(it) {
				return nil
			}
			return mt.MomentumUpdate(hook.Momentum(mt.BaseMomentum(), it, 8))
		})
		return nil
	})
}
