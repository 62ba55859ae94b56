package model

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// ResNetConfig holds MMSelfSup's ResNet arguments
// (mmselfsup/models/backbones/resnet.py over mmcls 0.23 ResNet), with its
// defaults. out_indices use MMSelfSup's meaning: 0 = stem output after ReLU
// and before max-pool, k = output of layer k.
type ResNetConfig struct {
	Depth            int            `yaml:"depth"`
	InChannels       int            `yaml:"in_channels"`
	StemChannels     int            `yaml:"stem_channels"`
	BaseChannels     int            `yaml:"base_channels"`
	Expansion        int            `yaml:"expansion"` // 0: the block's (1 basic, 4 bottleneck)
	NumStages        int            `yaml:"num_stages"`
	Strides          []int          `yaml:"strides"`
	Dilations        []int          `yaml:"dilations"`
	OutIndices       []int          `yaml:"out_indices"`
	Style            string         `yaml:"style"` // pytorch | caffe
	DeepStem         bool           `yaml:"deep_stem"`
	AvgDown          bool           `yaml:"avg_down"`
	FrozenStages     int            `yaml:"frozen_stages"`
	ConvCfg          map[string]any `yaml:"conv_cfg"`
	NormCfg          map[string]any `yaml:"norm_cfg"`
	NormEval         bool           `yaml:"norm_eval"`
	WithCP           bool           `yaml:"with_cp"`
	ZeroInitResidual bool           `yaml:"zero_init_residual"`
	InitCfg          any            `yaml:"init_cfg"`
	DropPathRate     float64        `yaml:"drop_path_rate"`

	// Set by the registered type, not by config keys.
	cifarStem     bool // ResNet_CIFAR: 3×3 stride-1 conv1, no max-pool
	groups        int  // ResNeXt
	widthPerGroup int
	typeName      string
}

// ResNeXtConfig adds ResNeXt's grouped-conv arguments.
type ResNeXtConfig struct {
	ResNetConfig  `yaml:",inline"`
	Groups        int `yaml:"groups"`
	WidthPerGroup int `yaml:"width_per_group"`
}

// DefaultResNetConfig returns MMSelfSup's defaults for a given depth.
func DefaultResNetConfig(depth int) ResNetConfig {
	return ResNetConfig{
		Depth: depth, InChannels: 3, StemChannels: 64, BaseChannels: 64, NumStages: 4,
		Strides: []int{1, 2, 2, 2}, Dilations: []int{1, 1, 1, 1}, OutIndices: []int{4},
		Style: "pytorch", FrozenStages: -1, typeName: "ResNet",
	}
}

var resnetArch = map[int]struct {
	bottleneck bool
	blocks     []int
}{
	18: {false, []int{2, 2, 2, 2}}, 34: {false, []int{3, 4, 6, 3}},
	50: {true, []int{3, 4, 6, 3}}, 101: {true, []int{3, 4, 23, 3}}, 152: {true, []int{3, 8, 36, 3}},
}

// Validate checks every argument against what mmcls accepts.
func (c *ResNetConfig) Validate() error {
	arch, ok := resnetArch[c.Depth]
	if !ok {
		return fmt.Errorf("depth %d invalid (have: 18, 34, 50, 101, 152)", c.Depth)
	}
	if c.groups > 0 && !arch.bottleneck {
		return fmt.Errorf("depth %d: ResNeXt needs a bottleneck depth (50, 101, 152)", c.Depth)
	}
	if c.InChannels < 1 || c.StemChannels < 1 || c.BaseChannels < 1 {
		return fmt.Errorf("in_channels %d, stem_channels %d, base_channels %d must be ≥ 1", c.InChannels, c.StemChannels, c.BaseChannels)
	}
	if c.NumStages < 1 || c.NumStages > 4 {
		return fmt.Errorf("num_stages %d outside 1..4", c.NumStages)
	}
	if len(c.Strides) != c.NumStages || len(c.Dilations) != c.NumStages {
		return fmt.Errorf("strides %v and dilations %v need num_stages=%d entries", c.Strides, c.Dilations, c.NumStages)
	}
	for i := range c.Strides {
		if c.Strides[i] < 1 || c.Dilations[i] < 1 {
			return fmt.Errorf("strides %v / dilations %v must be ≥ 1", c.Strides, c.Dilations)
		}
	}
	if len(c.OutIndices) == 0 {
		return fmt.Errorf("out_indices is empty")
	}
	for _, i := range c.OutIndices {
		if i < 0 || i > c.NumStages {
			return fmt.Errorf("out_indices %v: %d outside 0..num_stages=%d", c.OutIndices, i, c.NumStages)
		}
	}
	if c.Style != "pytorch" && c.Style != "caffe" {
		return fmt.Errorf("style %q (want pytorch or caffe)", c.Style)
	}
	if c.FrozenStages < -1 || c.FrozenStages > c.NumStages {
		return fmt.Errorf("frozen_stages %d outside -1..num_stages=%d", c.FrozenStages, c.NumStages)
	}
	if c.Expansion < 0 || (c.Expansion > 0 && !arch.bottleneck && c.Expansion != 1) {
		return fmt.Errorf("expansion %d invalid for depth %d", c.Expansion, c.Depth)
	}
	if c.ConvCfg != nil && c.ConvCfg["type"] != "Conv2d" && c.ConvCfg["type"] != "Conv" {
		return fmt.Errorf("conv_cfg %v not supported (only plain Conv2d)", c.ConvCfg)
	}
	if c.DropPathRate != 0 {
		return fmt.Errorf("drop_path_rate %g not supported (only 0)", c.DropPathRate)
	}
	if c.cifarStem && c.DeepStem {
		return fmt.Errorf("ResNet_CIFAR has no deep stem")
	}
	return nil
}

// ResNet is the MMSelfSup ResNet family: ResNet, ResNetV1d, ResNeXt and
// mmcls's ResNet_CIFAR. Construction initialises as mmcls (Kaiming-normal
// fan_out convs, BN 1/0, zero_init_residual) from libtorch's generator.
type ResNet struct {
	cfg        ResNetConfig
	stemConv   *conv2d // conv1, or nil with a deep stem
	stemBN     *batchNorm
	deep       []convModule // stem.{0,1,2}
	stages     [][]*resBlock
	outIdx     map[int]bool
	outCh      []int64
	stageCh    []int64 // channels after stem (0) and each stage
	pretrained map[string]any
	notes      []string
}

// convModule is mmcv's ConvModule(conv, bn, ReLU) of the deep stem.
type convModule struct {
	conv *conv2d
	bn   *batchNorm
}

func init() {
	RegisterBackbone("ResNet", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := DefaultResNetConfig(0)
		return buildFrom(p, "backbone", m, &c, func(c *ResNetConfig) (Backbone, error) { return NewResNet(p, *c) })
	})
	RegisterBackbone("ResNetV1d", func(p *nn.Path, m map[string]any) (Backbone, error) {
		if _, ok := m["deep_stem"]; ok {
			return nil, fmt.Errorf("%s.deep_stem: fixed to true by ResNetV1d", configPath(p, "backbone"))
		}
		if _, ok := m["avg_down"]; ok {
			return nil, fmt.Errorf("%s.avg_down: fixed to true by ResNetV1d", configPath(p, "backbone"))
		}
		c := DefaultResNetConfig(0)
		c.typeName = "ResNetV1d"
		return buildFrom(p, "backbone", m, &c, func(c *ResNetConfig) (Backbone, error) {
			c.DeepStem, c.AvgDown = true, true
			return NewResNet(p, *c)
		})
	})
	RegisterBackbone("ResNet_CIFAR", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := DefaultResNetConfig(0)
		c.cifarStem, c.typeName = true, "ResNet_CIFAR"
		return buildFrom(p, "backbone", m, &c, func(c *ResNetConfig) (Backbone, error) { return NewResNet(p, *c) })
	})
	RegisterBackbone("ResNeXt", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := ResNeXtConfig{ResNetConfig: DefaultResNetConfig(0), Groups: 32, WidthPerGroup: 4}
		return buildFrom(p, "backbone", m, &c, func(c *ResNeXtConfig) (Backbone, error) {
			r := c.ResNetConfig
			r.groups, r.widthPerGroup, r.typeName = c.Groups, c.WidthPerGroup, "ResNeXt"
			return NewResNet(p, r)
		})
	})
}

// Validate checks ResNeXt's extra arguments and the ResNet ones.
func (c *ResNeXtConfig) Validate() error {
	if c.Groups < 1 || c.WidthPerGroup < 1 {
		return fmt.Errorf("groups %d and width_per_group %d must be ≥ 1", c.Groups, c.WidthPerGroup)
	}
	c.ResNetConfig.groups = c.Groups
	return c.ResNetConfig.Validate()
}

// NewResNet builds a ResNet under p (use p = root.Sub("backbone") for
// MMSelfSup's keys).
func NewResNet(p *nn.Path, c ResNetConfig) (*ResNet, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	path := configPath(p, "backbone")
	norm, err := parseNorm(path+".norm_cfg", c.NormCfg, defaultNorm("BN"))
	if err != nil {
		return nil, err
	}
	specs, pretrained, err := parseInitCfg(path+".init_cfg", c.InitCfg)
	if err != nil {
		return nil, err
	}
	if len(specs) > 0 {
		return nil, fmt.Errorf("%s.init_cfg: only Pretrained (or the default) is supported for ResNet", path)
	}
	r := &ResNet{cfg: c, outIdx: map[int]bool{}, pretrained: pretrained}
	if n := norm.note(path + ".norm_cfg"); n != "" {
		r.notes = append(r.notes, n)
	}
	if c.WithCP {
		r.notes = append(r.notes, path+".with_cp: activation checkpointing is not implemented; memory use is that of with_cp=False")
	}
	arch := resnetArch[c.Depth]
	expansion := int64(c.Expansion)
	if expansion == 0 {
		expansion = 1
		if arch.bottleneck {
			expansion = 4
		}
	}
	var layers []initLayer
	stem := int64(c.StemChannels)
	switch {
	case c.DeepStem:
		chans := []int64{int64(c.InChannels), stem / 2, stem / 2, stem}
		for i := 0; i < 3; i++ {
			sp := p.Sub("stem").Sub(strconv.Itoa(i))
			stride := int64(1)
			if i == 0 {
				stride = 2
			}
			conv, err := newConv2d(sp.Sub("conv"), chans[i], chans[i+1], 3, stride, 1, 1, 1, false, kaimingFanOut)
			if err != nil {
				return nil, err
			}
			bn, err := newBatchNorm(sp.Sub("bn"), chans[i+1], norm)
			if err != nil {
				return nil, err
			}
			r.deep = append(r.deep, convModule{conv, bn})
			layers = append(layers, conv, bn)
		}
	default:
		k, s, pad := int64(7), int64(2), int64(3)
		if c.cifarStem {
			k, s, pad = 3, 1, 1
		}
		if r.stemConv, err = newConv2d(p.Sub("conv1"), int64(c.InChannels), stem, k, s, pad, 1, 1, false, kaimingFanOut); err != nil {
			return nil, err
		}
		if r.stemBN, err = newBatchNorm(p.Sub("bn1"), stem, norm); err != nil {
			return nil, err
		}
		layers = append(layers, r.stemConv, r.stemBN)
	}
	r.stageCh = []int64{stem}
	in, out := stem, int64(c.BaseChannels)*expansion
	for s := 0; s < c.NumStages; s++ {
		lp := p.Sub("layer" + strconv.Itoa(s+1))
		var blocks []*resBlock
		for b := 0; b < arch.blocks[s]; b++ {
			mid := out / expansion
			if c.groups > 1 {
				mid = int64(c.groups*c.widthPerGroup) * mid / int64(c.BaseChannels)
			}
			spec := blockSpec{
				bottleneck: arch.bottleneck, in: in, out: out, mid: mid, stride: 1,
				dilation: int64(c.Dilations[s]), groups: 1, caffe: c.Style == "caffe",
				avgDown: c.AvgDown, norm: norm,
			}
			if c.groups > 1 {
				spec.groups = int64(c.groups)
			}
			if b == 0 {
				spec.stride = int64(c.Strides[s])
				spec.withShortcut = spec.stride != 1 || in != out
			}
			blk, bl, err := newResBlock(lp.Sub(strconv.Itoa(b)), spec)
			if err != nil {
				return nil, err
			}
			blocks = append(blocks, blk)
			layers = append(layers, bl...)
			in = out
		}
		r.stages = append(r.stages, blocks)
		r.stageCh = append(r.stageCh, out)
		out *= 2
	}
	if c.ZeroInitResidual && pretrained == nil {
		for _, st := range r.stages {
			for _, b := range st {
				if err := b.lastNorm().reinit(InitSpec{Type: "Constant", Val: 0}); err != nil {
					return nil, err
				}
			}
		}
	}
	r.freeze()
	idx := append([]int(nil), c.OutIndices...)
	sort.Ints(idx)
	for _, i := range idx {
		if !r.outIdx[i] {
			r.outIdx[i] = true
			r.outCh = append(r.outCh, r.stageCh[i])
		}
	}
	return r, nil
}

// freeze sets requires_grad=false on the stem and layer1..frozen_stages,
// as mmcls's _freeze_stages.
func (r *ResNet) freeze() {
	if r.cfg.FrozenStages < 0 {
		return
	}
	if r.stemConv != nil {
		freezeTensors(r.stemConv.w, r.stemBN.w, r.stemBN.b)
	}
	for _, m := range r.deep {
		freezeTensors(m.conv.w, m.bn.w, m.bn.b)
	}
	for s := 0; s < r.cfg.FrozenStages; s++ {
		for _, b := range r.stages[s] {
			for _, c := range []*conv2d{b.conv1, b.conv2, b.conv3} {
				if c != nil {
					freezeTensors(c.w)
				}
			}
			for _, n := range []*batchNorm{b.bn1, b.bn2, b.bn3} {
				if n != nil {
					freezeTensors(n.w, n.b)
				}
			}
			if b.down != nil {
				freezeTensors(b.down.conv.w, b.down.bn.w, b.down.bn.b)
			}
		}
	}
}

// OutChannels lists the channels of each output, in out_indices order.
func (r *ResNet) OutChannels() []int64 { return append([]int64(nil), r.outCh...) }

// Notes lists settings honoured approximately (SyncBN, with_cp).
func (r *ResNet) Notes() []string { return r.notes }

// Pretrained returns the init_cfg Pretrained entry (checkpoint, prefix),
// or nil; loading it is the caller's job.
func (r *ResNet) Pretrained() map[string]any { return r.pretrained }

// bnTrain says whether stage s (0 = stem) uses batch statistics: not when
// frozen (mmcls puts frozen stages in eval) nor under norm_eval.
func (r *ResNet) bnTrain(train bool, s int) bool {
	return train && !r.cfg.NormEval && s > r.cfg.FrozenStages
}

// Forward runs the network; see Backbone. x must be N×in_channels×H×W.
func (r *ResNet) Forward(x *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	dims, err := x.Size()
	if err != nil {
		return nil, fmt.Errorf("resnet input: %w", err)
	}
	if len(dims) != 4 || dims[1] != int64(r.cfg.InChannels) {
		return nil, fmt.Errorf("resnet input shape %v, want N×%d×H×W", dims, r.cfg.InChannels)
	}
	var outs []*ts.Tensor
	// h is always a tensor this function created; once it is an output it
	// must not be dropped.
	var h *ts.Tensor
	bt := r.bnTrain(train, 0)
	if r.stemConv != nil {
		h = r.stemConv.forward(x)
		h = dropAfter(h, r.stemBN.forward(h, bt))
		relu_(h)
	} else {
		for i, m := range r.deep {
			var y *ts.Tensor
			if i == 0 {
				y = m.conv.forward(x)
			} else {
				y = dropAfter(h, m.conv.forward(h))
			}
			h = dropAfter(y, m.bn.forward(y, bt))
			relu_(h)
		}
	}
	isOut := r.outIdx[0]
	if isOut {
		outs = append(outs, h)
	}
	if !r.cfg.cifarStem {
		y := h.MustMaxPool2d([]int64{3, 3}, []int64{2, 2}, []int64{1, 1}, []int64{1, 1}, false, false)
		if !isOut {
			h.MustDrop()
		}
		h, isOut = y, false
	}
	for s, blocks := range r.stages {
		bt := r.bnTrain(train, s+1)
		for _, b := range blocks {
			y := b.forward(h, bt)
			if !isOut {
				h.MustDrop()
			}
			h, isOut = y, false
		}
		if r.outIdx[s+1] {
			outs = append(outs, h)
			isOut = true
		}
	}
	if !isOut {
		h.MustDrop()
	}
	return outs, nil
}
