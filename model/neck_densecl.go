package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// DenseCLNeckConfig is MMSelfSup's DenseCLNeck (necks/densecl_neck.py).
type DenseCLNeckConfig struct {
	InChannels  int `yaml:"in_channels"`
	HidChannels int `yaml:"hid_channels"`
	OutChannels int `yaml:"out_channels"`
	NumGrid     int `yaml:"num_grid"` // 0 (None): keep the backbone grid
	InitCfg     any `yaml:"init_cfg"`
}

// Validate checks the sizes.
func (c *DenseCLNeckConfig) Validate() error {
	for _, v := range []struct {
		n string
		v int
	}{{"in_channels", c.InChannels}, {"hid_channels", c.HidChannels}, {"out_channels", c.OutChannels}} {
		if err := positive(v.n, v.v); err != nil {
			return err
		}
	}
	if c.NumGrid < 0 {
		return fmt.Errorf("num_grid %d must be ≥ 0 (0 = None)", c.NumGrid)
	}
	return nil
}

// DenseCLNeck runs a global branch (avg-pool → fc → ReLU → fc; keys
// neck.mlp.0/2) and a dense branch (1×1 conv → ReLU → 1×1 conv; keys
// neck.mlp2.0/2) in parallel.
type DenseCLNeck struct {
	cfg        DenseCLNeckConfig
	fc0, fc2   *linear
	conv0, cv2 *conv2d
}

// NewDenseCLNeck builds the neck under p with PyTorch's default inits.
func NewDenseCLNeck(p *nn.Path, c DenseCLNeckConfig) (*DenseCLNeck, error) {
	n := &DenseCLNeck{cfg: c}
	var err error
	in, hid, out := int64(c.InChannels), int64(c.HidChannels), int64(c.OutChannels)
	if n.fc0, err = newLinear(p.Sub("mlp").Sub("0"), in, hid, true, torchDefault); err != nil {
		return nil, err
	}
	if n.fc2, err = newLinear(p.Sub("mlp").Sub("2"), hid, out, true, torchDefault); err != nil {
		return nil, err
	}
	if n.conv0, err = newConv2d(p.Sub("mlp2").Sub("0"), in, hid, 1, 1, 0, 1, 1, true, torchDefault); err != nil {
		return nil, err
	}
	if n.cv2, err = newConv2d(p.Sub("mlp2").Sub("2"), hid, out, 1, 1, 0, 1, 1, true, torchDefault); err != nil {
		return nil, err
	}
	return n, neckInit(configPath(p, "neck"), c.InitCfg, nil, []initLayer{n.fc0, n.fc2, n.conv0, n.cv2})
}

// Forward returns [g (N×out), d (N×out×S²), d_avg (N×out)].
func (n *DenseCLNeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("DenseCLNeck", xs)
	if err != nil {
		return nil, err
	}
	if err := checkFeatureInput("DenseCLNeck", x, int64(n.cfg.InChannels), true); err != nil {
		return nil, err
	}
	g := poolFlatten(x, true)
	g = dropAfter(g, n.fc0.forward(g))
	relu_(g)
	g = dropAfter(g, n.fc2.forward(g))

	src := x
	if n.cfg.NumGrid > 0 {
		s := int64(n.cfg.NumGrid)
		src = x.MustAdaptiveAvgPool2d([]int64{s, s}, false)
	}
	d := n.conv0.forward(src)
	if src != x {
		src.MustDrop()
	}
	relu_(d)
	d = dropAfter(d, n.cv2.forward(d))
	davg := poolFlatten(d, true)
	d = d.MustFlatten(2, -1, true)
	return []*ts.Tensor{g, d, davg}, nil
}

func init() {
	RegisterNeck("DenseCLNeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		return buildFrom(p, "neck", m, &DenseCLNeckConfig{}, func(c *DenseCLNeckConfig) (Neck, error) { return NewDenseCLNeck(p, *c) })
	})
}
