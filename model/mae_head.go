package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MAEPretrainHeadConfig is MMSelfSup's MAEPretrainHead (heads/mae_head.py).
type MAEPretrainHeadConfig struct {
	NormPix   bool `yaml:"norm_pix"`
	PatchSize int  `yaml:"patch_size"`
	InitCfg   any  `yaml:"init_cfg"`
}

// Validate checks the patch size.
func (c *MAEPretrainHeadConfig) Validate() error {
	if c.InitCfg != nil {
		return fmt.Errorf("init_cfg: MAEPretrainHead has no parameters")
	}
	return positive("patch_size", c.PatchSize)
}

// MAEPretrainHead is the MAE loss: target = patchify(img) ((row, col,
// channel) order inside a patch, channel fastest), with norm_pix each
// patch standardised by its mean and unbiased variance (+1e-6);
// loss = Σ mask·mean_d (pred − target)² / Σ mask.
type MAEPretrainHead struct{ cfg MAEPretrainHeadConfig }

// NewMAEPretrainHead returns the head (it has no parameters).
func NewMAEPretrainHead(c MAEPretrainHeadConfig) (*MAEPretrainHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &MAEPretrainHead{cfg: c}, nil
}

// HeadType names the registered type.
func (h *MAEPretrainHead) HeadType() string { return "MAEPretrainHead" }

// Patchify maps img (N×3×H×W, H = W a multiple of p) to N×(hw)×(p²·3).
// The caller owns the result.
func (h *MAEPretrainHead) Patchify(img *ts.Tensor) (*ts.Tensor, error) {
	d, err := img.Size()
	if err != nil {
		return nil, err
	}
	p := int64(h.cfg.PatchSize)
	if len(d) != 4 || d[1] != 3 || d[2] != d[3] || d[2]%p != 0 {
		return nil, fmt.Errorf("MAEPretrainHead: image shape %v, want N×3×H×H with H a multiple of %d", d, p)
	}
	g := d[2] / p
	return img.MustReshape([]int64{d[0], 3, g, p, g, p}, false).
		MustPermute([]int64{0, 2, 4, 3, 5, 1}, true). // nchpwq → nhwpqc
		MustReshape([]int64{d[0], g * g, p * p * 3}, true), nil
}

// Loss returns {"loss"} for the input image, pred (N×L×p²·3) and mask (N×L).
func (h *MAEPretrainHead) Loss(img, pred, mask *ts.Tensor) (*Losses, error) {
	s := NewScope()
	defer s.Close()
	target, err := s.TrackErr(h.Patchify(img))
	if err != nil {
		return nil, err
	}
	td, pd, md := target.MustSize(), pred.MustSize(), mask.MustSize()
	if !equalDims(td, pd) || len(md) != 2 || md[0] != td[0] || md[1] != td[1] {
		return nil, fmt.Errorf("MAEPretrainHead: pred %v and mask %v do not match the patchified image %v", pd, md, td)
	}
	if h.cfg.NormPix {
		mean := s.Track(target.MustMeanDim([]int64{-1}, true, gotch.Float, false))
		v := s.Track(target.MustVarDim([]int64{-1}, true, true, false)) // unbiased
		std := s.Track(addScalar(v, 1e-6, false).MustSqrt(true))
		target = s.Track(target.MustSub(mean, false).MustDiv(std, true))
	}
	diff := s.Track(pred.MustSub(target, false))
	l := s.Track(diff.MustMul(diff, false).MustMeanDim([]int64{-1}, false, gotch.Float, true)) // N×L
	num := s.Track(l.MustMul(mask, false).MustSum(gotch.Float, true))
	den := s.Track(mask.MustSum(gotch.Float, false))
	out := NewLosses()
	out.Set("loss", num.MustDiv(den, false))
	return out, nil
}

func init() {
	RegisterHead("MAEPretrainHead", func(p *nn.Path, m map[string]any) (Head, error) {
		c := MAEPretrainHeadConfig{PatchSize: 16}
		return buildFrom(p, "head", m, &c, func(c *MAEPretrainHeadConfig) (Head, error) { return NewMAEPretrainHead(*c) })
	})
}
