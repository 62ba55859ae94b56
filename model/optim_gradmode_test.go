package model

import (
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
