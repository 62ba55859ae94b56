package model

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// runRef runs a reference script under testdata/optim with the Debian
// python (the one with torch), feeding stdin; it skips when that python
// is absent, or lacks torch and needTorch is set.
func runRef(t *testing.T, script string, needTorch bool, stdin []byte, args ...string) []byte {
	t.Helper()
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("reference needs %s: %v", py, err)
	}
	if needTorch {
		if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
			t.Skipf("reference needs torch and numpy in %s: %v", py, err)
		}
	}
	cmd := exec.Command(py, append([]string{"testdata/optim/" + script}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return out
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)
}

// TestLRClosedForm checks chosen points against the formulas of
// components.md §7.3 (mmcv lr_updater.py, MMSelfSup cosineAnnealing_hook.py)
// written out by hand for the shipped schedules.
func TestLRClosedForm(t *testing.T) {
	cosine := func(base, target, f float64) float64 { return target + 0.5*(base-target)*(1+math.Cos(math.Pi*f)) }
	tests := []struct {
		name       string
		cfg        map[string]any
		ipe, epoch int // iters per epoch, max epochs
		base       float64
		atEpoch    int
		atIter     int
		want       float64
	}{
		// sgd_steplr-200e: ×0.1 at 120 and 160.
		{"step before 120", map[string]any{"policy": "step", "step": []any{120, 160}}, 10, 200, 0.03, 119, 1199, 0.03},
		{"step at 120", map[string]any{"policy": "step", "step": []any{120, 160}}, 10, 200, 0.03, 120, 1200, 0.03 * 0.1},
		{"step at 199", map[string]any{"policy": "step", "step": []any{120, 160}}, 10, 200, 0.03, 199, 1999, 0.03 * 0.01},
		// ODC: step 400 γ 0.4, never reached in epoch 399, reached at 400.
		{"step int", map[string]any{"policy": "step", "step": 400, "gamma": 0.4}, 5, 440, 0.06, 400, 2000, 0.06 * 0.4},
		{"step min_lr clip", map[string]any{"policy": "Step", "step": 1, "gamma": 0.1, "min_lr": 0.05}, 5, 10, 1, 3, 15, 0.05},
		// RelativeLoc: step 30/50 with linear warmup 5 epochs ratio 0.1 per iter.
		{"step linear warmup", map[string]any{"policy": "step", "step": []any{30, 50}, "warmup": "linear", "warmup_iters": 5, "warmup_ratio": 0.1, "warmup_by_epoch": true}, 10, 70, 0.2, 2, 25,
			0.2 * (1 - (1-25.0/50)*(1-0.1))},
		{"step constant warmup", map[string]any{"policy": "step", "step": []any{3}, "warmup": "constant", "warmup_iters": 7, "warmup_ratio": 0.25}, 4, 5, 0.5, 1, 6, 0.5 * 0.25},
		{"step after constant warmup", map[string]any{"policy": "step", "step": []any{3}, "warmup": "constant", "warmup_iters": 7, "warmup_ratio": 0.25}, 4, 5, 0.5, 1, 7, 0.5},
		{"step exp warmup", map[string]any{"policy": "step", "step": []any{3}, "warmup": "exp", "warmup_iters": 8, "warmup_ratio": 0.01}, 4, 5, 0.5, 0, 2, 0.5 * math.Pow(0.01, 1-2.0/8)},
		// sgd_coslr: cosine per epoch, min 0.
		{"cosine epoch", map[string]any{"policy": "CosineAnnealing", "min_lr": 0.0}, 10, 200, 0.03, 50, 505, cosine(0.03, 0, 50.0/200)},
		// lars_coslr (SimCLR): cosine per epoch, linear warmup 10 epochs ratio 1e-4.
		{"simclr warmup", map[string]any{"policy": "CosineAnnealing", "min_lr": 0.0, "warmup": "linear", "warmup_iters": 10, "warmup_ratio": 1e-4, "warmup_by_epoch": true}, 100, 200, 0.3, 3, 345,
			cosine(0.3, 0, 3.0/200) * (1 - (1-345.0/1000)*(1-1e-4))},
		{"simclr after warmup", map[string]any{"policy": "CosineAnnealing", "min_lr": 0.0, "warmup": "linear", "warmup_iters": 10, "warmup_ratio": 1e-4, "warmup_by_epoch": true}, 100, 200, 0.3, 10, 1000, cosine(0.3, 0, 10.0/200)},
		// SwAV: min_lr 6e-4, no warmup.
		{"swav cosine", map[string]any{"policy": "CosineAnnealing", "min_lr": 6e-4}, 10, 200, 0.6, 199, 1999, cosine(0.6, 6e-4, 199.0/200)},
		{"cosine min_lr_ratio", map[string]any{"policy": "CosineAnnealing", "min_lr_ratio": 0.01}, 10, 20, 2, 7, 75, cosine(2, 0.02, 7.0/20)},
		// Barlow Twins: cosine by iter, min_lr 0.0016 absolute, warmup 10 epochs ratio 1.6e-4.
		{"barlow by iter", map[string]any{"policy": "CosineAnnealing", "by_epoch": false, "min_lr": 0.0016, "warmup": "linear", "warmup_iters": 10, "warmup_ratio": 1.6e-4, "warmup_by_epoch": true}, 10, 300, 1.6, 42, 425,
			cosine(1.6, 0.0016, 425.0/3000)},
		{"barlow in warmup", map[string]any{"policy": "CosineAnnealing", "by_epoch": false, "min_lr": 0.0016, "warmup": "linear", "warmup_iters": 10, "warmup_ratio": 1.6e-4, "warmup_by_epoch": true}, 10, 300, 0.0384, 4, 40,
			cosine(0.0384, 0.0016, 40.0/3000) * (1 - (1-40.0/100)*(1-1.6e-4))},
		// MAE: StepFixCosineAnnealing by iter, linear warmup 40 epochs from 0.
		{"mae warmup start", map[string]any{"policy": "StepFixCosineAnnealing", "by_epoch": false, "min_lr": 0.0, "warmup": "linear", "warmup_iters": 40, "warmup_ratio": 1e-4, "warmup_by_epoch": true}, 10, 400, 2.4e-3, 0, 0, 0},
		{"mae warmup mid", map[string]any{"policy": "StepFixCosineAnnealing", "by_epoch": false, "min_lr": 0.0, "warmup": "linear", "warmup_iters": 40, "warmup_ratio": 1e-4, "warmup_by_epoch": true}, 10, 400, 2.4e-3, 10, 100,
			cosine(2.4e-3, 0, (100.0-400)/(4000-400)) * 100.0 / 400},
		{"mae after warmup", map[string]any{"policy": "StepFixCosineAnnealing", "by_epoch": false, "min_lr": 0.0, "warmup": "linear", "warmup_iters": 40, "warmup_ratio": 1e-4, "warmup_by_epoch": true}, 10, 400, 2.4e-3, 200, 2000,
			cosine(2.4e-3, 0, (2000.0-400)/(4000-400))},
		// A short run of a long config: the warmup spans all 2 iterations; MMSelfSup divides by zero.
		{"stepfix warmup spans the run", map[string]any{"policy": "StepFixCosineAnnealing", "by_epoch": false, "min_lr": 0.0, "warmup": "linear", "warmup_iters": 1, "warmup_ratio": 1e-4, "warmup_by_epoch": true}, 2, 1, 1.5e-3, 0, 1,
			1.5e-3 * 1.0 / 2}, // StepFix's linear warmup starts from 0
		{"stepfix by epoch", map[string]any{"policy": "StepFixCosineAnnealing", "min_lr": 1e-6, "warmup": "linear", "warmup_iters": 5, "warmup_by_epoch": true}, 10, 100, 4e-3, 50, 505,
			cosine(4e-3, 1e-6, (50.0-5)/(100-5))},
		// mmseg benchmark: poly power 0.9 min 1e-4 by iter.
		{"poly", map[string]any{"policy": "poly", "power": 0.9, "min_lr": 1e-4, "by_epoch": false}, 100, 200, 0.01, 12, 1234, (0.01-1e-4)*math.Pow(1-1234.0/20000, 0.9) + 1e-4},
		{"fixed", map[string]any{"policy": "Fixed"}, 10, 5, 0.1, 4, 49, 0.1},
		{"fixed exp warmup", map[string]any{"policy": "Fixed", "warmup": "exp", "warmup_iters": 4, "warmup_ratio": 0.5}, 10, 5, 0.1, 0, 1, 0.1 * math.Pow(0.5, 0.75)},
		{"exp", map[string]any{"policy": "Exp", "gamma": 0.9}, 10, 5, 0.1, 3, 30, 0.1 * math.Pow(0.9, 3)},
		{"inv", map[string]any{"policy": "Inv", "gamma": 0.1, "power": 2.0, "by_epoch": false}, 10, 5, 0.1, 3, 30, 0.1 * math.Pow(1+0.1*30, -2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := BuildLRSchedule(tc.cfg, tc.ipe, tc.epoch)
			if err != nil {
				t.Fatal(err)
			}
			got := s.LR(tc.base, tc.atEpoch, tc.atIter)
			if !relClose(got, tc.want, 1e-12) && math.Abs(got-tc.want) > 1e-18 {
				t.Fatalf("LR(%v, %d, %d) = %.17g, want %.17g", tc.base, tc.atEpoch, tc.atIter, got, tc.want)
			}
		})
	}
}

// TestLRMatchesMMCVSimulation runs every policy × warmup combination
// through testdata/optim/ref_lr.py (mmcv's stateful hook, transcribed) and
// compares the LR of every iteration of every group.
func TestLRMatchesMMCVSimulation(t *testing.T) {
	type refCase struct {
		Cfg           map[string]any `json:"cfg"`
		ItersPerEpoch int            `json:"iters_per_epoch"`
		MaxEpochs     int            `json:"max_epochs"`
		BaseLRs       []float64      `json:"base_lrs"`
	}
	var cases []refCase
	policies := []map[string]any{
		{"policy": "step", "step": []any{3, 5}},
		{"policy": "Step", "step": 2, "gamma": 0.4, "min_lr": 0.05},
		{"policy": "CosineAnnealing", "min_lr": 0.0},
		{"policy": "CosineAnnealing", "min_lr_ratio": 0.01},
		{"policy": "StepFixCosineAnnealing", "min_lr": 1e-5},
		{"policy": "poly", "power": 0.9, "min_lr": 1e-4},
		{"policy": "fixed"},
		{"policy": "Exp", "gamma": 0.8},
		{"policy": "Inv", "gamma": 0.05, "power": 0.75},
	}
	warmups := []map[string]any{
		{},
		{"warmup": "linear", "warmup_iters": 10, "warmup_ratio": 1e-4},
		{"warmup": "constant", "warmup_iters": 7, "warmup_ratio": 0.25},
		{"warmup": "exp", "warmup_iters": 9, "warmup_ratio": 0.01},
		{"warmup": "linear", "warmup_iters": 2, "warmup_ratio": 0.1, "warmup_by_epoch": true},
	}
	for _, p := range policies {
		for _, w := range warmups {
			for _, byEpoch := range []bool{true, false} {
				cfg := map[string]any{"by_epoch": byEpoch}
				for k, v := range p {
					cfg[k] = v
				}
				for k, v := range w {
					cfg[k] = v
				}
				cases = append(cases, refCase{cfg, 6, 8, []float64{0.3, 0.3 * 0.024, 4.8}})
			}
		}
	}
	in, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	var ref [][][]float64
	if err := json.Unmarshal(runRef(t, "ref_lr.py", false, in), &ref); err != nil {
		t.Fatal(err)
	}
	for ci, c := range cases {
		s, err := BuildLRSchedule(c.Cfg, c.ItersPerEpoch, c.MaxEpochs)
		if err != nil {
			t.Fatalf("case %v: %v", c.Cfg, err)
		}
		for it, lrs := range ref[ci] {
			for g, want := range lrs {
				got := s.LR(c.BaseLRs[g], it/c.ItersPerEpoch, it)
				if !relClose(got, want, 1e-12) && math.Abs(got-want) > 1e-15 {
					t.Fatalf("cfg %v iter %d group %d: Go %.17g, mmcv %.17g", c.Cfg, it, g, got, want)
				}
			}
		}
	}
	t.Logf("%d schedules × %d iterations match", len(cases), 6*8)
}

func TestLRConfigErrors(t *testing.T) {
	tests := []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{}, "lr_config.policy: missing"},
		{map[string]any{"policy": "Cosine"}, `lr_config.policy: "Cosine" not registered`},
		{map[string]any{"policy": "cosineannealing", "min_lr": 0.0}, `"Cosineannealing" not registered`},
		{map[string]any{"policy": "CosineAnnealing"}, "exactly one of min_lr and min_lr_ratio"},
		{map[string]any{"policy": "CosineAnnealing", "min_lr": 0.0, "min_lr_ratio": 0.1}, "exactly one of min_lr and min_lr_ratio"},
		{map[string]any{"policy": "step", "step": []any{1}, "warmup": "cosine", "warmup_iters": 3}, `lr_config.warmup: "cosine" is not supported`},
		{map[string]any{"policy": "step", "step": []any{1}, "warmup": "linear"}, "lr_config.warmup_iters: must be a positive integer"},
		{map[string]any{"policy": "step", "step": []any{1}, "warmup": "linear", "warmup_iters": 3, "warmup_ratio": 0.0}, "lr_config.warmup_ratio: 0 not in (0, 1]"},
		{map[string]any{"policy": "step"}, "lr_config.step: required for Step"},
		{map[string]any{"policy": "step", "step": []any{0, 3}}, "lr_config.step: milestone 0 must be positive"},
		{map[string]any{"policy": "step", "step": 3, "gama": 0.5}, "lr_config.gama: unknown key"},
		{map[string]any{"policy": "step", "step": 3, "by_epoch": "yes"}, "lr_config.by_epoch: want true or false"},
	}
	for _, tc := range tests {
		_, err := BuildLRSchedule(tc.cfg, 10, 10)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cfg %v: error %v, want it to contain %q", tc.cfg, err, tc.want)
		}
	}
}

func TestSetLRUsesInitialLR(t *testing.T) {
	s, err := BuildLRSchedule(map[string]any{"policy": "step", "step": []any{1}}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	groups := []*Group{{LR: 0.5, InitialLR: 1}, {LR: 0.02, InitialLR: 0.2}}
	SetLR(groups, s, 1, 2)
	if !relClose(groups[0].LR, 0.1, 1e-15) || !relClose(groups[1].LR, 0.02, 1e-15) {
		t.Fatalf("LRs %v %v, want 0.1 0.02", groups[0].LR, groups[1].LR)
	}
}

// TestMomentumUpdate checks BYOLHook's cosine schedule (algorithms.md §0.5):
// m = 1 − (1 − 0.99)(cos(π t/T) + 1)/2 on iterations where (t+1) % 16 == 0.
func TestMomentumUpdate(t *testing.T) {
	h, err := BuildMomentumUpdate(map[string]any{"type": "BYOLHook", "end_momentum": 1.0, "update_interval": 16})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		iter, max int
		due       bool
		want      float64
	}{
		{0, 1000, false, 0.99},
		{15, 1000, true, 1 - 0.01*(math.Cos(math.Pi*15/1000)+1)/2},
		{500, 1000, false, 0.995},
		{999, 1000, false, 1 - 0.01*(math.Cos(math.Pi*999/1000)+1)/2},
		{1007, 2016, true, 1 - 0.01*(math.Cos(math.Pi*1007/2016)+1)/2},
	}
	for _, tc := range tests {
		if got := h.Due(tc.iter); got != tc.due {
			t.Errorf("Due(%d) = %v, want %v", tc.iter, got, tc.due)
		}
		if got := h.Momentum(0.99, tc.iter, tc.max); !relClose(got, tc.want, 1e-15) {
			t.Errorf("Momentum(0.99, %d, %d) = %.17g, want %.17g", tc.iter, tc.max, got, tc.want)
		}
	}
	d, err := BuildMomentumUpdate(map[string]any{"type": "MomentumUpdateHook"})
	if err != nil || d.EndMomentum != 1 || d.UpdateInterval != 1 {
		t.Fatalf("defaults = %+v, %v; want end 1 interval 1", d, err)
	}
	if _, err := BuildMomentumUpdate(map[string]any{"type": "BYOLHook", "update_intervel": 2}); err == nil || !strings.Contains(err.Error(), "update_intervel: unknown key") {
		t.Fatalf("typo error = %v", err)
	}
}
