package model

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
)

// linearShapesModel is the `model` dict of the shipped Shapes linear
// benchmark (ResNet-18, frozen_stages 4, ClsHead 512→10).
func linearShapesModel(t testing.TB) map[string]any {
	t.Helper()
	cfg, err := configs.Load("benchmarks/classification/shapes/resnet18_linear-1xb64-steplr-10e_shapes-64px.yaml", configs.LoadOptions{NoDisk: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := tree.Lookup(cfg.Tree, "model")
	if err != nil {
		t.Fatal(err)
	}
	return tree.ToPlain(raw).(map[string]any)
}

func int64Tensor(v []int64) *ts.Tensor { return ts.MustOfSlice(v) }

func tensorMap(vs *nn.VarStore) map[string]*ts.Tensor {
	out := map[string]*ts.Tensor{}
	for _, e := range StateDict(vs) {
		out[e.Name] = e.T
	}
	return out
}

// The linear benchmark model: only the head trains, frozen stages keep
// their BN statistics, the loss is CE of forward_test's head4 logits and
// the keys are MMSelfSup's.
func TestClassificationLinearProbe(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(11)
		a, vs := algoBuild(t, linearShapesModel(t))
		c := a.(*Classification)
		keys := algoKeys(vs)
		checkKeyLayout(t, keys, []string{"backbone", "head"}, nil,
			[]string{"backbone.conv1.weight", "backbone.layer4.1.bn2.running_var", "head.fc_cls.weight", "head.fc_cls.bias"}, nil)
		var trainable []string
		for _, p := range ParamsOf(vs) {
			trainable = append(trainable, p.Name)
		}
		if strings.Join(trainable, ",") != "head.fc_cls.bias,head.fc_cls.weight" {
			t.Fatalf("trainable parameters %v, want only the head", trainable)
		}
		if got := c.HeadNames(); len(got) != 1 || got[0] != "head4" {
			t.Fatalf("HeadNames %v, want [head4]", got)
		}
		x := algoImages(1, 6, 64)
		defer algoDropAll(x)
		labels := int64Tensor([]int64{0, 1, 2, 3, 9, 5})
		defer labels.MustDrop()
		names, scores, err := c.Logits(x[0])
		if err != nil {
			return err
		}
		if len(names) != 1 || names[0] != "head4" || !equalDims(scores[0].MustSize(), []int64{6, 10}) {
			t.Fatalf("Logits %v %v", names, scores[0].MustSize())
		}
		wantLoss, wantAcc := ceAcc(f64s(scores[0]), []int64{0, 1, 2, 3, 9, 5}, 10)
		scores[0].MustDrop()
		rm := tensorMap(vs)["backbone.layer1.0.bn1.running_mean"]
		before := f64s(rm)
		l, err := a.TrainStep(&StepInput{Views: x, Labels: labels})
		if err != nil {
			return err
		}
		vals := l.Values()
		if math.Abs(vals["loss"]-wantLoss) > 1e-5 || math.Abs(vals["acc"]-wantAcc) > 1e-4 {
			t.Fatalf("TrainStep loss %v acc %v, want %v %v (eval-mode logits: the backbone is frozen)", vals["loss"], vals["acc"], wantLoss, wantAcc)
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
		g := tensorMap(vs)["head.fc_cls.weight"].MustGrad(false)
		gs := f64s(g)
		g.MustDrop()
		var gn float64
		for _, v := range gs {
			gn += v * v
		}
		if gn == 0 {
			t.Fatal("head has no gradient")
		}
		for i, v := range f64s(rm) {
			if v != before[i] {
				t.Fatalf("frozen BN running_mean changed at %d: %v → %v", i, before[i], v)
			}
		}
		f, err := c.Features(x[0])
		if err != nil {
			return err
		}
		defer f.MustDrop()
		if !equalDims(f.MustSize(), []int64{6, 512}) {
			t.Fatalf("Features shape %v", f.MustSize())
		}
		return nil
	})
}

// with_sobel: frozen grey + Sobel convs under sobel_layer.sobel.{0,1},
// checked against the kernels applied by hand.
func TestClassificationSobel(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(12)
		cfg := map[string]any{
			"type": "Classification", "with_sobel": true,
			"backbone": map[string]any{"type": "ResNet", "depth": 18, "in_channels": 2, "out_indices": []any{4}, "frozen_stages": 4},
			"head":     map[string]any{"type": "ClsHead", "with_avg_pool": true, "in_channels": 512, "num_classes": 3},
		}
		a, vs := algoBuild(t, cfg)
		keys := algoKeys(vs)
		if strings.Join(keys[:4], ",") != "sobel_layer.sobel.0.weight,sobel_layer.sobel.0.bias,sobel_layer.sobel.1.weight,sobel_layer.sobel.1.bias" {
			t.Fatalf("first keys %v", keys[:4])
		}
		for _, p := range ParamsOf(vs) {
			if strings.HasPrefix(p.Name, "sobel_layer") {
				t.Fatalf("%s trains", p.Name)
			}
		}
		const h, w = 5, 6
		img := make([]float32, 3*h*w)
		for i := range img {
			img[i] = float32((i*37)%11) - 5
		}
		x := ts.MustOfSlice(img).MustView([]int64{1, 3, h, w}, true)
		defer x.MustDrop()
		out, err := a.(*Classification).sobel.forward(x)
		if err != nil {
			return err
		}
		got := f64s(out)
		out.MustDrop()
		grey := func(y, x int) float64 {
			if y < 0 || y >= h || x < 0 || x >= w {
				return 0
			}
			var s float64
			for c := 0; c < 3; c++ {
				s += float64(img[c*h*w+y*w+x])
			}
			return s / 3
		}
		for k := 0; k < 2; k++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					var s float64
					for dy := 0; dy < 3; dy++ {
						for dx := 0; dx < 3; dx++ {
							s += float64(sobelKernels[k*9+dy*3+dx]) * grey(y+dy-1, xx+dx-1)
						}
					}
					if g := got[k*h*w+y*w+xx]; math.Abs(g-s) > 1e-4 {
						t.Fatalf("sobel[%d](%d,%d) = %v, want %v", k, y, xx, g, s)
					}
				}
			}
		}
		labels := int64Tensor([]int64{0, 2})
		defer labels.MustDrop()
		v := algoImages(1, 2, 32)
		defer algoDropAll(v)
		vals := stepValues(t, a, &StepInput{Views: v, Labels: labels})
		if math.IsNaN(vals["loss"]) || vals["loss"] <= 0 {
			t.Fatalf("loss %v", vals["loss"])
		}
		return nil
	})
}

// init_cfg Pretrained loads the backbone (full checkpoint, backbone-only
// file, explicit prefix) and leaves the head at its init.
func TestClassificationPretrained(t *testing.T) {
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(21)
		_, src := algoBuild(t, linearShapesModel(t))
		full := filepath.Join(dir, "full.pth")
		writeStateDict(t, full, StateDict(src))
		var bb, mocoStyle []Named
		for _, e := range StateDict(src) {
			if rest, ok := strings.CutPrefix(e.Name, "backbone."); ok {
				bb = append(bb, Named{Name: rest, T: e.T})
				mocoStyle = append(mocoStyle, Named{Name: "encoder_q.0." + rest, T: e.T})
			}
		}
		bbOnly := filepath.Join(dir, "backbone.pth")
		writeStateDict(t, bbOnly, bb)
		moco := filepath.Join(dir, "moco.pth")
		writeStateDict(t, moco, mocoStyle)
		want := tensorMap(src)
		for _, c := range []struct {
			name string
			init map[string]any
			err  string
		}{
			{"full", map[string]any{"type": "Pretrained", "checkpoint": full}, ""},
			{"backbone-only", map[string]any{"type": "Pretrained", "checkpoint": bbOnly}, ""},
			{"prefix", map[string]any{"type": "Pretrained", "checkpoint": moco, "prefix": "encoder_q.0"}, ""},
			{"no-match", map[string]any{"type": "Pretrained", "checkpoint": moco}, "is a backbone key"},
			{"bad-prefix", map[string]any{"type": "Pretrained", "checkpoint": full, "prefix": "neck"}, `prefix "neck."`},
			{"no-file", map[string]any{"type": "Pretrained", "checkpoint": filepath.Join(dir, "nope.pth")}, "nope.pth"},
		} {
			ManualSeed(99)
			mc := linearShapesModel(t)
			mc["backbone"].(map[string]any)["init_cfg"] = c.init
			vs := nn.NewVarStore(gotch.CPU)
			a, err := BuildAlgorithm(vs, mc)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("%s: err = %v, want %q", c.name, err, c.err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			got := tensorMap(vs)
			for k, w := range want {
				d := algoMaxDiff(got[k], w)
				if strings.HasPrefix(k, "backbone.") && d != 0 {
					t.Errorf("%s: %s differs from the checkpoint by %g", c.name, k, d)
				}
				if k == "head.fc_cls.weight" && d == 0 {
					t.Errorf("%s: the head was loaded too", c.name)
				}
			}
			notes := strings.Join(a.(*Classification).Notes(), "\n")
			if !strings.Contains(notes, "loaded 120 tensors") {
				t.Errorf("%s: notes %q", c.name, notes)
			}
		}
		return nil
	})
}

// The multi-head model (ResNet-50 stages 0..4, adaptive pooling so that
// 64 px inputs work) names its heads head0..head4 and logs loss.1..loss.5.
func TestClassificationMultiHead(t *testing.T) {
	if testing.Short() {
		t.Skip("ResNet-50 multi-head step skipped in -short")
	}
	onPinned(t, func() error {
		ManualSeed(31)
		cfg := map[string]any{
			"type": "Classification",
			"backbone": map[string]any{"type": "ResNet", "depth": 50, "out_indices": []any{0, 1, 2, 3, 4}, "frozen_stages": 4,
				"norm_cfg": map[string]any{"type": "BN"}},
			"head": map[string]any{"type": "MultiClsHead", "pool_type": "adaptive", "in_indices": []any{0, 1, 2, 3, 4},
				"backbone": "resnet50", "norm_cfg": map[string]any{"type": "BN", "momentum": 0.1, "affine": false}, "num_classes": 7},
		}
		a, _ := algoBuild(t, cfg)
		c := a.(*Classification)
		x := algoImages(1, 2, 64)
		defer algoDropAll(x)
		names, scores, err := c.Logits(x[0])
		if err != nil {
			return err
		}
		if strings.Join(names, ",") != "head0,head1,head2,head3,head4" || len(scores) != 5 {
			t.Fatalf("names %v, %d score tensors", names, len(scores))
		}
		for _, s := range scores {
			if !equalDims(s.MustSize(), []int64{2, 7}) {
				t.Fatalf("scores shape %v", s.MustSize())
			}
			s.MustDrop()
		}
		labels := int64Tensor([]int64{3, 6})
		defer labels.MustDrop()
		vals := stepValues(t, a, &StepInput{Views: x, Labels: labels})
		for k := 1; k <= 5; k++ {
			if _, ok := vals["loss."+string(rune('0'+k))]; !ok {
				t.Fatalf("losses %v lack loss.%d", vals, k)
			}
		}
		return nil
	})
}

func TestClassificationConfigErrors(t *testing.T) {
	onPinned(t, func() error {
		for _, c := range []struct {
			key  string
			val  any
			want string
		}{
			{"neck", map[string]any{"type": "LinearNeck"}, "model.neck: unknown key"},
			{"with_sobel", "yes", "model.with_sobel: want a bool"},
			{"train_cfg", map[string]any{"augments": []any{map[string]any{"type": "BatchMixup"}}}, "model.train_cfg.augments.0: alpha 0 must be > 0"},
			{"head", map[string]any{"type": "ContrastiveHead"}, "Classification needs a classifier head"},
		} {
			mc := linearShapesModel(t)
			mc[c.key] = c.val
			_, err := BuildAlgorithm(nn.NewVarStore(gotch.CPU), mc)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: err = %v, want %q", c.key, err, c.want)
			}
		}
		return nil
	})
}
