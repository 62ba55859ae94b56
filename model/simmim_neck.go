package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SimMIMNeckConfig is MMSelfSup's SimMIMNeck (necks/simmim_neck.py).
type SimMIMNeckConfig struct {
	InChannels    int `yaml:"in_channels"`
	EncoderStride int `yaml:"encoder_stride"`
	InitCfg       any `yaml:"init_cfg"`
}

// Validate checks the sizes.
func (c *SimMIMNeckConfig) Validate() error {
	if err := positive("in_channels", c.InChannels); err != nil {
		return err
	}
	return positive("encoder_stride", c.EncoderStride)
}

// SimMIMNeck reconstructs the image from the last feature map: a 1×1
// conv (in → stride²·3, bias; key decoder.0) then PixelShuffle(stride).
// The conv keeps PyTorch's default init unless init_cfg says otherwise.
type SimMIMNeck struct {
	conv   *conv2d
	stride int64
	in     int64
}

// NewSimMIMNeck builds the neck under p.
func NewSimMIMNeck(p *nn.Path, c SimMIMNeckConfig) (*SimMIMNeck, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := int64(c.EncoderStride)
	conv, err := newConv2d(p.Sub("decoder").Sub("0"), int64(c.InChannels), s*s*3, 1, 1, 0, 1, 1, true, torchDefault)
	if err != nil {
		return nil, err
	}
	if err := neckInit(configPath(p, "neck"), c.InitCfg, nil, []initLayer{conv}); err != nil {
		return nil, err
	}
	return &SimMIMNeck{conv: conv, stride: s, in: int64(c.InChannels)}, nil
}

// Forward maps [x (N×C×h×w)] to [N×3×(h·s)×(w·s)].
func (n *SimMIMNeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	x, err := singleInput("SimMIMNeck", xs)
	if err != nil {
		return nil, err
	}
	if d, err := x.Size(); err != nil || len(d) != 4 || d[1] != n.in {
		return nil, fmt.Errorf("SimMIMNeck input shape %v, want N×%d×h×w", d, n.in)
	}
	y := n.conv.forward(x)
	return []*ts.Tensor{y.MustPixelShuffle(n.stride, true)}, nil
}

func init() {
	RegisterNeck("SimMIMNeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		var c SimMIMNeckConfig
		return buildFrom(p, "neck", m, &c, func(c *SimMIMNeckConfig) (Neck, error) { return NewSimMIMNeck(p, *c) })
	})
}
