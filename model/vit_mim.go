package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MIMVisionTransformerConfig is MMSelfSup's MIMVisionTransformer
// (backbones/mim_cls_vit.py), the backbone of the MAE/CAE fine-tuning and
// linear-probing benchmarks: mmcls's ViT arguments (mmcls arch zoo) plus
// use_window, init_values and finetune.
type MIMVisionTransformerConfig struct {
	ViTBaseConfig `yaml:",inline"`
	UseWindow     bool    `yaml:"use_window"`
	InitValues    float64 `yaml:"init_values"`
	Finetune      bool    `yaml:"finetune"`
}

// DefaultMIMVisionTransformerConfig returns the class defaults.
func DefaultMIMVisionTransformerConfig() MIMVisionTransformerConfig {
	return MIMVisionTransformerConfig{ViTBaseConfig: defaultViTBase("b"), Finetune: true}
}

// Validate checks the arguments.
func (c *MIMVisionTransformerConfig) Validate() error {
	if _, err := c.resolve(vitArchMMCls); err != nil {
		return err
	}
	if c.InitValues < 0 {
		return fmt.Errorf("init_values %g must be ≥ 0", c.InitValues)
	}
	return nil
}

// MIMVisionTransformer is mmcls's ViT with MMSelfSup's
// TransformerEncoderLayers (split q/v bias, γ when init_values > 0, and
// with use_window a relative position bias per block over the patch grid:
// layers.{i}.attn.relative_position_bias_table and
// .relative_position_index, see relPosBias).
// Forward returns one N×D tensor: with final_norm the cls token after ln1,
// otherwise the mean of the patch tokens through fc_norm (MAE's
// fine-tuning recipe). The position embedding is added as is, so inputs
// must have img_size. With finetune False every parameter is frozen
// (linear probing). Keys cls_token, pos_embed, patch_embed.projection,
// layers.{i}.*, ln1 or fc_norm.
//
// A fresh build (no Pretrained init_cfg; the benchmarks load one) draws
// pos_embed and cls_token trunc-normal 0.02, every Linear xavier-uniform
// with bias 0 and the patch projection as PyTorch's Conv2d default.
type MIMVisionTransformer struct {
	*vitCore
	cfg        MIMVisionTransformerConfig
	fcNorm     *layerNorm
	pretrained map[string]any
}

// NewMIMVisionTransformer builds the backbone under p.
func NewMIMVisionTransformer(p *nn.Path, c MIMVisionTransformerConfig) (*MIMVisionTransformer, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	geo, _ := c.resolve(vitArchMMCls)
	pre, err := vitPretrained("MIMVisionTransformer", emptyInitCfg(c.InitCfg))
	if err != nil {
		return nil, err
	}
	core, err := newVitCoreWindow(p, c.ViTBaseConfig, geo, true, c.InitValues, c.UseWindow)
	if err != nil {
		return nil, err
	}
	v := &MIMVisionTransformer{vitCore: core, cfg: c, pretrained: pre}
	if !c.FinalNorm {
		if v.fcNorm, err = newLayerNorm(p.Sub("fc_norm"), v.dim, geo.eps); err != nil {
			return nil, err
		}
	}
	if pre == nil {
		truncNormal(v.pos, 0.02)
		truncNormal(v.cls, 0.02)
		for _, l := range v.linears() {
			if err := l.reinit(xavierUniform); err != nil {
				return nil, err
			}
		}
	}
	if !c.Finetune {
		for _, e := range StateDict(varStoreOf(p)) {
			if pfx := pathName(p, ""); len(e.Name) > len(pfx) && e.Name[:len(pfx)+1] == pfx+"." {
				freezeTensors(e.T)
			}
		}
	}
	return v, nil
}

// emptyInitCfg reads init_cfg {} (what the fine-tuning configs write
// before the benchmark script fills in Pretrained) as no init_cfg.
func emptyInitCfg(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return nil
	}
	return v
}

// Pretrained returns the init_cfg Pretrained entry, if any.
func (v *MIMVisionTransformer) Pretrained() map[string]any { return v.pretrained }

// OutChannels is [D].
func (v *MIMVisionTransformer) OutChannels() []int64 { return []int64{v.dim} }

// Forward maps x (N×C×H×W at img_size) to [N×D].
func (v *MIMVisionTransformer) Forward(x *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	dims, err := v.checkInput("MIMVisionTransformer", x)
	if err != nil {
		return nil, err
	}
	if h, w := v.patch.outSize(dims[2], dims[3]); h != v.res[0] || w != v.res[1] {
		return nil, fmt.Errorf("MIMVisionTransformer input %d×%d gives a %d×%d patch grid, img_size %v gives %v", dims[2], dims[3], h, w, v.geo.img, v.res)
	}
	s := NewScope()
	defer s.Close()
	tok, _ := v.patch.forward(x)
	s.Track(tok)
	cls := s.Track(v.cls.MustExpand([]int64{dims[0], 1, v.dim}, false, false))
	h := s.Track(ts.MustCat([]ts.Tensor{*cls, *tok}, 1))
	h = s.Track(h.MustAdd(v.pos, false))
	h = dropout(s, h, v.cfg.DropRate, train)
	y := s.Track(v.runLayers(h, train, nil)) // MMSelfSup keeps train mode when frozen
	if v.fcNorm == nil {
		return []*ts.Tensor{y.MustSelect(1, 0, false)}, nil
	}
	patches := s.Track(y.MustNarrow(1, 1, y.MustSize()[1]-1, false))
	mean := s.Track(patches.MustMeanDim([]int64{1}, false, gotch.Float, false))
	return []*ts.Tensor{v.fcNorm.forward(mean)}, nil
}

func init() {
	RegisterBackbone("MIMVisionTransformer", func(p *nn.Path, m map[string]any) (Backbone, error) {
		c := DefaultMIMVisionTransformerConfig()
		return buildFrom(p, "backbone", m, &c, func(c *MIMVisionTransformerConfig) (Backbone, error) {
			return NewMIMVisionTransformer(p, *c)
		})
	})
}
