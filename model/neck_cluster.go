package model

import (
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// ODCNeckConfig is MMSelfSup's ODCNeck (necks/odc_neck.py).
type ODCNeckConfig struct {
	InChannels  int            `yaml:"in_channels"`
	HidChannels int            `yaml:"hid_channels"`
	OutChannels int            `yaml:"out_channels"`
	WithAvgPool bool           `yaml:"with_avg_pool"`
	NormCfg     map[string]any `yaml:"norm_cfg"`
	InitCfg     any            `yaml:"init_cfg"`
}

// Validate checks the channel counts.
func (c *ODCNeckConfig) Validate() error {
	for _, v := range []struct {
		n string
		v int
	}{{"in_channels", c.InChannels}, {"hid_channels", c.HidChannels}, {"out_channels", c.OutChannels}} {
		if err := positive(v.n, v.v); err != nil {
			return err
		}
	}
	return nil
}

// ODCNeck is [avg-pool] → fc0 → BN(momentum 0.001, affine=False) → ReLU →
// Dropout(0.5) → fc1 → ReLU. Keys neck.fc0.*, neck.bn0.* (buffers only),
// neck.fc1.*.
type ODCNeck struct {
	cfg      ODCNeckConfig
	fc0, fc1 *linear
	bn0      *batchNorm
	notes    []string
}

// NewODCNeck builds the neck under p.
func NewODCNeck(p *nn.Path, c ODCNeckConfig) (*ODCNeck, error) {
	path := configPath(p, "neck")
	norm, err := parseNorm(path+".norm_cfg", c.NormCfg, defaultNorm("SyncBN"))
	if err != nil {
		return nil, err
	}
	norm.Momentum, norm.Affine = 0.001, false
	n := &ODCNeck{cfg: c}
	if note := norm.note(path + ".norm_cfg"); note != "" {
		n.notes = append(n.notes, note)
	}
	if n.fc0, err = newLinear(p.Sub("fc0"), int64(c.InChannels), int64(c.HidChannels), true, torchDefault); err != nil {
		return nil, err
	}
	if n.bn0, err = newBatchNorm(p.Sub("bn0"), int64(c.HidChannels), norm); err != nil {
		return nil, err
	}
	if n.fc1, err = newLinear(p.Sub("fc1"), int64(c.HidChannels), int64(c.OutChannels), true, torchDefault); err != nil {
		return nil, err
	}
	return n, neckInit(path, c.InitCfg, bnOnes, []initLayer{n.fc0, n.bn0, n.fc1})
}

// Notes reports SyncBN acting as BN.
func (n *ODCNeck) Notes() []string { return n.notes }

// Forward returns [y] (N×out, non-negative). Dropout draws from libtorch's
// generator when train.
func (n *ODCNeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("ODCNeck", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("ODCNeck", x, int64(n.cfg.InChannels), n.cfg.WithAvgPool); err != nil {
		return nil, err
	}
	h := poolFlatten(x, n.cfg.WithAvgPool)
	h = dropAfter(h, n.fc0.forward(h))
	h = dropAfter(h, n.bn0.forward(h, train))
	relu_(h)
	h = dropAfter(h, ts.MustDropout(h, 0.5, train))
	h = dropAfter(h, n.fc1.forward(h))
	relu_(h)
	return []*ts.Tensor{h}, nil
}

// RelativeLocNeckConfig is MMSelfSup's RelativeLocNeck
// (necks/relative_loc_neck.py); in_channels is one patch's channels.
type RelativeLocNeckConfig struct {
	InChannels  int            `yaml:"in_channels"`
	OutChannels int            `yaml:"out_channels"`
	WithAvgPool bool           `yaml:"with_avg_pool"`
	NormCfg     map[string]any `yaml:"norm_cfg"`
	InitCfg     any            `yaml:"init_cfg"`
}

// Validate checks the channel counts.
func (c *RelativeLocNeckConfig) Validate() error {
	if err := positive("in_channels", c.InChannels); err != nil {
		return err
	}
	return positive("out_channels", c.OutChannels)
}

// RelativeLocNeck is [avg-pool] → fc(2·in → out) → BN(momentum 0.003) →
// ReLU → Dropout(0.5). Keys neck.fc.*, neck.bn.*; init Linear N(0, 0.01²).
type RelativeLocNeck struct {
	cfg RelativeLocNeckConfig
	fc  *linear
	bn  *batchNorm
}

// NewRelativeLocNeck builds the neck under p.
func NewRelativeLocNeck(p *nn.Path, c RelativeLocNeckConfig) (*RelativeLocNeck, error) {
	path := configPath(p, "neck")
	norm, err := parseNorm(path+".norm_cfg", c.NormCfg, defaultNorm("BN1d"))
	if err != nil {
		return nil, err
	}
	norm.Momentum = 0.003
	n := &RelativeLocNeck{cfg: c}
	if n.fc, err = newLinear(p.Sub("fc"), 2*int64(c.InChannels), int64(c.OutChannels), true, torchDefault); err != nil {
		return nil, err
	}
	if n.bn, err = newBatchNorm(p.Sub("bn"), int64(c.OutChannels), norm); err != nil {
		return nil, err
	}
	defaults := []InitSpec{{Type: "Normal", Std: 0.01, Layer: []string{"Linear"}}, bnOnes[0]}
	return n, neckInit(path, c.InitCfg, defaults, []initLayer{n.fc, n.bn})
}

// Forward returns [y] (N×out) for x[0] of N×2·in×H×W.
func (n *RelativeLocNeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("RelativeLocNeck", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("RelativeLocNeck", x, 2*int64(n.cfg.InChannels), n.cfg.WithAvgPool); err != nil {
		return nil, err
	}
	h := poolFlatten(x, n.cfg.WithAvgPool)
	h = dropAfter(h, n.fc.forward(h))
	h = dropAfter(h, n.bn.forward(h, train))
	relu_(h)
	return []*ts.Tensor{dropAfter(h, ts.MustDropout(h, 0.5, train))}, nil
}

func init() {
	RegisterNeck("ODCNeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		return buildFrom(p, "neck", m, &ODCNeckConfig{WithAvgPool: true}, func(c *ODCNeckConfig) (Neck, error) { return NewODCNeck(p, *c) })
	})
	RegisterNeck("RelativeLocNeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		return buildFrom(p, "neck", m, &RelativeLocNeckConfig{WithAvgPool: true}, func(c *RelativeLocNeckConfig) (Neck, error) { return NewRelativeLocNeck(p, *c) })
	})
}
