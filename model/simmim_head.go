package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SimMIMHeadConfig is MMSelfSup's SimMIMHead (heads/simmim_head.py).
type SimMIMHeadConfig struct {
	PatchSize         int `yaml:"patch_size"`
	EncoderInChannels int `yaml:"encoder_in_channels"`
	InitCfg           any `yaml:"init_cfg"`
}

// Validate checks the sizes.
func (c *SimMIMHeadConfig) Validate() error {
	if c.InitCfg != nil {
		return fmt.Errorf("init_cfg: SimMIMHead has no parameters")
	}
	if err := positive("patch_size", c.PatchSize); err != nil {
		return err
	}
	return positive("encoder_in_channels", c.EncoderInChannels)
}

// SimMIMHead is SimMIM's masked L1 loss: the token mask (N×h×w) is
// repeated patch_size× along both axes to pixels, and
// loss = Σ|x − x̂|·mask / (Σ mask + 1e-5) / C, Σ mask counting pixels of
// one channel (algorithms.md §16).
type SimMIMHead struct{ cfg SimMIMHeadConfig }

// NewSimMIMHead returns the head (it has no parameters).
func NewSimMIMHead(c SimMIMHeadConfig) (*SimMIMHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &SimMIMHead{cfg: c}, nil
}

// HeadType names the registered type.
func (h *SimMIMHead) HeadType() string { return "SimMIMHead" }

// Loss returns {"loss"} for the image x, its reconstruction and the mask.
func (h *SimMIMHead) Loss(x, rec, mask *ts.Tensor) (*Losses, error) {
	xd, err := x.Size()
	if err != nil {
		return nil, err
	}
	rd, err := rec.Size()
	if err != nil {
		return nil, err
	}
	md, err := mask.Size()
	if err != nil {
		return nil, err
	}
	p := int64(h.cfg.PatchSize)
	if len(xd) != 4 || !equalDims(xd, rd) || len(md) != 3 || md[0] != xd[0] || md[1]*p != xd[2] || md[2]*p != xd[3] {
		return nil, fmt.Errorf("SimMIMHead: image %v, reconstruction %v, mask %v; want equal N×C×H×W and an N×(H/%d)×(W/%d) mask", xd, rd, md, p, p)
	}
	s := NewScope()
	defer s.Close()
	m := s.Track(mask.MustTotype(gotch.Float, false))
	m = s.Track(m.MustRepeatInterleaveSelfInt(p, []int64{1}, nil, false))
	m = s.Track(m.MustRepeatInterleaveSelfInt(p, []int64{2}, nil, false).MustUnsqueeze(1, true)) // N×1×H×W
	l1 := s.Track(x.MustL1Loss(rec, 0, false))                                                   // reduction none
	num := s.Track(l1.MustMul(m, false).MustSum(gotch.Float, true))
	den := s.Track(addScalar(s.Track(m.MustSum(gotch.Float, false)), 1e-5, false))
	out := NewLosses()
	out.Set("loss", divScalar(s.Track(num.MustDiv(den, false)), float64(h.cfg.EncoderInChannels), false))
	return out, nil
}

func init() {
	RegisterHead("SimMIMHead", func(p *nn.Path, m map[string]any) (Head, error) {
		var c SimMIMHeadConfig
		return buildFrom(p, "head", m, &c, func(c *SimMIMHeadConfig) (Head, error) { return NewSimMIMHead(*c) })
	})
}
