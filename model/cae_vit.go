package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// CAEViTConfig is MMSelfSup's CAEViT (backbones/cae_vit.py): mmcls's ViT
// arguments (arch zoo of mmcls, default "b") plus init_values, the layer
// scale γ of its MMSelfSup TransformerEncoderLayers (None or 0: no γ).
type CAEViTConfig struct {
	ViTBaseConfig `yaml:",inline"`
	InitValues    float64 `yaml:"init_values"`
}

// DefaultCAEViTConfig returns the class defaults.
func DefaultCAEViTConfig() CAEViTConfig {
	return CAEViTConfig{ViTBaseConfig: defaultViTBase("b")}
}

// Validate checks the arguments.
func (c *CAEViTConfig) Validate() error {
	if _, err := c.resolve(vitArchMMCls); err != nil {
		return err
	}
	if c.InitValues < 0 {
		return fmt.Errorf("init_values %g must be ≥ 0", c.InitValues)
	}
	if !c.WithClsToken {
		return fmt.Errorf("with_cls_token False not supported: CAEViT always prepends the cls token")
	}
	return nil
}

// CAEViT is CAE's encoder (algorithms.md §17): the patch tokens whose mask
// entry is 0 (each sample keeps the same number) in increasing patch
// order, with the cls token prepended and the matching rows of the fixed
// sin-cos position embedding added (the cls token gets the zero row),
// then MMSelfSup TransformerEncoderLayers (split q/v bias, γ layer scale)
// and the final LayerNorm. Keys as VisionTransformer, plus
// layers.{i}.gamma_1/gamma_2 and attn.q_bias/v_bias.
type CAEViT struct {
	*vitCore
	cfg        CAEViTConfig
	numPatches int64
	pretrained map[string]any
}

// NewCAEViT builds the encoder under p with CAEViT.init_weights unless
// init_cfg is Pretrained: sin-cos position embedding (requires_grad
// False), cls token trunc-normal 0.02, every Linear xavier-uniform with
// bias 0, the patch projection trunc-normal 0.02 with bias 0, LayerNorm
// 1/0, γ = init_values, q/v biases 0.
func NewCAEViT(p *nn.Path, c CAEViTConfig) (*CAEViT, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	geo, _ := c.resolve(vitArchMMCls)
	pre, err := vitPretrained("CAEViT", c.InitCfg)
	if err != nil {
		return nil, err
	}
	core, err := newVitCore(p, c.ViTBaseConfig, geo, true, c.InitValues)
	if err != nil {
		return nil, err
	}
	m := &CAEViT{vitCore: core, cfg: c, numPatches: core.res[0] * core.res[1], pretrained: pre}
	freezeTensors(m.pos)
	if pre == nil {
		if err := m.initWeights(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *CAEViT) initWeights() error {
	if err := m.setSinCos(); err != nil {
		return err
	}
	truncNormal(m.cls, 0.02)
	truncNormal(m.patch.proj.w, 0.02)
	if err := initWeightBias(m.patch.proj.b, nil, InitSpec{Type: "Constant", Val: 0}); err != nil {
		return err
	}
	for _, l := range m.linears() {
		if err := l.reinit(xavierUniform); err != nil {
			return err
		}
	}
	return nil
}

// NumPatches is the token count at img_size.
func (m *CAEViT) NumPatches() int64 { return m.numPatches }

// Pretrained returns the init_cfg Pretrained entry, if any.
func (m *CAEViT) Pretrained() map[string]any { return m.pretrained }

// OutChannels is [D]: the encoded tokens.
func (m *CAEViT) OutChannels() []int64 { return []int64{m.dim} }

// Forward encodes every patch (no mask): N×(1+L)×D.
func (m *CAEViT) Forward(x *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	out, err := m.ForwardMasked(x, nil, train)
	if err != nil {
		return nil, err
	}
	return []*ts.Tensor{out}, nil
}

// checkCAEInput validates x against img_size (CAEViT does not resize its
// position embedding).
func (m *CAEViT) checkCAEInput(x *ts.Tensor) ([]int64, error) {
	dims, err := m.checkInput("CAEViT", x)
	if err != nil {
		return nil, err
	}
	if h, w := m.patch.outSize(dims[2], dims[3]); h != m.res[0] || w != m.res[1] {
		return nil, fmt.Errorf("CAEViT input %d×%d gives a %d×%d patch grid, img_size %v gives %v", dims[2], dims[3], h, w, m.geo.img, m.res)
	}
	return dims, nil
}

// ForwardMasked is CAEViT.forward(img, mask): masked is N×L bool (true =
// left out) or nil for no masking; every row must leave out the same
// number of patches. Returns N×(1+kept)×D, owned by the caller.
func (m *CAEViT) ForwardMasked(x, masked *ts.Tensor, train bool) (*ts.Tensor, error) {
	dims, err := m.checkCAEInput(x)
	if err != nil {
		return nil, err
	}
	n := dims[0]
	s := NewScope()
	defer s.Close()
	tok, _ := m.patch.forward(x) // N×L×D
	s.Track(tok)
	pos := s.Track(m.pos.MustNarrow(1, 1, m.numPatches, false).MustExpand([]int64{n, m.numPatches, m.dim}, false, true))
	if masked != nil {
		visible, err := s.TrackErr(masked.LogicalNot(false))
		if err != nil {
			return nil, err
		}
		if tok, err = selectTokens(s, tok, visible); err != nil {
			return nil, fmt.Errorf("CAEViT: %w", err)
		}
		if pos, err = selectTokens(s, pos, visible); err != nil {
			return nil, fmt.Errorf("CAEViT: %w", err)
		}
	}
	tok = s.Track(tok.MustAdd(pos, false))
	pos0 := s.Track(m.pos.MustNarrow(1, 0, 1, false))
	cls := s.Track(m.cls.MustAdd(pos0, false).MustExpand([]int64{n, 1, m.dim}, false, true))
	h := s.Track(ts.MustCat([]ts.Tensor{*cls, *tok}, 1))
	h = dropout(s, h, m.cfg.DropRate, train)
	return m.runLayers(h, train, nil), nil
}

// PosEmbed returns the position embedding rows of the patches (without
// the cls row) selected by sel (N×L bool), N×K×D, owned by the caller:
// CAE's pos_embed[:, 1:][mask] in increasing patch order.
func (m *CAEViT) PosEmbed(sel *ts.Tensor) (*ts.Tensor, error) {
	n := sel.MustSize()[0]
	s := NewScope()
	defer s.Close()
	pos := s.Track(m.pos.MustNarrow(1, 1, m.numPatches, false).MustExpand([]int64{n, m.numPatches, m.dim}, false, true))
	out, err := selectTokens(s, pos, sel)
	if err != nil {
		return nil, fmt.Errorf("CAEViT position embedding: %w", err)
	}
	return s.Keep(out), nil
}

// selectTokens is x[sel].reshape(N, -1, D) for x N×L×D and sel N×L bool
// with the same count in every row; the result is tracked in s.
func selectTokens(s *Scope, x, sel *ts.Tensor) (*ts.Tensor, error) {
	xd := x.MustSize()
	sd, err := sel.Size()
	if err != nil {
		return nil, err
	}
	if len(sd) != 2 || sd[0] != xd[0] || sd[1] != xd[1] || sel.DType() != gotch.Bool {
		return nil, fmt.Errorf("mask %v %v, want bool %d×%d", sel.DType(), sd, xd[0], xd[1])
	}
	counts := s.Track(sel.MustSumDimIntlist([]int64{1}, false, gotch.Int64, false))
	lo := s.Track(counts.MustMin(false)).Int64Values()[0]
	hi := s.Track(counts.MustMax(false)).Int64Values()[0]
	if lo != hi {
		return nil, fmt.Errorf("mask selects between %d and %d patches per sample; every sample must select the same number", lo, hi)
	}
	m3 := s.Track(sel.MustUnsqueeze(-1, false).MustExpand(xd, false, true))
	flat := s.Track(x.MustMaskedSelect(m3, false))
	return s.TrackErr(flat.Reshape([]int64{xd[0], lo, xd[2]}, false))
}

func init() {
	RegisterBackbone("CAEViT", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := DefaultCAEViTConfig()
		return buildFrom(p, "backbone", m, &c, func(c *CAEViTConfig) (Backbone, error) { return NewCAEViT(p, *c) })
	})
}
