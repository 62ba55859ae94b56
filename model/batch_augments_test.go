package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// mixupCutMixCfg is the fine-tuning configs' train_cfg.augments with
// classes classes.
func mixupCutMixCfg(classes int) []any {
	return []any{
		map[string]any{"type": "BatchMixup", "alpha": 0.8, "num_classes": classes, "prob": 0.5},
		map[string]any{"type": "BatchCutMix", "alpha": 1.0, "num_classes": classes, "prob": 0.5},
	}
}

// TestBatchMixCutMixParityTorch mixes a 4×3×8×10 batch with fixed λ, π
// and CutMix centres and compares with testdata/mix/ref_mix.py (mmcls
// 0.23's BatchMixupLayer/BatchCutMixLayer with their np.random/randperm
// draws replaced by the same values; torch 1.13.1): mixed images and soft
// labels within 1e-6, CutMix boxes exact and corrected λ within 1e-12,
// and LabelSmoothLoss('original', ε 0.1) on fixed scores against the soft
// labels (labelSmoothSoftCE) and against the hard labels
// (MAEFinetuneHead.Loss) within 1e-6. The cases cover a box clipped at
// the right edge, one clipped at the top-left corner and correct_lam
// False.
func TestBatchMixCutMixParityTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	type tcase struct {
		Kind       string  `json:"kind"`
		Lam        float64 `json:"lam"`
		Perm       []int64 `json:"perm"`
		Cy         int64   `json:"cy"`
		Cx         int64   `json:"cx"`
		Classes    int64   `json:"classes"`
		Eps        float64 `json:"eps"`
		CorrectLam bool    `json:"correct_lam"`
	}
	cases := []tcase{
		{Kind: "mixup", Lam: 0.3, Perm: []int64{2, 0, 3, 1}, Classes: 5, Eps: 0.1},
		{Kind: "cutmix", Lam: 0.6, Perm: []int64{1, 2, 3, 0}, Cy: 2, Cx: 9, Classes: 5, Eps: 0.1, CorrectLam: true},
		{Kind: "cutmix", Lam: 0.2, Perm: []int64{3, 2, 1, 0}, Cy: 0, Cx: 0, Classes: 5, Eps: 0.1, CorrectLam: true},
		{Kind: "cutmix", Lam: 0.5, Perm: []int64{0, 3, 1, 2}, Cy: 4, Cx: 5, Classes: 5, Eps: 0, CorrectLam: false},
	}
	onPinned(t, func() error {
		ManualSeed(21)
		x := ts.MustRandn([]int64{4, 3, 8, 10}, gotch.Float, gotch.CPU)
		labels := ts.MustOfSlice([]int64{1, 3, 0, 3})
		scores := ts.MustRandn([]int64{4, 5}, gotch.Float, gotch.CPU)
		defer algoDropAll([]*ts.Tensor{x, labels, scores})
		writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "x", T: x}, {Name: "labels", T: labels}, {Name: "scores", T: scores}})
		js, err := json.Marshal(cases)
		if err != nil {
			return err
		}
		cmd := exec.Command(refPython, filepath.Join("testdata", "mix", "ref_mix.py"), string(js), filepath.Join(dir, "in.pth"), filepath.Join(dir, "out.pth"))
		cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ref_mix.py: %v\n%s", err, out)
		}
		ref := readTensors(t, filepath.Join(dir, "out.pth"))
		for i, c := range cases {
			pl := MixPlan{Kind: augMixup, Lam: c.Lam, Perm: c.Perm}
			if c.Kind == "cutmix" {
				pl.Kind = augCutMix
				pl.Y0, pl.Y1, pl.X0, pl.X1 = cutMixBoxAt(8, 10, c.Lam, c.Cy, c.Cx)
				if c.CorrectLam {
					pl.Lam = 1 - float64((pl.Y1-pl.Y0)*(pl.X1-pl.X0))/80
				}
				box, err := refTensor(t, ref, "box."+itoa(i)).Float64s()
				if err != nil {
					return err
				}
				if got := []float64{float64(pl.Y0), float64(pl.Y1), float64(pl.X0), float64(pl.X1)}; !slices.Equal(got, box) {
					t.Errorf("case %d: box %v, mmcls %v", i, got, box)
				}
				lam, err := refTensor(t, ref, "lam."+itoa(i)).Float64s()
				if err != nil {
					return err
				}
				if math.Abs(lam[0]-pl.Lam) > 1e-12 {
					t.Errorf("case %d: λ %v, mmcls %v", i, pl.Lam, lam[0])
				}
			}
			xm, y, err := MixBatch(x, labels, c.Classes, pl)
			if err != nil {
				return err
			}
			near(t, ref, "img."+itoa(i), xm, 1e-6)
			near(t, ref, "label."+itoa(i), y, 1e-6)
			loss, err := labelSmoothSoftCE(scores, y, c.Eps, c.Classes)
			if err != nil {
				return err
			}
			near(t, ref, "loss."+itoa(i), loss, 1e-6)
			algoDropAll([]*ts.Tensor{xm, y, loss})
		}
		vs := nn.NewVarStore(gotch.CPU)
		h, err := NewMAEFinetuneHead(vs.Root().Sub("head"), MAEFinetuneHeadConfig{EmbedDim: 4, NumClasses: 5, LabelSmoothVal: 0.1})
		if err != nil {
			return err
		}
		l, err := h.Loss([]*ts.Tensor{scores}, labels)
		if err != nil {
			return err
		}
		defer l.Drop()
		near(t, ref, "loss_hard", l.Get("loss"), 1e-6)
		return nil
	})
}

// TestBatchAugmentsPlanStatistics draws 20000 plans for the fine-tuning
// configs' augments (Mixup α 0.8 / CutMix α 1, prob ½ each) from a fixed
// PCG stream and checks what mmcls's draws promise: the choice splits
// about ½/½ (±0.02); Mixup's λ has Beta(0.8, 0.8)'s mean ½ and variance
// 1/(4·2.6) ≈ 0.0962 (±0.01, ±0.005); every π is a permutation; every
// CutMix box lies in the image and its λ is 1 − area/(H·W). CutMix with
// correct_lam False keeps Beta(1, 1)'s λ (mean ½, variance 1/12), and a
// lone Mixup with prob 0.3 leaves the batch alone (Identity) 70 % of the
// time.
func TestBatchAugmentsPlanStatistics(t *testing.T) {
	b, err := ParseBatchAugments(mixupCutMixCfg(10))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const draws = 20000
	var mixLams []float64
	cut := 0
	for i := 0; i < draws; i++ {
		pl := b.Plan(rng, 8, 32, 24)
		p := slices.Clone(pl.Perm)
		slices.Sort(p)
		if !slices.Equal(p, []int64{0, 1, 2, 3, 4, 5, 6, 7}) {
			t.Fatalf("draw %d: π %v is not a permutation of 0..7", i, pl.Perm)
		}
		switch pl.Kind {
		case augMixup:
			mixLams = append(mixLams, pl.Lam)
		case augCutMix:
			cut++
			if pl.Y0 < 0 || pl.Y0 > pl.Y1 || pl.Y1 > 32 || pl.X0 < 0 || pl.X0 > pl.X1 || pl.X1 > 24 {
				t.Fatalf("draw %d: box rows [%d,%d) cols [%d,%d) outside 32×24", i, pl.Y0, pl.Y1, pl.X0, pl.X1)
			}
			if want := 1 - float64((pl.Y1-pl.Y0)*(pl.X1-pl.X0))/(32*24); pl.Lam != want {
				t.Fatalf("draw %d: λ %v, want the corrected %v", i, pl.Lam, want)
			}
		default:
			t.Fatalf("draw %d: kind %q with probs summing to 1", i, pl.Kind)
		}
	}
	if f := float64(cut) / draws; math.Abs(f-0.5) > 0.02 {
		t.Errorf("CutMix chosen %.3f of the time, want 0.5", f)
	}
	checkMoments(t, "Mixup λ ~ Beta(0.8, 0.8)", mixLams, 0.5, 1/(4*2.6))

	raw, err := ParseBatchAugments(map[string]any{"type": "BatchCutMix", "alpha": 1.0, "num_classes": 10, "correct_lam": false})
	if err != nil {
		t.Fatal(err)
	}
	var lams []float64
	for i := 0; i < draws; i++ {
		lams = append(lams, raw.Plan(rng, 2, 32, 32).Lam)
	}
	checkMoments(t, "CutMix λ ~ Beta(1, 1) uncorrected", lams, 0.5, 1.0/12)

	lone, err := ParseBatchAugments([]any{map[string]any{"type": "BatchMixup", "alpha": 0.8, "num_classes": 10, "prob": 0.3}})
	if err != nil {
		t.Fatal(err)
	}
	id := 0
	for i := 0; i < draws; i++ {
		if pl := lone.Plan(rng, 2, 8, 8); pl.Kind == augIdentity {
			id++
			if pl.Lam != 1 || pl.Perm != nil {
				t.Fatalf("Identity plan %+v, want λ 1 and no π", pl)
			}
		}
	}
	if f := float64(id) / draws; math.Abs(f-0.7) > 0.02 {
		t.Errorf("Identity chosen %.3f of the time, want 0.7", f)
	}
}

func checkMoments(t *testing.T, what string, xs []float64, mean, variance float64) {
	t.Helper()
	m := 0.0
	for _, x := range xs {
		if x < 0 || x > 1 {
			t.Fatalf("%s: draw %v outside [0, 1]", what, x)
		}
		m += x
	}
	m /= float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	v /= float64(len(xs) - 1)
	if math.Abs(m-mean) > 0.01 || math.Abs(v-variance) > 0.005 {
		t.Errorf("%s: mean %.4f variance %.4f over %d draws, want %.4f and %.4f", what, m, v, len(xs), mean, variance)
	}
}

// TestBatchAugmentsDeterministic: Apply under the same libtorch seed (the
// runner seeds it from the run's seed and the iteration) gives the same
// plan and bit-identical mixed images and labels; another seed another λ.
func TestBatchAugmentsDeterministic(t *testing.T) {
	b, err := ParseBatchAugments(mixupCutMixCfg(10))
	if err != nil {
		t.Fatal(err)
	}
	onPinned(t, func() error {
		ManualSeed(0)
		x := ts.MustRandn([]int64{6, 3, 16, 16}, gotch.Float, gotch.CPU)
		labels := ts.MustOfSlice([]int64{0, 1, 2, 3, 4, 5})
		defer algoDropAll([]*ts.Tensor{x, labels})
		run := func(seed int64) ([]float64, []float64, MixPlan) {
			ManualSeed(seed)
			xm, y, pl, err := b.Apply(x, labels)
			if err != nil {
				t.Fatal(err)
			}
			defer algoDropAll([]*ts.Tensor{xm, y})
			return flatF64(xm), flatF64(y), pl
		}
		x1, y1, p1 := run(1_000_003*7 + 12)
		x2, y2, p2 := run(1_000_003*7 + 12)
		_, _, p3 := run(1_000_003*7 + 13)
		if !slices.Equal(x1, x2) || !slices.Equal(y1, y2) || p1.Lam != p2.Lam || p1.Kind != p2.Kind || !slices.Equal(p1.Perm, p2.Perm) {
			t.Errorf("same seed and iteration: plans %+v and %+v or outputs differ", p1, p2)
		}
		if p1.Lam == p3.Lam {
			t.Errorf("next iteration drew the same λ %v", p1.Lam)
		}
		// Soft labels are a distribution over the classes.
		for i := 0; i < 6; i++ {
			s := 0.0
			for _, v := range y1[i*10 : i*10+10] {
				s += v
			}
			if math.Abs(s-1) > 1e-6 {
				t.Errorf("soft label row %d sums to %v", i, s)
			}
		}
		return nil
	})
}

// flatF64 copies t's values out as float64.
func flatF64(t *ts.Tensor) []float64 {
	d := t.MustTotype(gotch.Double, false).MustContiguous(true)
	defer d.MustDrop()
	return d.Float64Values()
}

// TestParseBatchAugmentsErrors: mmcls's assertions become errors naming
// the entry.
func TestParseBatchAugmentsErrors(t *testing.T) {
	entry := func(kv ...any) map[string]any {
		m := map[string]any{"type": "BatchMixup", "alpha": 0.8, "num_classes": 10, "prob": 0.5}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	for _, c := range []struct {
		v    any
		want string
	}{
		{[]any{entry("alpha", 0.0)}, "augments.0: alpha 0 must be > 0"},
		{[]any{entry("type", "BatchFoo")}, `augments.0: type "BatchFoo" not supported`},
		{[]any{entry(), entry("prob", 0.7)}, "probs sum to 1.2 > 1"},
		{[]any{entry(), entry("num_classes", 5)}, "augments.1.num_classes: 5, but entry 0 has 10"},
		{[]any{entry("correct_lam", false)}, "augments.0.correct_lam: only for BatchCutMix"},
		{[]any{entry(), map[string]any{"type": "Identity", "num_classes": 10, "prob": 0.2}}, "with an Identity the probs must sum to 1"},
		{[]any{entry("prob", 1.5)}, "prob 1.5 outside [0, 1]"},
		{[]any{entry("alpha", "x")}, "augments.0.alpha"},
		{[]any{}, "empty list"},
		{"BatchMixup", "want a dict or a list"},
	} {
		_, err := ParseBatchAugments(c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.v, err, c.want)
		}
	}
}

// tinyFinetuneCfg is a Classification with a 2-layer 32-d
// MIMVisionTransformer (img 16, patch 4, no drop path) and MAEFinetuneHead
// over 10 classes, with the fine-tuning configs' augments.
func tinyFinetuneCfg() map[string]any {
	return map[string]any{
		"type": "Classification",
		"backbone": map[string]any{"type": "MIMVisionTransformer", "arch": tinyViTArch(), "img_size": 16, "patch_size": 4,
			"final_norm": false, "use_window": true, "init_values": 0.1},
		"head":      map[string]any{"type": "MAEFinetuneHead", "num_classes": 10, "embed_dim": 32, "label_smooth_val": 0.1},
		"train_cfg": map[string]any{"augments": mixupCutMixCfg(10)},
	}
}

// TestClassificationBatchAugmentsStep: Classification.TrainStep with
// augments equals mixing by hand (the same libtorch seed ⇒ the same plan),
// the backbone on the mixed batch and LabelSmoothLoss on the soft labels,
// within 1e-6; and a head without a soft-target loss, or a num_classes
// mismatch, is refused at build.
func TestClassificationBatchAugmentsStep(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(5)
		a, _ := algoBuild(t, tinyFinetuneCfg())
		m := a.(*Classification)
		x := ts.MustRandn([]int64{4, 3, 16, 16}, gotch.Float, gotch.CPU)
		labels := ts.MustOfSlice([]int64{9, 2, 2, 5})
		defer algoDropAll([]*ts.Tensor{x, labels})
		for _, seed := range []int64{31, 32, 33, 34} {
			ManualSeed(seed)
			l, err := m.TrainStep(&StepInput{Views: []*ts.Tensor{x}, Labels: labels})
			if err != nil {
				return err
			}
			got := l.Get("loss").Float64Values()[0]
			l.Drop()
			ManualSeed(seed)
			rng, err := batchRNG()
			if err != nil {
				return err
			}
			pl := m.augments.Plan(rng, 4, 16, 16)
			xm, y, err := MixBatch(x, labels, 10, pl)
			if err != nil {
				return err
			}
			feats, err := m.backbone.Forward(xm, true)
			if err != nil {
				return err
			}
			scores, err := m.head.Forward(feats, true)
			if err != nil {
				return err
			}
			want, err := labelSmoothSoftCE(scores[0], y, 0.1, 10)
			if err != nil {
				return err
			}
			if w := want.Float64Values()[0]; math.Abs(got-w) > 1e-6 {
				t.Errorf("seed %d (%s λ %.3f): TrainStep loss %v, by hand %v", seed, pl.Kind, pl.Lam, got, w)
			}
			algoDropAll(append(append([]*ts.Tensor{xm, y, want}, feats...), scores...))
		}
		return nil
	})
	for _, c := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(m map[string]any) {
			m["head"] = map[string]any{"type": "ClsHead", "in_channels": 32, "num_classes": 10}
		}, "head ClsHead has no soft-target loss"},
		{func(m map[string]any) {
			m["train_cfg"] = map[string]any{"augments": mixupCutMixCfg(1000)}
		}, "num_classes 1000, but the head has 10"},
	} {
		cfg := tinyFinetuneCfg()
		c.edit(cfg)
		_, err := BuildAlgorithm(nn.NewVarStore(gotch.CPU), cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("build: %v, want %q", err, c.want)
		}
	}
}

// TestFinetuneStepDoesNotLeak runs forward+backward steps of the tiny
// fine-tuning Classification (use_window, Mixup/CutMix, label smoothing)
// and of the tiny Swin MMClsImageClassifierWrapper on 32 images and
// requires RSS to stay flat (stepNoLeak, as TestTransformerAlgorithmsDoNotLeak):
// a leaked 32×3×32×32 mixed batch per step would add 384 KiB a step.
func TestFinetuneStepDoesNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("RSS leak check skipped in -short")
	}
	cfg := tinyFinetuneCfg()
	cfg["backbone"].(map[string]any)["img_size"] = 32
	for _, c := range []struct {
		name string
		cfg  map[string]any
	}{{"vit rpe", cfg}, {"swin wrapper", tinySwinWrapper(t)}} {
		t.Run(c.name, func(t *testing.T) {
			onPinned(t, func() error {
				ManualSeed(93)
				a, _ := algoBuild(t, c.cfg)
				x := ts.MustRandn([]int64{32, 3, 32, 32}, gotch.Float, gotch.CPU)
				labels := ts.MustRandint(10, []int64{32}, gotch.Int64, gotch.CPU)
				defer algoDropAll([]*ts.Tensor{x, labels})
				in := &StepInput{Views: []*ts.Tensor{x}, Labels: labels}
				return stepNoLeak(t, func(it int) error {
					l, err := a.TrainStep(in)
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
					return nil
				})
			})
		})
	}
}

// TestMixBatchBadLabels: a label outside [0, num_classes) is an error
// naming num_classes, not the end of the process.
func TestMixBatchBadLabels(t *testing.T) {
	onPinned(t, func() error {
		x := ts.MustRandn([]int64{2, 3, 4, 4}, gotch.Float, gotch.CPU)
		labels := ts.MustOfSlice([]int64{1, 12})
		defer algoDropAll([]*ts.Tensor{x, labels})
		for _, kind := range []string{augMixup, augIdentity} {
			_, _, err := MixBatch(x, labels, 10, MixPlan{Kind: kind, Lam: 0.5, Perm: []int64{1, 0}})
			if err == nil || !strings.Contains(err.Error(), "num_classes 10") {
				t.Errorf("%s with label 12 of 10 classes: %v", kind, err)
			}
		}
		return nil
	})
}
