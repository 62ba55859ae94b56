package model

import (
	"fmt"
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// NonLinearNeckConfig is MMSelfSup's NonLinearNeck (algorithms.md §0.3).
type NonLinearNeckConfig struct {
	InChannels       int            `yaml:"in_channels"`
	HidChannels      int            `yaml:"hid_channels"`
	OutChannels      int            `yaml:"out_channels"`
	NumLayers        int            `yaml:"num_layers"`
	WithBias         bool           `yaml:"with_bias"`
	WithLastBN       bool           `yaml:"with_last_bn"`
	WithLastBNAffine bool           `yaml:"with_last_bn_affine"`
	WithLastBias     bool           `yaml:"with_last_bias"`
	WithAvgPool      bool           `yaml:"with_avg_pool"`
	VitBackbone      bool           `yaml:"vit_backbone"`
	NormCfg          map[string]any `yaml:"norm_cfg"`
	InitCfg          any            `yaml:"init_cfg"`
}

// DefaultNonLinearNeckConfig returns MMSelfSup's defaults.
func DefaultNonLinearNeckConfig(in, hid, out int) NonLinearNeckConfig {
	return NonLinearNeckConfig{
		InChannels: in, HidChannels: hid, OutChannels: out, NumLayers: 2,
		WithLastBN: true, WithLastBNAffine: true, WithAvgPool: true,
	}
}

// Validate checks the sizes; vit_backbone needs a ViT backbone, which
// flowssl does not have.
func (c *NonLinearNeckConfig) Validate() error {
	for _, v := range []struct {
		n string
		v int
	}{{"in_channels", c.InChannels}, {"hid_channels", c.HidChannels}, {"out_channels", c.OutChannels}, {"num_layers", c.NumLayers}} {
		if err := positive(v.n, v.v); err != nil {
			return err
		}
	}
	if c.VitBackbone {
		return fmt.Errorf("vit_backbone=True not supported: flowssl has no ViT backbone")
	}
	return nil
}

// NonLinearNeck is fc0 → bn0 → [ReLU → fc_i → bn_i]…; the last fc has
// with_last_bias, the last BN exists iff with_last_bn (affine per
// with_last_bn_affine). Keys neck.fc{i}.*, neck.bn{i}.*.
type NonLinearNeck struct {
	cfg   NonLinearNeckConfig
	fcs   []*linear
	bns   []*batchNorm // bns[i] nil: no BN after fc i
	notes []string
}

// NewNonLinearNeck builds the neck under p.
func NewNonLinearNeck(p *nn.Path, c NonLinearNeckConfig) (*NonLinearNeck, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	path := configPath(p, "neck")
	norm, err := parseNorm(path+".norm_cfg", c.NormCfg, defaultNorm("SyncBN"))
	if err != nil {
		return nil, err
	}
	n := &NonLinearNeck{cfg: c}
	if note := norm.note(path + ".norm_cfg"); note != "" {
		n.notes = append(n.notes, note)
	}
	var layers []initLayer
	for i := 0; i < c.NumLayers; i++ {
		in, out, bias := int64(c.HidChannels), int64(c.HidChannels), c.WithBias
		if i == 0 {
			in = int64(c.InChannels)
		}
		last := i == c.NumLayers-1
		if last {
			out = int64(c.OutChannels)
			if i > 0 {
				bias = c.WithLastBias
			}
		}
		// With num_layers=1, MMSelfSup's fc0 is in→hid followed by bn0: the
		// out_channels argument is then unused.
		if last && i == 0 {
			out = int64(c.HidChannels)
		}
		fc, err := newLinear(p.Sub("fc"+strconv.Itoa(i)), in, out, bias, torchDefault)
		if err != nil {
			return nil, err
		}
		var bn *batchNorm
		if !last || !(i > 0) || c.WithLastBN {
			nc := norm
			if last && i > 0 {
				nc.Affine = c.WithLastBNAffine
			}
			if bn, err = newBatchNorm(p.Sub("bn"+strconv.Itoa(i)), out, nc); err != nil {
				return nil, err
			}
			layers = append(layers, bn)
		}
		layers = append(layers, fc)
		n.fcs = append(n.fcs, fc)
		n.bns = append(n.bns, bn)
	}
	return n, neckInit(path, c.InitCfg, bnOnes, layers)
}

// Notes reports SyncBN acting as BN.
func (n *NonLinearNeck) Notes() []string { return n.notes }

// Forward returns [y] (N×out).
func (n *NonLinearNeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("NonLinearNeck", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("NonLinearNeck", x, int64(n.cfg.InChannels), n.cfg.WithAvgPool); err != nil {
		return nil, err
	}
	h := poolFlatten(x, n.cfg.WithAvgPool)
	for i, fc := range n.fcs {
		if i > 0 {
			relu_(h)
		}
		h = dropAfter(h, fc.forward(h))
		if n.bns[i] != nil {
			h = dropAfter(h, n.bns[i].forward(h, train))
		}
	}
	return []*ts.Tensor{h}, nil
}

func init() {
	RegisterNeck("NonLinearNeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		c := DefaultNonLinearNeckConfig(0, 0, 0)
		return buildFrom(p, "neck", m, &c, func(c *NonLinearNeckConfig) (Neck, error) { return NewNonLinearNeck(p, *c) })
	})
}
