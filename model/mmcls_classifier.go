package model

import (
	"fmt"
	"reflect"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// The mmcls side of MMSelfSup 0.9.0's Swin fine-tuning benchmark
// (configs/benchmarks/classification/imagenet/swin-base_ft-*.py, which
// import mmcls.models): MMClsImageClassifierWrapper
// (algorithms/mmcls_classifier_wrapper.py, an mmcls ImageClassifier) with
// mmcls.SwinTransformer, mmcls.GlobalAveragePooling and mmcls.LinearClsHead
// with mmcls.LabelSmoothLoss or mmcls.CrossEntropyLoss.

func init() {
	RegisterAlgorithm("MMClsImageClassifierWrapper", buildMMClsWrapper)
	RegisterBackbone("mmcls.SwinTransformer", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := DefaultSimMIMSwinConfig()
		return buildFrom(p, "backbone", m, &c, func(c *SimMIMSwinConfig) (Backbone, error) {
			return newSwin(p, *c, "mmcls.SwinTransformer", false)
		})
	})
	RegisterNeck("mmcls.GlobalAveragePooling", func(p *nn.Path, m map[string]any) (Neck, error) {
		c := GlobalAveragePoolingConfig{Dim: 2}
		return buildFrom(p, "neck", m, &c, func(c *GlobalAveragePoolingConfig) (Neck, error) { return &globalAvgPool{}, nil })
	})
	RegisterHead("mmcls.LinearClsHead", func(p *nn.Path, m map[string]any) (Head, error) {
		c := LinearClsHeadConfig{}
		return buildFrom(p, "head", m, &c, func(c *LinearClsHeadConfig) (Head, error) { return NewLinearClsHead(p, *c) })
	})
}

// buildMMClsWrapper builds MMClsImageClassifierWrapper as a Classification
// with a neck: forward_train mixes the batch (train_cfg.augments), runs
// backbone → neck → head; forward_test names the scores head{i} for the
// backbone's out_indices (head3 for Swin).
func buildMMClsWrapper(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "pretrained"); err != nil {
		return nil, err
	}
	if v := cfg["pretrained"]; v != nil {
		return nil, fmt.Errorf("model.pretrained: not supported; use model.backbone.init_cfg (type Pretrained)")
	}
	if err := checkWrapperInitCfg(cfg["init_cfg"]); err != nil {
		return nil, err
	}
	var augments *BatchAugments
	if tc, ok := cfg["train_cfg"].(map[string]any); ok && tc["augments"] != nil {
		var err error
		if augments, err = ParseBatchAugments(tc["augments"]); err != nil {
			return nil, err
		}
	}
	m := &Classification{typ: "MMClsImageClassifierWrapper"}
	var neck Neck
	b, h, err := buildBackboneAndClassifier(vs.Root(), cfg, "MMClsImageClassifierWrapper", &neck)
	if err != nil {
		return nil, err
	}
	m.backbone, m.head, m.neck = b, h, neck
	m.outIndices = outIndicesOf(b)
	if sw, ok := b.(*SimMIMSwinTransformer); ok {
		m.outIndices = append([]int(nil), sw.geo.outIdx...)
	}
	if err := m.setAugments(augments); err != nil {
		return nil, err
	}
	for _, mod := range []any{b, h} {
		if n, ok := mod.(Noter); ok {
			m.notes = append(m.notes, n.Notes()...)
		}
	}
	if pb, ok := b.(interface{ Pretrained() map[string]any }); ok && pb.Pretrained() != nil {
		note, err := loadPretrainedBackbone(vs, pb.Pretrained())
		if err != nil {
			return nil, fmt.Errorf("model.backbone.init_cfg: %w", err)
		}
		m.notes = append(m.notes, note)
	}
	return m, nil
}

// wrapperInit is the model init_cfg of the Swin fine-tuning config, which
// is also what the modules' own fresh init gives here (Swin: Linear
// trunc-normal 0.02 with bias 0, LayerNorm 1/0; LinearClsHead: the same).
var wrapperInit = []any{
	map[string]any{"type": "TruncNormal", "layer": "Linear", "std": 0.02, "bias": 0.0},
	map[string]any{"type": "Constant", "layer": "LayerNorm", "val": 1.0, "bias": 0.0},
}

// checkWrapperInitCfg accepts no model init_cfg or the shipped one.
func checkWrapperInitCfg(v any) error {
	if v == nil {
		return nil
	}
	norm := func(x any) any {
		l, ok := x.([]any)
		if !ok {
			return x
		}
		out := make([]any, len(l))
		for i, e := range l {
			m, ok := e.(map[string]any)
			if !ok {
				return x
			}
			c := map[string]any{}
			for k, v := range m {
				if f, ok := v.(int); ok {
					v = float64(f)
				}
				c[k] = v
			}
			out[i] = c
		}
		return out
	}
	if !reflect.DeepEqual(norm(v), wrapperInit) {
		return fmt.Errorf("model.init_cfg: only %v (what the modules' own init does) is supported, got %v", wrapperInit, v)
	}
	return nil
}

// GlobalAveragePoolingConfig is mmcls's GlobalAveragePooling neck.
type GlobalAveragePoolingConfig struct {
	Dim int `yaml:"dim"`
}

// Validate accepts the 2-d pooling the Swin benchmark uses.
func (c *GlobalAveragePoolingConfig) Validate() error {
	if c.Dim != 2 {
		return fmt.Errorf("dim %d: only 2 (N×C×H×W maps) is supported", c.Dim)
	}
	return nil
}

// globalAvgPool maps each N×C×H×W input to N×C (AdaptiveAvgPool2d(1) then
// view), as mmcls's GlobalAveragePooling does for a tuple of maps.
type globalAvgPool struct{}

func (*globalAvgPool) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	out := make([]*ts.Tensor, 0, len(xs))
	for _, x := range xs {
		d, err := x.Size()
		if err != nil || len(d) != 4 {
			dropTensors(out)
			return nil, fmt.Errorf("GlobalAveragePooling: input %v, want N×C×H×W (%v)", d, err)
		}
		y, err := x.MeanDim([]int64{2, 3}, false, gotch.Float, false)
		if err != nil {
			dropTensors(out)
			return nil, fmt.Errorf("GlobalAveragePooling: %w", err)
		}
		out = append(out, y)
	}
	return out, nil
}

// LinearClsHeadConfig is mmcls 0.23's LinearClsHead.
type LinearClsHeadConfig struct {
	NumClasses int            `yaml:"num_classes"`
	InChannels int            `yaml:"in_channels"`
	InitCfg    any            `yaml:"init_cfg"`
	Loss       map[string]any `yaml:"loss"`
	CalAcc     bool           `yaml:"cal_acc"`
	TopK       any            `yaml:"topk"`
}

// Validate checks the sizes; the loss is checked by NewLinearClsHead.
func (c *LinearClsHeadConfig) Validate() error {
	if err := positive("num_classes", c.NumClasses); err != nil {
		return err
	}
	if err := positive("in_channels", c.InChannels); err != nil {
		return err
	}
	if c.CalAcc {
		return fmt.Errorf("cal_acc: training accuracy is not supported (the benchmark sets False)")
	}
	return nil
}

// LinearClsHead is fc (key head.fc, Linear in_channels→num_classes) on
// the last input, with mmcls's LabelSmoothLoss (mode 'original') or
// CrossEntropyLoss; both take hard labels and, for batch Mixup/CutMix,
// one-hot-like soft targets (CE then needs use_soft). A fresh build draws
// the weight trunc-normal 0.02 with bias 0 (the wrapper's init_cfg; the
// class default Normal 0.01 is overridden there).
type LinearClsHead struct {
	cfg    LinearClsHeadConfig
	fc     *linear
	smooth float64 // label_smooth_val (0 for CE)
	weight float64 // loss_weight
	soft   bool    // accepts soft targets
}

// NewLinearClsHead builds the head under p.
func NewLinearClsHead(p *nn.Path, c LinearClsHeadConfig) (*LinearClsHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	h := &LinearClsHead{cfg: c, weight: 1, soft: true}
	if err := h.parseLoss(configPath(p, "head")+".loss", c.Loss); err != nil {
		return nil, err
	}
	if c.InitCfg != nil {
		return nil, fmt.Errorf("%s.init_cfg: only None (the model's init_cfg) is supported", configPath(p, "head"))
	}
	var err error
	if h.fc, err = newLinear(p.Sub("fc"), int64(c.InChannels), int64(c.NumClasses), true, torchDefault); err != nil {
		return nil, err
	}
	truncNormal(h.fc.w, 0.02)
	return h, initWeightBias(h.fc.b, nil, InitSpec{Type: "Constant"})
}

// parseLoss reads loss: LabelSmoothLoss (mode original) or
// CrossEntropyLoss (default when absent), mmcls. prefix optional.
func (h *LinearClsHead) parseLoss(path string, m map[string]any) error {
	if m == nil {
		h.soft = false
		return nil
	}
	typ, _ := m["type"].(string)
	switch typ {
	case "mmcls.LabelSmoothLoss", "LabelSmoothLoss":
		c := struct {
			LabelSmoothVal float64 `yaml:"label_smooth_val"`
			NumClasses     *int    `yaml:"num_classes"`
			Mode           string  `yaml:"mode"`
			Reduction      string  `yaml:"reduction"`
			LossWeight     float64 `yaml:"loss_weight"`
		}{Mode: "original", Reduction: "mean", LossWeight: 1}
		if err := decodeConfig(path, m, &c); err != nil {
			return err
		}
		if c.Mode != "original" {
			return fmt.Errorf("%s.mode: %q not supported (have: original)", path, c.Mode)
		}
		if c.Reduction != "mean" {
			return fmt.Errorf("%s.reduction: %q not supported (have: mean)", path, c.Reduction)
		}
		if c.LabelSmoothVal < 0 || c.LabelSmoothVal >= 1 {
			return fmt.Errorf("%s.label_smooth_val: %g outside [0, 1)", path, c.LabelSmoothVal)
		}
		if c.NumClasses != nil && *c.NumClasses != h.cfg.NumClasses {
			return fmt.Errorf("%s.num_classes: %d, but the head has %d", path, *c.NumClasses, h.cfg.NumClasses)
		}
		h.smooth, h.weight = c.LabelSmoothVal, c.LossWeight
	case "mmcls.CrossEntropyLoss", "CrossEntropyLoss":
		c := struct {
			UseSoft    bool    `yaml:"use_soft"`
			LossWeight float64 `yaml:"loss_weight"`
		}{LossWeight: 1}
		if err := decodeConfig(path, m, &c); err != nil {
			return err
		}
		h.soft, h.weight = c.UseSoft, c.LossWeight
	default:
		return fmt.Errorf("%s.type: %q not supported (have: mmcls.LabelSmoothLoss, mmcls.CrossEntropyLoss)", path, typ)
	}
	return nil
}

// HeadType names the registered type.
func (h *LinearClsHead) HeadType() string { return "mmcls.LinearClsHead" }

// takesSoftTargets reports whether the configured loss accepts soft
// targets (CrossEntropyLoss without use_soft does not).
func (h *LinearClsHead) takesSoftTargets() bool { return h.soft }

// NumClasses is the classifier's output size.
func (h *LinearClsHead) NumClasses() int { return h.cfg.NumClasses }

// Forward returns [fc(xs[last])] (mmcls's pre_logits takes the last
// stage); xs[last] is N×in_channels.
func (h *LinearClsHead) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("LinearClsHead: no input")
	}
	x := xs[len(xs)-1]
	if err := checkFeatureInput("LinearClsHead", x, int64(h.cfg.InChannels), false); err != nil {
		return nil, err
	}
	return []*ts.Tensor{h.fc.forward(x)}, nil
}

// Loss is the configured loss of scores [N×C] against int64 labels (N).
func (h *LinearClsHead) Loss(scores []*ts.Tensor, labels *ts.Tensor) (*Losses, error) {
	s, err := singleInput("LinearClsHead.Loss", scores)
	if err != nil {
		return nil, err
	}
	if err := checkLabels("LinearClsHead", s, labels); err != nil {
		return nil, err
	}
	onehot := labels.MustOneHot(int64(h.cfg.NumClasses), false).MustTotype(gotch.Float, true)
	defer onehot.MustDrop()
	return h.lossOf(s, onehot)
}

// SoftLoss is the loss against one-hot-like targets [N×C] float.
func (h *LinearClsHead) SoftLoss(scores []*ts.Tensor, target *ts.Tensor) (*Losses, error) {
	if !h.soft {
		return nil, fmt.Errorf("LinearClsHead: soft targets (batch Mixup/CutMix) need LabelSmoothLoss or CrossEntropyLoss with use_soft")
	}
	s, err := singleInput("LinearClsHead.SoftLoss", scores)
	if err != nil {
		return nil, err
	}
	return h.lossOf(s, target)
}

func (h *LinearClsHead) lossOf(s, target *ts.Tensor) (*Losses, error) {
	loss, err := labelSmoothSoftCE(s, target, h.smooth, int64(h.cfg.NumClasses))
	if err != nil {
		return nil, fmt.Errorf("LinearClsHead: %w", err)
	}
	if h.weight != 1 {
		loss = mulScalar(loss, h.weight, true)
	}
	l := NewLosses()
	l.Set("loss", loss)
	return l, nil
}
