package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// ClsHeadConfig is MMSelfSup's ClsHead (heads/cls_head.py).
type ClsHeadConfig struct {
	WithAvgPool bool `yaml:"with_avg_pool"`
	InChannels  int  `yaml:"in_channels"`
	NumClasses  int  `yaml:"num_classes"`
	VitBackbone bool `yaml:"vit_backbone"`
	InitCfg     any  `yaml:"init_cfg"`
}

// Validate checks the sizes.
func (c *ClsHeadConfig) Validate() error {
	if err := positive("in_channels", c.InChannels); err != nil {
		return err
	}
	return positive("num_classes", c.NumClasses)
}

// ClsHead is [avg-pool] → flatten → fc_cls; loss CE plus top-1 "acc".
// Init: Linear N(0, 0.01²), bias 0 (key head.fc_cls.*).
type ClsHead struct {
	cfg    ClsHeadConfig
	fc     *linear
	specs  []InitSpec
	weight *ts.Tensor
}

var clsHeadInit = []InitSpec{{Type: "Normal", Std: 0.01, Layer: []string{"Linear"}}, bnOnes[0]}

// NewClsHead builds the head under p.
func NewClsHead(p *nn.Path, c ClsHeadConfig) (*ClsHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	fc, err := newLinear(p.Sub("fc_cls"), int64(c.InChannels), int64(c.NumClasses), true, torchDefault)
	if err != nil {
		return nil, err
	}
	h := &ClsHead{cfg: c, fc: fc, specs: clsHeadInit}
	if c.InitCfg != nil {
		s, pre, err := parseInitCfg(configPath(p, "head")+".init_cfg", c.InitCfg)
		if err != nil {
			return nil, err
		}
		if pre != nil {
			return nil, fmt.Errorf("%s.init_cfg: Pretrained not supported for heads", configPath(p, "head"))
		}
		h.specs = s
	}
	return h, h.ResetParameters()
}

// HeadType names the registered type.
func (h *ClsHead) HeadType() string { return "ClsHead" }

// ResetParameters re-draws fc_cls from the head's init_cfg (DeepClusterHook
// re-initialises the classifier after every clustering).
func (h *ClsHead) ResetParameters() error { return applyInit(h.specs, []initLayer{h.fc}) }

// SetClassWeights makes Loss a class-weighted CE (ODC / DeepCluster
// re-weighting); w (num_classes, float32) is borrowed, nil restores plain CE.
func (h *ClsHead) SetClassWeights(w *ts.Tensor) { h.weight = w }

// Forward returns [scores] (N×num_classes) for xs = [x]. With
// vit_backbone, xs is a VisionTransformer's [patch, cls] output and the
// cls token (the last tensor) is classified, as MMSelfSup's x[-1].
func (h *ClsHead) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	if h.cfg.VitBackbone && len(xs) > 1 {
		xs = xs[len(xs)-1:]
	}
	x, err := singleInput("ClsHead", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("ClsHead", x, int64(h.cfg.InChannels), h.cfg.WithAvgPool); err != nil {
		return nil, err
	}
	f := poolFlatten(x, h.cfg.WithAvgPool)
	return []*ts.Tensor{dropAfter(f, h.fc.forward(f))}, nil
}

// Loss returns {"loss": CE, "acc": top-1 %} for scores = [s], labels int64 (N).
func (h *ClsHead) Loss(scores []*ts.Tensor, labels *ts.Tensor) (*Losses, error) {
	s, err := singleInput("ClsHead.Loss", scores)
	if err != nil {
		return nil, err
	}
	if err := checkLabels("ClsHead", s, labels); err != nil {
		return nil, err
	}
	var loss *ts.Tensor
	if h.weight != nil {
		loss, err = weightedCrossEntropy(s, labels, h.weight)
	} else {
		loss, err = crossEntropy(s, labels)
	}
	if err != nil {
		return nil, fmt.Errorf("ClsHead: %w", err)
	}
	l := NewLosses()
	l.Set("loss", loss)
	l.Set("acc", accuracyTop1(s, labels))
	return l, nil
}

// checkLabels validates N×C scores against N int64 labels in [0, C).
func checkLabels(who string, s, labels *ts.Tensor) error {
	ss, err := s.Size()
	if err != nil {
		return fmt.Errorf("%s scores: %w", who, err)
	}
	ls, err := labels.Size()
	if err != nil {
		return fmt.Errorf("%s labels: %w", who, err)
	}
	if len(ss) != 2 || len(ls) != 1 || ls[0] != ss[0] {
		return fmt.Errorf("%s: scores %v and labels %v, want N×C and N", who, ss, ls)
	}
	if ls[0] > 0 {
		mn, mx := labels.MustMin(false), labels.MustMax(false)
		lo, hi := mn.Int64Values()[0], mx.Int64Values()[0]
		mn.MustDrop()
		mx.MustDrop()
		if lo < 0 || hi >= ss[1] {
			return fmt.Errorf("%s: labels span [%d, %d], want [0, %d)", who, lo, hi, ss[1])
		}
	}
	return nil
}

func init() {
	RegisterHead("ClsHead", func(p *nn.Path, m map[string]any) (Head, error) {
		c := &ClsHeadConfig{InChannels: 2048, NumClasses: 1000}
		return buildFrom(p, "head", m, c, func(c *ClsHeadConfig) (Head, error) { return NewClsHead(p, *c) })
	})
}
