package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MAEViTConfig is MMSelfSup's MAEViT (backbones/mae_vit.py): mmcls's ViT
// arguments (arch zoo of mmcls, default "b") plus mask_ratio.
type MAEViTConfig struct {
	ViTBaseConfig `yaml:",inline"`
	MaskRatio     float64 `yaml:"mask_ratio"`
}

// DefaultMAEViTConfig returns the class defaults.
func DefaultMAEViTConfig() MAEViTConfig {
	return MAEViTConfig{ViTBaseConfig: defaultViTBase("b"), MaskRatio: 0.75}
}

// Validate checks the arguments.
func (c *MAEViTConfig) Validate() error {
	if _, err := c.resolve(vitArchMMCls); err != nil {
		return err
	}
	if c.MaskRatio < 0 || c.MaskRatio >= 1 {
		return fmt.Errorf("mask_ratio %g outside [0, 1)", c.MaskRatio)
	}
	if !c.WithClsToken {
		return fmt.Errorf("with_cls_token False not supported: MAEViT always prepends the cls token")
	}
	return nil
}

// MAEViT is the MAE encoder (algorithms.md §15): patch tokens plus the
// fixed sin-cos position embedding, per-sample random masking that keeps
// int(L·(1−mask_ratio)) tokens, the cls token (+ its zero position row)
// prepended, the blocks and the final LayerNorm. Keys as VisionTransformer.
type MAEViT struct {
	*vitCore
	cfg        MAEViTConfig
	numPatches int64
	pretrained map[string]any
}

// NewMAEViT builds the encoder under p with MAEViT.init_weights unless
// init_cfg is Pretrained: sin-cos position embedding (requires_grad
// False), patch projection xavier-uniform on its (D × C·p·p) view (bias
// keeps PyTorch's default), cls token N(0, 0.02²), every Linear
// xavier-uniform with bias 0, LayerNorm 1/0.
func NewMAEViT(p *nn.Path, c MAEViTConfig) (*MAEViT, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	geo, _ := c.resolve(vitArchMMCls)
	pre, err := vitPretrained("MAEViT", c.InitCfg)
	if err != nil {
		return nil, err
	}
	core, err := newVitCore(p, c.ViTBaseConfig, geo, false, 0)
	if err != nil {
		return nil, err
	}
	m := &MAEViT{vitCore: core, cfg: c, numPatches: core.res[0] * core.res[1], pretrained: pre}
	freezeTensors(m.pos)
	if pre == nil {
		if err := m.initWeights(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *MAEViT) initWeights() error {
	if err := m.setSinCos(); err != nil {
		return err
	}
	if err := initFlatXavier(m.patch.proj); err != nil {
		return err
	}
	if err := initWeightBias(m.cls, nil, InitSpec{Type: "Normal", Std: 0.02}); err != nil {
		return err
	}
	for _, l := range m.linears() {
		if err := l.reinit(xavierUniform); err != nil {
			return err
		}
	}
	return nil
}

// initFlatXavier is xavier_uniform_ on the conv weight viewed as
// (out, in·k·k); the bias is left as it is.
func initFlatXavier(c *conv2d) error {
	bound := xavierBound(float64(c.in*c.k*c.k), float64(c.out))
	return initWeightBias(c.w, nil, InitSpec{Type: "Uniform", A: -bound, B: bound})
}

// NumPatches is the token count at img_size (the decoder's num_patches).
func (m *MAEViT) NumPatches() int64 { return m.numPatches }

// Pretrained returns the init_cfg Pretrained entry, if any.
func (m *MAEViT) Pretrained() map[string]any { return m.pretrained }

// OutChannels is [D, 1, 1]: latent, mask and ids_restore.
func (m *MAEViT) OutChannels() []int64 { return []int64{m.dim, 1, 1} }

// Forward returns MMSelfSup's (latent, mask, ids_restore): latent
// N×(1+len_keep)×D, mask N×L float (1 = removed), ids_restore N×L int64.
// The noise is drawn from libtorch's generator.
func (m *MAEViT) Forward(x *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	dims, err := m.checkMAEInput(x)
	if err != nil {
		return nil, err
	}
	noise, err := ts.Rand([]int64{dims[0], m.numPatches}, gotch.Float, x.MustDevice())
	if err != nil {
		return nil, err
	}
	defer noise.MustDrop()
	return m.ForwardWithNoise(x, noise, train)
}

func (m *MAEViT) checkMAEInput(x *ts.Tensor) ([]int64, error) {
	dims, err := m.checkInput("MAEViT", x)
	if err != nil {
		return nil, err
	}
	if h, w := m.patch.outSize(dims[2], dims[3]); h != m.res[0] || w != m.res[1] {
		return nil, fmt.Errorf("MAEViT input %d×%d gives a %d×%d patch grid, img_size %v gives %v (MAEViT does not resize its position embedding)", dims[2], dims[3], h, w, m.geo.img, m.res)
	}
	return dims, nil
}

// ForwardWithNoise is Forward with the per-token noise (N×L) given:
// tokens are kept in ascending-noise order.
func (m *MAEViT) ForwardWithNoise(x, noise *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	dims, err := m.checkMAEInput(x)
	if err != nil {
		return nil, err
	}
	if nd, err := noise.Size(); err != nil || len(nd) != 2 || nd[0] != dims[0] || nd[1] != m.numPatches {
		return nil, fmt.Errorf("MAEViT noise shape %v, want %d×%d", nd, dims[0], m.numPatches)
	}
	s := NewScope()
	defer s.Close()
	tok, _ := m.patch.forward(x) // N×L×D
	s.Track(tok)
	posGrid := s.Track(m.pos.MustNarrow(1, 1, m.numPatches, false))
	tok = s.Track(tok.MustAdd(posGrid, false))
	keep := int64(float64(m.numPatches) * (1 - m.cfg.MaskRatio))
	kept, mask, ids := randomMasking(s, tok, noise, keep)
	out, err := m.encode(s, kept, train)
	if err != nil {
		return nil, err
	}
	return []*ts.Tensor{s.Keep(out), s.Keep(mask), s.Keep(ids)}, nil
}

// randomMasking is MAEViT.random_masking with the noise given: returns
// the kept tokens N×keep×D, the mask N×L and ids_restore N×L, all in s.
func randomMasking(s *Scope, x, noise *ts.Tensor, keep int64) (kept, mask, idsRestore *ts.Tensor) {
	dims := x.MustSize()
	n, l, d := dims[0], dims[1], dims[2]
	shuffle := s.Track(noise.MustArgsort(1, false, false))     // ascending: small noise is kept
	idsRestore = s.Track(shuffle.MustArgsort(1, false, false)) // inverse permutation
	idsKeep := s.Track(shuffle.MustNarrow(1, 0, keep, false))
	idx := s.Track(idsKeep.MustUnsqueeze(-1, false).MustRepeat([]int64{1, 1, d}, true))
	kept = s.Track(x.MustGather(1, idx, false, false))
	zeros := s.Track(ts.MustZeros([]int64{n, keep}, gotch.Float, x.MustDevice()))
	ones := s.Track(ts.MustOnes([]int64{n, l - keep}, gotch.Float, x.MustDevice()))
	sorted := s.Track(ts.MustCat([]ts.Tensor{*zeros, *ones}, 1))
	mask = s.Track(sorted.MustGather(1, idsRestore, false, false))
	return kept, mask, idsRestore
}

// encode prepends cls_token + pos[0] to tokens (N×K×D) and runs the
// blocks and the final norm; the result is owned by the caller.
func (m *MAEViT) encode(s *Scope, tokens *ts.Tensor, train bool) (*ts.Tensor, error) {
	n := tokens.MustSize()[0]
	pos0 := s.Track(m.pos.MustNarrow(1, 0, 1, false))
	cls := s.Track(m.cls.MustAdd(pos0, false).MustExpand([]int64{n, 1, m.dim}, false, true))
	h := s.Track(ts.MustCat([]ts.Tensor{*cls, *tokens}, 1))
	h = dropout(s, h, m.cfg.DropRate, train)
	return m.runLayers(h, train, nil), nil
}

// Features is the cls token of the encoder run on every patch (no
// masking), in eval mode and without gradient: N×D.
func (m *MAEViT) Features(x *ts.Tensor) (*ts.Tensor, error) {
	if _, err := m.checkMAEInput(x); err != nil {
		return nil, err
	}
	var out *ts.Tensor
	err := WithoutGrad(func() error {
		s := NewScope()
		defer s.Close()
		tok, _ := m.patch.forward(x)
		s.Track(tok)
		posGrid := s.Track(m.pos.MustNarrow(1, 1, m.numPatches, false))
		tok = s.Track(tok.MustAdd(posGrid, false))
		lat, err := m.encode(s, tok, false)
		if err != nil {
			return err
		}
		out = lat.MustSelect(1, 0, true)
		return nil
	})
	return out, err
}

func init() {
	RegisterBackbone("MAEViT", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := DefaultMAEViTConfig()
		return buildFrom(p, "backbone", m, &c, func(c *MAEViTConfig) (Backbone, error) { return NewMAEViT(p, *c) })
	})
}
