package model

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch/ts"
)

// parityCases are optimizer configs as MMSelfSup configs write them; each
// runs 3 steps with LR scaled ×1, ×0.5, ×0.25 (as a schedule would) in Go
// and in torch 1.13 (testdata/optim/ref_optim.py).
var parityCases = []struct {
	name string
	cfg  map[string]any
}{
	{"sgd_momentum", map[string]any{"type": "SGD", "lr": 0.03, "momentum": 0.9, "weight_decay": 1e-4,
		"paramwise_options": map[string]any{`(bn|gn)(\d+)?.(weight|bias)`: map[string]any{"weight_decay": 0.0}}}},
	{"sgd_nesterov", map[string]any{"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "nesterov": true,
		"paramwise_options": map[string]any{`\Ahead.`: map[string]any{"lr_mult": 10}}}},
	{"sgd_dampening", map[string]any{"type": "SGD", "lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 5e-4}},
	{"sgd_plain", map[string]any{"type": "SGD", "lr": 0.5}},
	{"adam", map[string]any{"type": "Adam", "lr": 1e-2, "weight_decay": 1e-3}},
	{"adam_amsgrad", map[string]any{"type": "Adam", "lr": 1e-2, "amsgrad": true, "betas": []any{0.8, 0.9}}},
	{"adamw_mae", map[string]any{"type": "AdamW", "lr": 2.4e-3, "betas": []any{0.9, 0.95}, "weight_decay": 0.05,
		"paramwise_options": map[string]any{"norm": map[string]any{"weight_decay": 0.0}, "bias": map[string]any{"weight_decay": 0.0}}}},
	{"adamw_amsgrad", map[string]any{"type": "AdamW", "lr": 1e-2, "amsgrad": true, "eps": 1e-6}},
	{"lars_simclr", map[string]any{"type": "LARS", "lr": 0.3, "momentum": 0.9, "weight_decay": 1e-6,
		"paramwise_options": map[string]any{
			`(bn|gn)(\d+)?.(weight|bias)`: map[string]any{"weight_decay": 0.0, "lars_exclude": true},
			"bias":                        map[string]any{"weight_decay": 0.0, "lars_exclude": true}}}},
	{"lars_nesterov", map[string]any{"type": "LARS", "lr": 1.6, "momentum": 0.9, "weight_decay": 1e-4, "nesterov": true, "eta": 0.02,
		"paramwise_options": map[string]any{"downsample.1": map[string]any{"lr_mult": 0.024, "lars_exclude": true}}}},
	{"lars_dampening", map[string]any{"type": "LARS", "lr": 4.8, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-6}},
}

var lrScale = []float64{1, 0.5, 0.25}

// TestOptimizerParityTorch: same initial weights and gradients, 3 steps;
// Go parameters and optimizer state must match torch within 1e-6 relative.
func TestOptimizerParityTorch(t *testing.T) {
	lockThread(t)
	const steps = 3
	specs := resnetLikeSpecs(7, steps)
	dir := t.TempDir()

	type pmeta struct {
		File         string   `json:"file"`
		Shape        []int64  `json:"shape"`
		RequiresGrad bool     `json:"requires_grad"`
		Grads        []string `json:"grads"`
	}
	type gmeta struct {
		Param       int        `json:"param"`
		LR          float64    `json:"lr"`
		Momentum    float64    `json:"momentum"`
		Dampening   float64    `json:"dampening"`
		WeightDecay float64    `json:"weight_decay"`
		Nesterov    bool       `json:"nesterov"`
		Betas       [2]float64 `json:"betas"`
		Eps         float64    `json:"eps"`
		Amsgrad     bool       `json:"amsgrad"`
		Eta         float64    `json:"eta"`
		LarsExclude bool       `json:"lars_exclude"`
	}
	type cmeta struct {
		Name    string    `json:"name"`
		Type    string    `json:"type"`
		LarsEps float64   `json:"lars_eps"`
		Groups  []gmeta   `json:"groups"`
		LRScale []float64 `json:"lr_scale"`
	}
	type clipMeta struct {
		MaxNorm  float64 `json:"max_norm"`
		NormType float64 `json:"norm_type"`
	}
	manifest := struct {
		Params []pmeta          `json:"params"`
		Cases  []cmeta          `json:"cases"`
		Clip   []map[string]any `json:"clip"`
		Steps  int              `json:"steps"`
	}{Steps: steps}
	for i, s := range specs {
		pm := pmeta{File: fmt.Sprintf("p%d.bin", i), Shape: s.shape, RequiresGrad: s.reqGrad}
		writeF32(t, filepath.Join(dir, pm.File), s.init)
		for k, g := range s.grads {
			f := fmt.Sprintf("g%d_%d.bin", i, k)
			writeF32(t, filepath.Join(dir, f), g)
			pm.Grads = append(pm.Grads, f)
		}
		manifest.Params = append(manifest.Params, pm)
	}

	type goResult struct {
		params [][]float64
		state  []map[string][]float64
		steps  []float64
	}
	results := map[string]goResult{}
	for _, pc := range parityCases {
		ps := makeParams(t, specs)
		opt, err := BuildOptimizer(ps, pc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", pc.name, err)
		}
		cm := cmeta{Name: pc.name, Type: opt.Type(), LRScale: lrScale}
		if l, ok := opt.(*LARS); ok {
			cm.LarsEps = l.Eps
		}
		for _, g := range opt.Groups() {
			cm.Groups = append(cm.Groups, gmeta{g.Params[0], g.LR, g.Momentum, g.Dampening, g.WeightDecay, g.Nesterov, g.Betas, g.Eps, g.Amsgrad, g.Eta, g.LarsExclude})
		}
		manifest.Cases = append(manifest.Cases, cm)
		for k := 0; k < steps; k++ {
			if err := opt.ZeroGrad(); err != nil {
				t.Fatal(err)
			}
			for _, g := range opt.Groups() {
				g.LR = g.InitialLR * lrScale[k]
			}
			backwardGrads(t, ps, specs, k)
			if err := opt.Step(); err != nil {
				t.Fatalf("%s step %d: %v", pc.name, k, err)
			}
		}
		var r goResult
		sd, err := opt.State()
		if err != nil {
			t.Fatal(err)
		}
		st := sd["state"].(map[int]any)
		for i, p := range ps {
			r.params = append(r.params, floats(t, p.T))
			m := map[string][]float64{}
			step := 0.0
			if e, ok := st[i]; ok {
				for key, v := range e.(map[string]any) {
					if key == "step" {
						step = floats(t, tensorOf(v))[0]
						continue
					}
					m[key] = floats(t, tensorOf(v))
				}
			}
			r.state = append(r.state, m)
			r.steps = append(r.steps, step)
		}
		DropState(sd)
		results[pc.name] = r
		if err := opt.Close(); err != nil {
			t.Fatal(err)
		}
		dropParams(ps)
	}

	clips := []clipMeta{{1.0, 2}, {0.05, 2}, {0.3, math.Inf(1)}, {0.5, 1}, {100, 2}}
	var goClip []float64
	var goClipped [][][]float64
	for _, c := range clips {
		var nt any = c.NormType
		if math.IsInf(c.NormType, 1) {
			nt = "inf" // JSON has no Inf; float("inf") in the script
		}
		manifest.Clip = append(manifest.Clip, map[string]any{"max_norm": c.MaxNorm, "norm_type": nt})
		ps := makeParams(t, specs)
		backwardGrads(t, ps, specs, 0)
		total, err := ClipGradNorm(ps, c.MaxNorm, c.NormType)
		if err != nil {
			t.Fatal(err)
		}
		goClip = append(goClip, total)
		var gs [][]float64
		for i, p := range ps {
			if specs[i].grads != nil {
				gs = append(gs, gradValues(t, p.T))
			} else {
				gs = append(gs, nil)
			}
		}
		goClipped = append(goClipped, gs)
		dropParams(ps)
	}

	mj, err := json.Marshal(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), mj, 0o644); err != nil {
		t.Fatal(err)
	}
	runRef(t, "ref_optim.py", true, nil, dir)
	var ref struct {
		Cases map[string][][][2]any `json:"cases"`
		Clip  []float64             `json:"clip"`
	}
	rb, err := os.ReadFile(filepath.Join(dir, "out", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rb, &ref); err != nil {
		t.Fatal(err)
	}

	for _, pc := range parityCases {
		t.Run(pc.name, func(t *testing.T) {
			lockThread(t) // subtests run on their own goroutines
			r := results[pc.name]
			out := filepath.Join(dir, "out", pc.name)
			for i, s := range specs {
				want := readF32(t, filepath.Join(out, fmt.Sprintf("p%d.bin", i)))
				assertClose(t, s.name, r.params[i], want, 1e-6)
				if s.grads == nil {
					for j, v := range s.init {
						if r.params[i][j] != float64(v) {
							t.Fatalf("%s has no gradient but changed", s.name)
						}
					}
				}
				keys := ref.Cases[pc.name][i]
				if len(keys) != len(r.state[i])+boolToInt(r.steps[i] > 0) {
					t.Fatalf("%s: state keys %v, Go has %d tensors (+step %v)", s.name, keys, len(r.state[i]), r.steps[i])
				}
				for _, kv := range keys {
					key := kv[0].(string)
					if key == "step" {
						if r.steps[i] != kv[1].(float64) {
							t.Fatalf("%s step = %v, torch %v", s.name, r.steps[i], kv[1])
						}
						continue
					}
					got, ok := r.state[i][key]
					if !ok {
						t.Fatalf("%s: torch has state %s, Go not", s.name, key)
					}
					assertClose(t, s.name+"."+key, got, readF32(t, filepath.Join(out, fmt.Sprintf("s%d_%s.bin", i, key))), 1e-6)
				}
			}
		})
	}
	for ci, c := range clips {
		if !relClose(goClip[ci], ref.Clip[ci], 1e-6) {
			t.Errorf("clip %+v: total norm %.9g, torch %.9g", c, goClip[ci], ref.Clip[ci])
		}
		for i, g := range goClipped[ci] {
			if g == nil {
				continue
			}
			want := readF32(t, filepath.Join(dir, "out", fmt.Sprintf("clip_%d", ci), fmt.Sprintf("g%d.bin", i)))
			assertClose(t, fmt.Sprintf("clip %d grad %s", ci, specs[i].name), g, want, 1e-6)
		}
	}
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func tensorOf(v any) *ts.Tensor { return v.(*ts.Tensor) }
