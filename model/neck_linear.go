package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// LinearNeckConfig is MMSelfSup's LinearNeck (necks/linear_neck.py).
type LinearNeckConfig struct {
	InChannels  int  `yaml:"in_channels"`
	OutChannels int  `yaml:"out_channels"`
	WithAvgPool bool `yaml:"with_avg_pool"`
	InitCfg     any  `yaml:"init_cfg"`
}

// Validate checks the channel counts.
func (c *LinearNeckConfig) Validate() error {
	if err := positive("in_channels", c.InChannels); err != nil {
		return err
	}
	return positive("out_channels", c.OutChannels)
}

// LinearNeck is MoCo v1's / NPID's neck: [avg-pool] → fc (key neck.fc).
type LinearNeck struct {
	cfg LinearNeckConfig
	fc  *linear
}

// NewLinearNeck builds the neck under p with PyTorch's default Linear init.
func NewLinearNeck(p *nn.Path, c LinearNeckConfig) (*LinearNeck, error) {
	fc, err := newLinear(p.Sub("fc"), int64(c.InChannels), int64(c.OutChannels), true, torchDefault)
	if err != nil {
		return nil, err
	}
	if err := neckInit(configPath(p, "neck"), c.InitCfg, nil, []initLayer{fc}); err != nil {
		return nil, err
	}
	return &LinearNeck{cfg: c, fc: fc}, nil
}

// Forward returns [fc(pool(x[0]))] (N×out).
func (n *LinearNeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("LinearNeck", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("LinearNeck", x, int64(n.cfg.InChannels), n.cfg.WithAvgPool); err != nil {
		return nil, err
	}
	h := poolFlatten(x, n.cfg.WithAvgPool)
	return []*ts.Tensor{dropAfter(h, n.fc.forward(h))}, nil
}

// MoCoV2NeckConfig is MMSelfSup's MoCoV2Neck (necks/mocov2_neck.py).
type MoCoV2NeckConfig struct {
	InChannels  int  `yaml:"in_channels"`
	HidChannels int  `yaml:"hid_channels"`
	OutChannels int  `yaml:"out_channels"`
	WithAvgPool bool `yaml:"with_avg_pool"`
	InitCfg     any  `yaml:"init_cfg"`
}

// Validate checks the channel counts.
func (c *MoCoV2NeckConfig) Validate() error {
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

// MoCoV2Neck is [avg-pool] → fc → ReLU → fc (keys neck.mlp.0, neck.mlp.2).
type MoCoV2Neck struct {
	cfg      MoCoV2NeckConfig
	fc0, fc2 *linear
}

// NewMoCoV2Neck builds the neck under p with PyTorch's default Linear init.
func NewMoCoV2Neck(p *nn.Path, c MoCoV2NeckConfig) (*MoCoV2Neck, error) {
	n := &MoCoV2Neck{cfg: c}
	var err error
	mlp := p.Sub("mlp")
	if n.fc0, err = newLinear(mlp.Sub("0"), int64(c.InChannels), int64(c.HidChannels), true, torchDefault); err != nil {
		return nil, err
	}
	if n.fc2, err = newLinear(mlp.Sub("2"), int64(c.HidChannels), int64(c.OutChannels), true, torchDefault); err != nil {
		return nil, err
	}
	return n, neckInit(configPath(p, "neck"), c.InitCfg, nil, []initLayer{n.fc0, n.fc2})
}

// Forward returns [mlp(pool(x[0]))] (N×out).
func (n *MoCoV2Neck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("MoCoV2Neck", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("MoCoV2Neck", x, int64(n.cfg.InChannels), n.cfg.WithAvgPool); err != nil {
		return nil, err
	}
	h := poolFlatten(x, n.cfg.WithAvgPool)
	h = dropAfter(h, n.fc0.forward(h))
	relu_(h)
	return []*ts.Tensor{dropAfter(h, n.fc2.forward(h))}, nil
}

// AvgPool2dNeckConfig is MMSelfSup's AvgPool2dNeck (output_size, default 1).
type AvgPool2dNeckConfig struct {
	OutputSize int `yaml:"output_size"`
}

// Validate checks output_size.
func (c *AvgPool2dNeckConfig) Validate() error { return positive("output_size", c.OutputSize) }

// AvgPool2dNeck is AdaptiveAvgPool2d(output_size): N×C×s×s, no parameters.
type AvgPool2dNeck struct{ size int64 }

// Forward returns [pool(x[0])].
func (n *AvgPool2dNeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("AvgPool2dNeck", xs)
	if err != nil {
		return nil, err
	}
	if x.Dim() != 4 {
		return nil, fmt.Errorf("AvgPool2dNeck input shape %v, want N×C×H×W", x.MustSize())
	}
	return []*ts.Tensor{x.MustAdaptiveAvgPool2d([]int64{n.size, n.size}, false)}, nil
}

func init() {
	RegisterNeck("LinearNeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		return buildFrom(p, "neck", m, &LinearNeckConfig{WithAvgPool: true}, func(c *LinearNeckConfig) (Neck, error) { return NewLinearNeck(p, *c) })
	})
	RegisterNeck("MoCoV2Neck", func(p *nn.Path, m map[string]any) (Neck, error) {
		return buildFrom(p, "neck", m, &MoCoV2NeckConfig{WithAvgPool: true}, func(c *MoCoV2NeckConfig) (Neck, error) { return NewMoCoV2Neck(p, *c) })
	})
	RegisterNeck("AvgPool2dNeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		return buildFrom(p, "neck", m, &AvgPool2dNeckConfig{OutputSize: 1}, func(c *AvgPool2dNeckConfig) (Neck, error) {
			return &AvgPool2dNeck{size: int64(c.OutputSize)}, nil
		})
	})
}
