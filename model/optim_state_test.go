package model

import (
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// pickleShaped re-types a state dict the way an unpickled torch
// checkpoint arrives: dicts as map[any]any, ints as int64, lists as []any.
func pickleShaped(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := map[any]any{}
		for k, e := range x {
			m[k] = pickleShaped(e)
		}
		return m
	case map[int]any:
		m := map[any]any{}
		for k, e := range x {
			m[int64(k)] = pickleShaped(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = pickleShaped(e)
		}
		return out
	case []int:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = int64(e)
		}
		return out
	case []float64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	}
	return v
}

// TestStateRoundTrip: two steps on optimizer A, State → LoadState into a
// fresh optimizer B over parameters with A's values; the next two steps
// must give bit-identical parameters.
func TestStateRoundTrip(t *testing.T) {
	lockThread(t)
	const steps = 4
	specs := resnetLikeSpecs(11, steps)
	for _, pc := range parityCases {
		for _, shaped := range []bool{false, true} {
			name := pc.name
			if shaped {
				name += "/pickle-shaped"
			}
			t.Run(name, func(t *testing.T) {
				lockThread(t) // subtests run on their own goroutines
				psA := makeParams(t, specs)
				defer dropParams(psA)
				a, err := BuildOptimizer(psA, pc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				run := func(o Optimizer, ps []Param, k int) {
					if err := o.ZeroGrad(); err != nil {
						t.Fatal(err)
					}
					for _, g := range o.Groups() {
						g.LR = g.InitialLR * (1 - 0.2*float64(k))
					}
					backwardGrads(t, ps, specs, k)
					if err := o.Step(); err != nil {
						t.Fatal(err)
					}
				}
				run(a, psA, 0)
				run(a, psA, 1)

				cur := make([]paramSpec, len(specs))
				for i, s := range specs {
					cur[i] = s
					vals := floats(t, psA[i].T)
					cur[i].init = make([]float32, len(vals))
					for j, v := range vals {
						cur[i].init[j] = float32(v)
					}
				}
				psB := makeParams(t, cur)
				defer dropParams(psB)
				b, err := BuildOptimizer(psB, pc.cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				for _, g := range b.Groups() {
					g.LR, g.InitialLR = 123, 456 // must be overwritten by the saved groups
				}
				sd, err := a.State()
				if err != nil {
					t.Fatal(err)
				}
				checkStateLayout(t, a, sd)
				var in map[string]any = sd
				if shaped {
					in = map[string]any{}
					for k, v := range pickleShaped(sd).(map[any]any) {
						in[k.(string)] = v
					}
				}
				if err := b.LoadState(in); err != nil {
					t.Fatal(err)
				}
				DropState(sd) // b must hold copies
				for i, g := range b.Groups() {
					if g.InitialLR != a.Groups()[i].InitialLR || g.LR != a.Groups()[i].LR {
						t.Fatalf("group %d: lr %v initial %v after load, want %v %v", i, g.LR, g.InitialLR, a.Groups()[i].LR, a.Groups()[i].InitialLR)
					}
				}
				for k := 2; k < steps; k++ {
					run(a, psA, k)
					run(b, psB, k)
				}
				for i := range psA {
					ga, gb := floats(t, psA[i].T), floats(t, psB[i].T)
					for j := range ga {
						if ga[j] != gb[j] {
							t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", specs[i].name, j, gb[j], ga[j])
						}
					}
				}
			})
		}
	}
}

// checkStateLayout asserts the torch-like keys of a state dict.
func checkStateLayout(t *testing.T, o Optimizer, sd map[string]any) {
	t.Helper()
	groups := sd["param_groups"].([]any)
	if len(groups) != len(o.Params()) {
		t.Fatalf("%d param_groups, want %d", len(groups), len(o.Params()))
	}
	for i, gr := range groups {
		g := gr.(map[string]any)
		if ids := g["params"].([]int); len(ids) != 1 || ids[0] != i {
			t.Fatalf("group %d params %v", i, ids)
		}
		want := []string{"lr", "initial_lr", "weight_decay"}
		switch o.Type() {
		case "SGD", "LARS":
			want = append(want, "momentum", "dampening", "nesterov")
		default:
			want = append(want, "betas", "eps", "amsgrad")
		}
		for _, k := range want {
			if _, ok := g[k]; !ok {
				t.Fatalf("group %d lacks %q: %v", i, k, g)
			}
		}
		if o.Groups()[i].LarsExclude != (g["lars_exclude"] == true) {
			t.Fatalf("group %d lars_exclude %v, group has %v", i, g["lars_exclude"], o.Groups()[i].LarsExclude)
		}
	}
	st := sd["state"].(map[int]any)
	for i, p := range o.Params() {
		e, ok := st[i]
		hasGrad := !strings.Contains(p.Name, "frozen") && !strings.Contains(p.Name, "unused")
		needState := hasGrad && (o.Type() != "SGD" && o.Type() != "LARS" || o.Groups()[i].Momentum != 0)
		if ok != needState {
			t.Fatalf("%s: state present %v, want %v", p.Name, ok, needState)
		}
		if !ok {
			continue
		}
		m := e.(map[string]any)
		switch o.Type() {
		case "SGD", "LARS":
			if _, ok := m["momentum_buffer"].(*ts.Tensor); !ok || len(m) != 1 {
				t.Fatalf("%s state %v, want momentum_buffer only", p.Name, m)
			}
		default:
			step := m["step"].(*ts.Tensor)
			if v := floats(t, step); len(v) != 1 || v[0] != 2 {
				t.Fatalf("%s step %v, want 2", p.Name, v)
			}
			if _, ok := m["exp_avg_sq"].(*ts.Tensor); !ok {
				t.Fatalf("%s lacks exp_avg_sq", p.Name)
			}
			if _, ok := m["max_exp_avg_sq"]; ok != o.Groups()[i].Amsgrad {
				t.Fatalf("%s max_exp_avg_sq present %v, amsgrad %v", p.Name, ok, o.Groups()[i].Amsgrad)
			}
		}
	}
}

func TestLoadStateErrors(t *testing.T) {
	lockThread(t)
	specs := resnetLikeSpecs(3, 1)
	ps := makeParams(t, specs)
	defer dropParams(ps)
	cfg := map[string]any{"type": "SGD", "lr": 0.1, "momentum": 0.9}
	o, err := BuildOptimizer(ps, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	backwardGrads(t, ps, specs, 0)
	if err := o.Step(); err != nil {
		t.Fatal(err)
	}
	good, err := o.State()
	if err != nil {
		t.Fatal(err)
	}
	defer DropState(good)
	wrongShape, _ := ts.NewTensorFromData([]float32{1, 2, 3}, []int64{3})
	defer wrongShape.MustDrop()
	tests := []struct {
		mutate func(sd map[string]any) map[string]any
		want   string
	}{
		{func(sd map[string]any) map[string]any {
			return map[string]any{"state": sd["state"], "param_groups": sd["param_groups"].([]any)[:3]}
		}, "3 parameter groups saved, optimizer has 10"},
		{func(sd map[string]any) map[string]any {
			return map[string]any{"state": map[int]any{0: map[string]any{"momentum_buffer": wrongShape}}, "param_groups": sd["param_groups"]}
		}, "state[0].momentum_buffer: shape [3], parameter backbone.conv1.weight has [4 3 3 3]"},
		{func(sd map[string]any) map[string]any {
			return map[string]any{"state": map[int]any{42: map[string]any{}}, "param_groups": sd["param_groups"]}
		}, "state[42] names no parameter"},
		{func(sd map[string]any) map[string]any {
			return map[string]any{"state": sd["state"]}
		}, "param_groups missing"},
	}
	for _, tc := range tests {
		err := o.LoadState(tc.mutate(good))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
	// A failed load leaves the optimizer usable and unchanged.
	after, err := o.State()
	if err != nil {
		t.Fatal(err)
	}
	defer DropState(after)
	if len(after["state"].(map[int]any)) != len(good["state"].(map[int]any)) {
		t.Fatal("failed LoadState changed the state")
	}
}

// TestParamsOfNaturalOrder: only trainable variables of a VarStore, in
// natural order (numeric segments numerically); ParamsNamed keeps the
// given order and includes frozen ones.
func TestParamsOfNaturalOrder(t *testing.T) {
	lockThread(t)
	vs := nn.NewVarStore(gotch.CPU)
	root := vs.Root()
	for _, blk := range []string{"10", "2", "0"} {
		if _, err := root.Sub("layer1").Sub(blk).Zeros("w", []int64{1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := root.Sub("a").Zeros("w", []int64{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Sub("bn").ZerosNoTrain("running_mean", []int64{1}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ParamsOf(vs) {
		got = append(got, p.Name)
	}
	want := []string{"a.w", "layer1.0.w", "layer1.2.w", "layer1.10.w"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ParamsOf = %v, want %v", got, want)
	}
	named, err := ParamsNamed(vs, []string{"layer1.10.w", "bn.running_mean"})
	if err != nil || len(named) != 2 || named[1].Name != "bn.running_mean" {
		t.Fatalf("ParamsNamed = %v, %v", named, err)
	}
	if _, err := ParamsNamed(vs, []string{"nope"}); err == nil || !strings.Contains(err.Error(), `"nope" not in the VarStore`) {
		t.Fatalf("missing name error = %v", err)
	}
}
