package model

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

const swinFT = "benchmarks/classification/imagenet/swin-base_ft-8xb256-coslr-100e_in1k.yaml"

// tinySwinWrapper is the shipped Swin fine-tuning model dict with the
// architecture shrunk to two stages (32-d, depths 2/2, heads 2/4) on 32 px
// with window 4, ten classes.
func tinySwinWrapper(t *testing.T) map[string]any {
	mc := shippedDict(t, swinFT, "model")
	b := mc["backbone"].(map[string]any)
	b["arch"] = map[string]any{"embed_dims": 32, "depths": []any{2, 2}, "num_heads": []any{2, 4}}
	b["img_size"], b["out_indices"] = 32, []any{1}
	b["stage_cfgs"] = map[string]any{"block_cfgs": map[string]any{"window_size": 4}}
	h := mc["head"].(map[string]any)
	h["in_channels"], h["num_classes"] = 64, 10
	for _, a := range mc["train_cfg"].(map[string]any)["augments"].([]any) {
		a.(map[string]any)["num_classes"] = 10
	}
	return mc
}

// TestMMClsWrapperSwinBuildsAndSteps builds the shipped Swin fine-tuning
// model (MMClsImageClassifierWrapper: mmcls.SwinTransformer,
// mmcls.GlobalAveragePooling, mmcls.LinearClsHead with LabelSmoothLoss,
// Mixup/CutMix), shrunk, and checks: mmcls's keys (no SimMIM mask_token;
// head.fc.*; norm1 on the out stage), forward_test's name head1 for
// out_indices [1], the shipped AdamW with the swin layer decay 0.9 (head at
// the base LR, stages.0.blocks.0, layer id 1 of L = 2+2+2, at lr·0.9⁴), a
// step's loss about ln 10 that falls over 15 AdamW steps on one fixed
// batch, and GlobalAveragePooling = the spatial mean of the backbone's map.
func TestMMClsWrapperSwinBuildsAndSteps(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(3)
		a, vs := algoBuild(t, tinySwinWrapper(t))
		m := a.(*Classification)
		keys := algoKeys(vs)
		for _, k := range []string{"backbone.patch_embed.projection.weight", "backbone.stages.1.blocks.1.attn.w_msa.relative_position_bias_table",
			"backbone.stages.0.downsample.reduction.weight", "backbone.norm1.weight", "head.fc.weight", "head.fc.bias"} {
			if !slices.Contains(keys, k) {
				t.Errorf("%s missing (have %v)", k, keys)
			}
		}
		for _, k := range keys {
			if strings.Contains(k, "mask_token") || strings.HasPrefix(k, "neck.") {
				t.Errorf("unexpected key %s", k)
			}
		}
		if a.Type() != "MMClsImageClassifierWrapper" || !slices.Equal(m.HeadNames(), []string{"head1"}) {
			t.Errorf("type %s heads %v, want MMClsImageClassifierWrapper [head1]", a.Type(), m.HeadNames())
		}
		optCfg := shippedDict(t, swinFT, "optimizer")
		params := ParamsOf(vs)
		opt, err := BuildOptimizer(params, optCfg)
		if err != nil {
			return err
		}
		defer opt.Close()
		lr, decay := optCfg["lr"].(float64), optCfg["layer_decay"].(float64)
		for _, g := range opt.Groups() {
			for _, i := range g.Params {
				want := -1.0
				switch params[i].Name {
				case "head.fc.weight":
					want = lr
				case "backbone.stages.0.blocks.0.attn.w_msa.qkv.weight":
					want = lr * math.Pow(decay, 4)
				}
				if want >= 0 && !relClose(g.LR, want, 1e-12) {
					t.Errorf("%s: lr %.6g, want %.6g", params[i].Name, g.LR, want)
				}
			}
		}
		x := ts.MustRandn([]int64{8, 3, 32, 32}, gotch.Float, gotch.CPU)
		labels := ts.MustOfSlice([]int64{0, 1, 2, 3, 4, 5, 6, 7})
		defer algoDropAll([]*ts.Tensor{x, labels})
		var losses []float64
		for i := 0; i < 15; i++ {
			ManualSeed(int64(100 + i))
			l, err := a.TrainStep(&StepInput{Views: []*ts.Tensor{x}, Labels: labels})
			if err != nil {
				return err
			}
			total, err := l.Total()
			if err != nil {
				return err
			}
			losses = append(losses, total.Float64Values()[0])
			if err := opt.ZeroGrad(); err != nil {
				return err
			}
			if err := total.Backward(); err != nil {
				return err
			}
			if err := opt.Step(); err != nil {
				return err
			}
			total.MustDrop()
			l.Drop()
		}
		if math.Abs(losses[0]-math.Log(10)) > 0.3 {
			t.Errorf("first loss %v, want about ln 10", losses[0])
		}
		if first, last := (losses[0]+losses[1]+losses[2])/3, (losses[12]+losses[13]+losses[14])/3; !(last < first) {
			t.Errorf("loss did not fall over 15 steps: %v", losses)
		}
		return WithoutGrad(func() error {
			s := NewScope()
			defer s.Close()
			maps := s.TrackAll(must2(m.backbone.Forward(x, false)))
			pooled := s.TrackAll(must2(m.neck.Forward(maps, false)))
			want := s.Track(maps[0].MustMeanDim([]int64{2, 3}, false, gotch.Float, false))
			if d := tensorMaxAbsDiff(pooled[0], want); d > 1e-6 || len(pooled[0].MustSize()) != 2 {
				t.Errorf("GlobalAveragePooling differs from the spatial mean by %g (shape %v)", d, pooled[0].MustSize())
			}
			return nil
		})
	})
}

func must2(xs []*ts.Tensor, err error) []*ts.Tensor {
	if err != nil {
		panic(err)
	}
	return xs
}

func tensorMaxAbsDiff(a, b *ts.Tensor) float64 {
	d := a.MustSub(b, false).MustAbs(true).MustMax(true)
	defer d.MustDrop()
	return d.Float64Values()[0]
}

// TestLinearClsHeadLosses: LabelSmoothLoss on hard labels equals the
// soft-target loss on their one-hot rows (the formula parity-tested against
// mmcls in TestBatchMixCutMixParityTorch); CrossEntropyLoss equals
// libtorch's cross_entropy; CE without use_soft refuses soft targets and a
// model with batch augments refuses such a head; an unknown loss mode is an
// error naming the key.
func TestLinearClsHeadLosses(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(9)
		vs := nn.NewVarStore(gotch.CPU)
		ls, err := NewLinearClsHead(vs.Root().Sub("a"), LinearClsHeadConfig{NumClasses: 5, InChannels: 4,
			Loss: map[string]any{"type": "mmcls.LabelSmoothLoss", "label_smooth_val": 0.1, "mode": "original"}})
		if err != nil {
			return err
		}
		ce, err := NewLinearClsHead(vs.Root().Sub("b"), LinearClsHeadConfig{NumClasses: 5, InChannels: 4})
		if err != nil {
			return err
		}
		scores := ts.MustRandn([]int64{6, 5}, gotch.Float, gotch.CPU)
		labels := ts.MustOfSlice([]int64{0, 4, 2, 2, 1, 3})
		onehot := labels.MustOneHot(5, false).MustTotype(gotch.Float, true)
		defer algoDropAll([]*ts.Tensor{scores, labels, onehot})
		hard, err := ls.Loss([]*ts.Tensor{scores}, labels)
		if err != nil {
			return err
		}
		defer hard.Drop()
		want, err := labelSmoothSoftCE(scores, onehot, 0.1, 5)
		if err != nil {
			return err
		}
		defer want.MustDrop()
		if d := tensorMaxAbsDiff(hard.Get("loss"), want); d > 1e-6 {
			t.Errorf("LabelSmoothLoss on hard labels differs from the soft form by %g", d)
		}
		lce, err := ce.Loss([]*ts.Tensor{scores}, labels)
		if err != nil {
			return err
		}
		defer lce.Drop()
		ref, err := crossEntropy(scores, labels)
		if err != nil {
			return err
		}
		defer ref.MustDrop()
		if d := tensorMaxAbsDiff(lce.Get("loss"), ref); d > 1e-6 {
			t.Errorf("CrossEntropyLoss differs from cross_entropy by %g", d)
		}
		if _, err := ce.SoftLoss([]*ts.Tensor{scores}, onehot); err == nil || !strings.Contains(err.Error(), "use_soft") {
			t.Errorf("CE without use_soft on soft targets: %v", err)
		}
		if _, err := NewLinearClsHead(vs.Root().Sub("c"), LinearClsHeadConfig{NumClasses: 5, InChannels: 4,
			Loss: map[string]any{"type": "mmcls.LabelSmoothLoss", "label_smooth_val": 0.1, "mode": "classy_vision"}}); err == nil || !strings.Contains(err.Error(), "loss.mode") {
			t.Errorf("mode classy_vision: %v, want an error naming loss.mode", err)
		}
		return nil
	})
	mc := tinySwinWrapper(t)
	delete(mc["head"].(map[string]any), "loss")
	if _, err := BuildAlgorithm(nn.NewVarStore(gotch.CPU), mc); err == nil || !strings.Contains(err.Error(), "no soft-target loss") {
		t.Errorf("augments with a hard-label CE head: %v", err)
	}
}

// TestMMClsWrapperSwinFullSize builds the shipped 192 px Swin-B fine-tuning
// model as is: 87,750,176 parameters (timm's swin_base_patch4_window7_224
// has 87,768,224; window 6 has 48 fewer table rows in each of the 376
// head-blocks), forward_test named head3, Mixup/CutMix over 1000 classes.
func TestMMClsWrapperSwinFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Swin-B")
	}
	onPinned(t, func() error {
		a, vs := algoBuild(t, shippedDict(t, swinFT, "model"))
		m := a.(*Classification)
		n := int64(0)
		for _, p := range ParamsOf(vs) {
			k := int64(1)
			for _, d := range p.T.MustSize() {
				k *= d
			}
			n += k
		}
		if n != 87_768_224-48*376 {
			t.Errorf("%d parameters, want %d", n, 87_768_224-48*376)
		}
		if !slices.Equal(m.HeadNames(), []string{"head3"}) || m.augments == nil || m.augments.NumClasses() != 1000 {
			t.Errorf("heads %v augments %+v", m.HeadNames(), m.augments)
		}
		return nil
	})
}
