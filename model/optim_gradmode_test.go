package model

import (
	"strings"
	"testing"
)

// TestStepRestoresGradMode guards against gotch v0.7.0's GradSetEnabled,
// whose garbage "previous mode" made no-grad sections leave grad off: a
// Step must leave grad mode on, and off when it was off.
func TestStepRestoresGradMode(t *testing.T) {
	lockThread(t)
	specs := resnetLikeSpecs(5, 1)
	ps := makeParams(t, specs)
	defer dropParams(ps)
	o, err := BuildOptimizer(ps, map[string]any{"type": "SGD", "lr": 0.1, "momentum": 0.9})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for _, on := range []bool{true, false} {
		if _, err := SetGradMode(on); err != nil {
			t.Fatal(err)
		}
		if err := o.Step(); err != nil {
			t.Fatal(err)
		}
		prev, err := SetGradMode(true)
		if err != nil {
			t.Fatal(err)
		}
		if prev != on {
			t.Fatalf("grad mode after Step = %v, want %v", prev, on)
		}
	}
}

// TestSkipStep: a skipped group keeps its parameters and state although
// they have gradients, momentum and weight decay; others still move.
func TestSkipStep(t *testing.T) {
	lockThread(t)
	specs := resnetLikeSpecs(6, 1)
	ps := makeParams(t, specs)
	defer dropParams(ps)
	o, err := BuildOptimizer(ps, map[string]any{"type": "LARS", "lr": 0.5, "momentum": 0.9, "weight_decay": 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	backwardGrads(t, ps, specs, 0)
	o.Groups()[0].SkipStep = true
	if err := o.Step(); err != nil {
		t.Fatal(err)
	}
	sd, err := o.State()
	if err != nil {
		t.Fatal(err)
	}
	defer DropState(sd)
	if _, ok := sd["state"].(map[int]any)[0]; ok {
		t.Fatal("skipped parameter got momentum state")
	}
	for i, want := range [][]float32{specs[0].init, specs[4].init} {
		pi := []int{0, 4}[i]
		got := floats(t, ps[pi].T)
		same := true
		for j := range got {
			same = same && got[j] == float64(want[j])
		}
		if same != (pi == 0) {
			t.Fatalf("%s unchanged = %v, want %v", specs[pi].name, same, pi == 0)
		}
	}
}

// TestSetFrozen: parameters the predicate names behave as if their grad
// were None (frozen_layers_cfg) — unchanged and without state — while the
// rest of their group still moves; nil unfreezes them.
func TestSetFrozen(t *testing.T) {
	lockThread(t)
	specs := resnetLikeSpecs(7, 1)
	ps := makeParams(t, specs)
	defer dropParams(ps)
	o, err := BuildOptimizer(ps, map[string]any{"type": "SGD", "lr": 0.5, "momentum": 0.9, "weight_decay": 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	backwardGrads(t, ps, specs, 0)
	o.SetFrozen(func(name string) bool { return strings.Contains(name, "neck.fc") })
	if err := o.Step(); err != nil {
		t.Fatal(err)
	}
	unchanged := func(i int) bool {
		got := floats(t, ps[i].T)
		for j := range got {
			if got[j] != float64(specs[i].init[j]) {
				return false
			}
		}
		return true
	}
	for i, s := range specs {
		if !s.reqGrad || s.name == "head.unused.weight" {
			continue
		}
		frozen := strings.Contains(s.name, "neck.fc")
		if unchanged(i) != frozen {
			t.Fatalf("%s unchanged = %v, want %v", s.name, unchanged(i), frozen)
		}
	}
	o.SetFrozen(nil)
	if err := o.Step(); err != nil {
		t.Fatal(err)
	}
	if unchanged(4) {
		t.Fatal("neck.fc.weight still unchanged after SetFrozen(nil)")
	}
}
