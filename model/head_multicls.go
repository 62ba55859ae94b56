package model

import (
	"fmt"
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MultiClsHeadConfig is MMSelfSup's MultiClsHead (heads/multi_cls_head.py),
// the linear probes on several ResNet-50 stages (components.md MultiPooling).
type MultiClsHeadConfig struct {
	PoolType            string         `yaml:"pool_type"` // adaptive | specified
	InIndices           []int          `yaml:"in_indices"`
	WithLastLayerUnpool bool           `yaml:"with_last_layer_unpool"`
	Backbone            string         `yaml:"backbone"`
	NormCfg             map[string]any `yaml:"norm_cfg"`
	NumClasses          int            `yaml:"num_classes"`
	InitCfg             any            `yaml:"init_cfg"`
}

// MultiPooling's ResNet-50 tables, indexed by stage 0..4.
var (
	multiPoolChannels = []int64{64, 256, 512, 1024, 2048}
	multiPoolDims     = []int64{9216, 9216, 8192, 9216, 8192}
	multiPoolAdaptive = []int64{12, 6, 4, 3, 2}
	multiPoolSpecs    = [][3]int64{{10, 10, 4}, {16, 8, 0}, {13, 5, 0}, {8, 3, 0}, {6, 1, 0}}
)

// Validate checks the stage indices and the pooling type.
func (c *MultiClsHeadConfig) Validate() error {
	if c.PoolType != "adaptive" && c.PoolType != "specified" {
		return fmt.Errorf("pool_type %q (want adaptive or specified)", c.PoolType)
	}
	if c.Backbone != "resnet50" {
		return fmt.Errorf("backbone %q (MultiPooling only knows resnet50)", c.Backbone)
	}
	if len(c.InIndices) == 0 {
		return fmt.Errorf("in_indices is empty")
	}
	for _, i := range c.InIndices {
		if i < 0 || i > 4 {
			return fmt.Errorf("in_indices %v: %d outside 0..4", c.InIndices, i)
		}
	}
	return positive("num_classes", c.NumClasses)
}

// MultiClsHead pools each selected stage, optionally batch-normalises it
// (keys head.norms.{j}.*) and classifies it (head.fcs.{j}.*).
type MultiClsHead struct {
	cfg   MultiClsHeadConfig
	norms []*batchNorm // nil when norm_cfg type is "null"
	fcs   []*linear
	specs []InitSpec
	notes []string
}

// NewMultiClsHead builds the head under p.
func NewMultiClsHead(p *nn.Path, c MultiClsHeadConfig) (*MultiClsHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	path := configPath(p, "head")
	h := &MultiClsHead{cfg: c, specs: clsHeadInit}
	var layers []initLayer
	if c.NormCfg == nil || c.NormCfg["type"] != "null" {
		norm, err := parseNorm(path+".norm_cfg", c.NormCfg, defaultNorm("BN"))
		if err != nil {
			return nil, err
		}
		if note := norm.note(path + ".norm_cfg"); note != "" {
			h.notes = append(h.notes, note)
		}
		for j, i := range c.InIndices {
			bn, err := newBatchNorm(p.Sub("norms").Sub(strconv.Itoa(j)), multiPoolChannels[i], norm)
			if err != nil {
				return nil, err
			}
			h.norms = append(h.norms, bn)
			layers = append(layers, bn)
		}
	}
	n := len(c.InIndices)
	for j := 0; j < n+boolInt(c.WithLastLayerUnpool); j++ {
		in := int64(2048 * 7 * 7)
		if j < n {
			in = multiPoolDims[c.InIndices[j]]
		}
		fc, err := newLinear(p.Sub("fcs").Sub(strconv.Itoa(j)), in, int64(c.NumClasses), true, torchDefault)
		if err != nil {
			return nil, err
		}
		h.fcs = append(h.fcs, fc)
		layers = append(layers, fc)
	}
	if c.InitCfg != nil {
		s, _, err := parseInitCfg(path+".init_cfg", c.InitCfg)
		if err != nil {
			return nil, err
		}
		h.specs = s
	}
	return h, applyInit(h.specs, layers)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// HeadType names the registered type.
func (h *MultiClsHead) HeadType() string { return "MultiClsHead" }

// Notes reports SyncBN acting as BN.
func (h *MultiClsHead) Notes() []string { return h.notes }

// Forward takes the backbone outputs for in_indices (in that order) and
// returns one score tensor per classifier.
func (h *MultiClsHead) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	if len(xs) != len(h.cfg.InIndices) {
		return nil, fmt.Errorf("MultiClsHead: %d inputs for in_indices %v", len(xs), h.cfg.InIndices)
	}
	var out []*ts.Tensor
	fail := func(err error) ([]*ts.Tensor, error) {
		for _, t := range out {
			t.MustDrop()
		}
		return nil, err
	}
	for j, x := range xs {
		i := h.cfg.InIndices[j]
		if err := checkFeatureInput("MultiClsHead", x, multiPoolChannels[i], true); err != nil {
			return fail(err)
		}
		var f *ts.Tensor
		if h.cfg.PoolType == "adaptive" {
			s := multiPoolAdaptive[i]
			f = x.MustAdaptiveAvgPool2d([]int64{s, s}, false)
		} else {
			k := multiPoolSpecs[i]
			f = x.MustAvgPool2d([]int64{k[0], k[0]}, []int64{k[1], k[1]}, []int64{k[2], k[2]}, false, true, nil, false)
		}
		if h.norms != nil {
			f = dropAfter(f, h.norms[j].forward(f, train))
		}
		f = f.MustFlatten(1, -1, true)
		if got := f.MustSize()[1]; got != h.fcs[j].in {
			f.MustDrop()
			return fail(fmt.Errorf("MultiClsHead input %d pools to %d features, want %d (ResNet-50 at 224 px)", j, got, h.fcs[j].in))
		}
		out = append(out, dropAfter(f, h.fcs[j].forward(f)))
	}
	if h.cfg.WithLastLayerUnpool {
		last := xs[len(xs)-1].MustFlatten(1, -1, false)
		if last.MustSize()[1] != h.fcs[len(h.fcs)-1].in {
			last.MustDrop()
			return fail(fmt.Errorf("MultiClsHead: last input does not flatten to 2048·7·7"))
		}
		out = append(out, dropAfter(last, h.fcs[len(h.fcs)-1].forward(last)))
	}
	return out, nil
}

// Loss returns "loss.{k}" (CE) and "acc.{k}" for every classifier k = 1….
func (h *MultiClsHead) Loss(scores []*ts.Tensor, labels *ts.Tensor) (*Losses, error) {
	l := NewLosses()
	for k, s := range scores {
		if err := checkLabels("MultiClsHead", s, labels); err != nil {
			l.Drop()
			return nil, err
		}
		loss, err := crossEntropy(s, labels)
		if err != nil {
			l.Drop()
			return nil, fmt.Errorf("MultiClsHead: %w", err)
		}
		l.Set("loss."+strconv.Itoa(k+1), loss)
		l.Set("acc."+strconv.Itoa(k+1), accuracyTop1(s, labels))
	}
	return l, nil
}

func init() {
	RegisterHead("MultiClsHead", func(p *nn.Path, m map[string]any) (Head, error) {
		c := &MultiClsHeadConfig{PoolType: "adaptive", InIndices: []int{0}, Backbone: "resnet50", NumClasses: 1000}
		return buildFrom(p, "head", m, c, func(c *MultiClsHeadConfig) (Head, error) { return NewMultiClsHead(p, *c) })
	})
}
