package model

import (
	"math"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// deepclusterCfg is the Sobel DeepCluster model with ResNet-18 and 5 classes.
func deepclusterCfg() map[string]any {
	b := tinyResNet()
	b["in_channels"] = 2
	return map[string]any{
		"type":     "DeepCluster",
		"backbone": b,
		"neck":     map[string]any{"type": "AvgPool2dNeck"},
		"head":     map[string]any{"type": "ClsHead", "with_avg_pool": false, "in_channels": 512, "num_classes": 5},
	}
}

// The loss is the CE of the head's scores against the pseudo-label table
// looked up by sample index (the dataset's labels are ignored), weighted
// after SetClassWeights; the sink gets the neck output of the batch rows.
func TestDeepClusterPseudoLabelsAndReweight(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(60)
		a, vs := algoBuild(t, deepclusterCfg())
		m := a.(*DeepCluster)
		checkKeyLayout(t, algoKeys(vs), []string{"sobel_layer", "backbone", "head"}, nil,
			[]string{"sobel_layer.sobel.0.weight", "sobel_layer.sobel.1.bias", "backbone.conv1.weight", "head.fc_cls.weight"}, nil)
		x := ts.MustRandn([]int64{4, 3, 32, 32}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		dsLabels := ts.MustZeros([]int64{4}, gotch.Int64, gotch.CPU)
		defer dsLabels.MustDrop()
		in := &StepInput{Views: []*ts.Tensor{x}, Labels: dsLabels, Indices: []int{5, 0, 2, 7}}
		if _, err := a.TrainStep(in); err == nil || !strings.Contains(err.Error(), "no pseudo-labels") {
			t.Fatalf("before any clustering: err %v", err)
		}
		table := []int64{1, 4, 2, 0, 3, 3, 1, 4}
		if err := m.SetPseudoLabels(table); err != nil {
			return err
		}
		var rows []int
		var dim int
		m.SetFeatureSink(func(idx []int, f []float32, d int) { rows, dim = append([]int(nil), idx...), d })
		got := stepValues(t, a, in)
		if dim != 512 || len(rows) != 4 || rows[0] != 5 {
			t.Fatalf("sink got rows %v of dim %d, want the batch's indices and 512", rows, dim)
		}

		// Reference: the head's scores on the neck output, CE against table[idx].
		var scores []float64
		if err := WithoutGrad(func() error {
			s := NewScope()
			defer s.Close()
			z, err := m.encode(s, x, true)
			if err != nil {
				return err
			}
			s.Track(z)
			sc, err := m.head.Forward([]*ts.Tensor{z}, true)
			if err != nil {
				return err
			}
			s.TrackAll(sc)
			scores = f64s(sc[0])
			return nil
		}); err != nil {
			return err
		}
		labels := []int64{table[5], table[0], table[2], table[7]}
		want, wantAcc := ceAcc(scores, labels, 5)
		if math.Abs(got["loss"]-want) > 1e-5 || math.Abs(got["acc"]-wantAcc) > 1e-4 {
			t.Fatalf("loss %.6f acc %.1f, CE against the table %.6f / %.1f", got["loss"], got["acc"], want, wantAcc)
		}

		// Class weights w: Σ w_y·CE_i / Σ w_y (torch's weighted mean).
		w := []float32{0.1, 0.3, 0.2, 0.25, 0.15}
		if err := m.SetClassWeights(w); err != nil {
			return err
		}
		gw := stepValues(t, a, in)
		var num, den float64
		for i, y := range labels {
			num += float64(w[y]) * ceRow(scores[i*5:(i+1)*5], int(y))
			den += float64(w[y])
		}
		if math.Abs(gw["loss"]-num/den) > 1e-5 {
			t.Fatalf("re-weighted loss %.6f, want %.6f", gw["loss"], num/den)
		}

		// ResetHead re-draws fc_cls from N(0, 0.01²) with zero bias.
		if err := m.ResetHead(); err != nil {
			return err
		}
		wv := f64s(m.head.fc.w)
		var ss float64
		for _, v := range wv {
			ss += v * v
		}
		if std := math.Sqrt(ss / float64(len(wv))); std < 0.008 || std > 0.012 {
			t.Fatalf("head weight std %.4f after reset, want 0.01", std)
		}
		if b := f64s(m.head.fc.b); b[0] != 0 || b[4] != 0 {
			t.Fatalf("head bias %v after reset", b)
		}
		if err := m.SetPseudoLabels([]int64{0, 5}); err == nil {
			t.Fatal("label 5 accepted for 5 classes")
		}
		// with_sobel (the class default) with a 3-channel backbone is MMSelfSup's broken config.
		cfg := deepclusterCfg()
		delete(cfg["backbone"].(map[string]any), "in_channels")
		if _, err := BuildAlgorithm(nn.NewVarStore(gotch.CPU), cfg); err == nil || !strings.Contains(err.Error(), "in_channels") {
			t.Fatalf("Sobel with 3 input channels: err %v", err)
		}
		return nil
	})
}

func TestDeepClusterLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(61)
		a, vs := algoBuild(t, deepclusterCfg())
		if err := a.(*DeepCluster).SetPseudoLabels([]int64{0, 1, 2, 3, 4, 0, 1, 2}); err != nil {
			return err
		}
		v := algoImages(1, 8, 32)
		defer algoDropAll(v)
		trainSteps(t, a, vs, &StepInput{Views: v, Indices: []int{0, 1, 2, 3, 4, 5, 6, 7}}, 8, 0.05, nil)
		return nil
	})
}
