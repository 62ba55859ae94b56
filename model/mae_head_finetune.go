package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MAEFinetuneHeadConfig is MMSelfSup's MAEFinetuneHead (heads/mae_head.py).
type MAEFinetuneHeadConfig struct {
	EmbedDim       int     `yaml:"embed_dim"`
	NumClasses     int     `yaml:"num_classes"`
	LabelSmoothVal float64 `yaml:"label_smooth_val"`
	InitCfg        any     `yaml:"init_cfg"`
}

// Validate checks the sizes.
func (c *MAEFinetuneHeadConfig) Validate() error {
	if err := positive("embed_dim", c.EmbedDim); err != nil {
		return err
	}
	if err := positive("num_classes", c.NumClasses); err != nil {
		return err
	}
	if c.LabelSmoothVal < 0 || c.LabelSmoothVal >= 1 {
		return fmt.Errorf("label_smooth_val %g outside [0, 1)", c.LabelSmoothVal)
	}
	if c.InitCfg != nil {
		return fmt.Errorf("init_cfg: not supported (MAEFinetuneHead has a fixed init)")
	}
	return nil
}

// MAEFinetuneHead is the fine-tuning classifier: Linear (key head.head,
// weight trunc-normal 2e-5, bias 0) and mmcls's LabelSmoothLoss in its
// "original" mode: CE against (1−ε)·one-hot + ε/num_classes.
type MAEFinetuneHead struct {
	cfg MAEFinetuneHeadConfig
	fc  *linear
}

// NewMAEFinetuneHead builds the head under p.
func NewMAEFinetuneHead(p *nn.Path, c MAEFinetuneHeadConfig) (*MAEFinetuneHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	fc, err := newLinear(p.Sub("head"), int64(c.EmbedDim), int64(c.NumClasses), true, torchDefault)
	if err != nil {
		return nil, err
	}
	truncNormal(fc.w, 2e-5)
	if err := initWeightBias(fc.b, nil, InitSpec{Type: "Constant", Val: 0}); err != nil {
		return nil, err
	}
	return &MAEFinetuneHead{cfg: c, fc: fc}, nil
}

// HeadType names the registered type.
func (h *MAEFinetuneHead) HeadType() string { return "MAEFinetuneHead" }

// NumClasses is the classifier's output size.
func (h *MAEFinetuneHead) NumClasses() int { return h.cfg.NumClasses }

// Forward returns [logits] for xs = [N×embed_dim].
func (h *MAEFinetuneHead) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("MAEFinetuneHead", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("MAEFinetuneHead", x, int64(h.cfg.EmbedDim), false); err != nil {
		return nil, err
	}
	return []*ts.Tensor{h.fc.forward(x)}, nil
}

// Loss is the label-smoothed CE of scores [N×C] against int64 labels (N).
func (h *MAEFinetuneHead) Loss(scores []*ts.Tensor, labels *ts.Tensor) (*Losses, error) {
	s, err := singleInput("MAEFinetuneHead.Loss", scores)
	if err != nil {
		return nil, err
	}
	if err := checkLabels("MAEFinetuneHead", s, labels); err != nil {
		return nil, err
	}
	onehot := labels.MustOneHot(int64(h.cfg.NumClasses), false).MustTotype(gotch.Float, true)
	defer onehot.MustDrop()
	return h.SoftLoss(scores, onehot)
}

// SoftLoss is LabelSmoothLoss (mode 'original') on one-hot-like targets
// [N×C] float (the soft labels of batch Mixup/CutMix): CE of the scores
// against (1−ε)·target + ε/num_classes, averaged over the batch.
func (h *MAEFinetuneHead) SoftLoss(scores []*ts.Tensor, target *ts.Tensor) (*Losses, error) {
	s, err := singleInput("MAEFinetuneHead.SoftLoss", scores)
	if err != nil {
		return nil, err
	}
	loss, err := labelSmoothSoftCE(s, target, h.cfg.LabelSmoothVal, int64(h.cfg.NumClasses))
	if err != nil {
		return nil, fmt.Errorf("MAEFinetuneHead: %w", err)
	}
	l := NewLosses()
	l.Set("loss", loss)
	return l, nil
}

// MAELinprobeHeadConfig is MMSelfSup's MAELinprobeHead.
type MAELinprobeHeadConfig struct {
	EmbedDim   int `yaml:"embed_dim"`
	NumClasses int `yaml:"num_classes"`
	InitCfg    any `yaml:"init_cfg"`
}

// Validate checks the sizes.
func (c *MAELinprobeHeadConfig) Validate() error {
	if err := positive("embed_dim", c.EmbedDim); err != nil {
		return err
	}
	if err := positive("num_classes", c.NumClasses); err != nil {
		return err
	}
	if c.InitCfg != nil {
		return fmt.Errorf("init_cfg: not supported (MAELinprobeHead has a fixed init)")
	}
	return nil
}

// MAELinprobeHead is the linear probe: BatchNorm1d without affine
// parameters (eps 1e-6, key head.bn) then Linear (head.head, weight
// trunc-normal 0.01, bias 0); plain CE.
type MAELinprobeHead struct {
	cfg MAELinprobeHeadConfig
	bn  *batchNorm
	fc  *linear
}

// NewMAELinprobeHead builds the head under p (PyTorch's registration
// order: head, then bn).
func NewMAELinprobeHead(p *nn.Path, c MAELinprobeHeadConfig) (*MAELinprobeHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	fc, err := newLinear(p.Sub("head"), int64(c.EmbedDim), int64(c.NumClasses), true, torchDefault)
	if err != nil {
		return nil, err
	}
	truncNormal(fc.w, 0.01)
	if err := initWeightBias(fc.b, nil, InitSpec{Type: "Constant", Val: 0}); err != nil {
		return nil, err
	}
	bn, err := newBatchNorm(p.Sub("bn"), int64(c.EmbedDim), NormConfig{Type: "BN", Momentum: 0.1, Eps: 1e-6})
	if err != nil {
		return nil, err
	}
	return &MAELinprobeHead{cfg: c, bn: bn, fc: fc}, nil
}

// HeadType names the registered type.
func (h *MAELinprobeHead) HeadType() string { return "MAELinprobeHead" }

// Forward returns [logits] for xs = [N×embed_dim].
func (h *MAELinprobeHead) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("MAELinprobeHead", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("MAELinprobeHead", x, int64(h.cfg.EmbedDim), false); err != nil {
		return nil, err
	}
	y := h.bn.forward(x, train)
	return []*ts.Tensor{dropAfter(y, h.fc.forward(y))}, nil
}

// Loss is CE of scores [N×C] against int64 labels (N).
func (h *MAELinprobeHead) Loss(scores []*ts.Tensor, labels *ts.Tensor) (*Losses, error) {
	s, err := singleInput("MAELinprobeHead.Loss", scores)
	if err != nil {
		return nil, err
	}
	if err := checkLabels("MAELinprobeHead", s, labels); err != nil {
		return nil, err
	}
	ce, err := crossEntropy(s, labels)
	if err != nil {
		return nil, err
	}
	l := NewLosses()
	l.Set("loss", ce)
	return l, nil
}

func init() {
	RegisterHead("MAEFinetuneHead", func(p *nn.Path, m map[string]any) (Head, error) {
		c := MAEFinetuneHeadConfig{NumClasses: 1000, LabelSmoothVal: 0.1}
		return buildFrom(p, "head", m, &c, func(c *MAEFinetuneHeadConfig) (Head, error) { return NewMAEFinetuneHead(p, *c) })
	})
	RegisterHead("MAELinprobeHead", func(p *nn.Path, m map[string]any) (Head, error) {
		c := MAELinprobeHeadConfig{NumClasses: 1000}
		return buildFrom(p, "head", m, &c, func(c *MAELinprobeHeadConfig) (Head, error) { return NewMAELinprobeHead(p, *c) })
	})
}
