package model

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MAEPretrainDecoderConfig is MMSelfSup's MAEPretrainDecoder
// (necks/mae_neck.py). num_patches must equal the encoder's token count;
// the MAE algorithm fills it from the backbone when the config omits it,
// as MMSelfSup's MAE sets neck.num_patches.
type MAEPretrainDecoderConfig struct {
	NumPatches      int            `yaml:"num_patches"`
	PatchSize       int            `yaml:"patch_size"`
	InChans         int            `yaml:"in_chans"`
	EmbedDim        int            `yaml:"embed_dim"`
	DecoderEmbedDim int            `yaml:"decoder_embed_dim"`
	DecoderDepth    int            `yaml:"decoder_depth"`
	DecoderNumHeads int            `yaml:"decoder_num_heads"`
	MlpRatio        float64        `yaml:"mlp_ratio"`
	NormCfg         map[string]any `yaml:"norm_cfg"`
	InitCfg         any            `yaml:"init_cfg"`
}

// DefaultMAEPretrainDecoderConfig returns the class defaults.
func DefaultMAEPretrainDecoderConfig() MAEPretrainDecoderConfig {
	return MAEPretrainDecoderConfig{NumPatches: 196, PatchSize: 16, InChans: 3, EmbedDim: 1024,
		DecoderEmbedDim: 512, DecoderDepth: 8, DecoderNumHeads: 16, MlpRatio: 4}
}

// Validate checks the sizes.
func (c *MAEPretrainDecoderConfig) Validate() error {
	for _, v := range []struct {
		n string
		v int
	}{{"num_patches", c.NumPatches}, {"patch_size", c.PatchSize}, {"in_chans", c.InChans}, {"embed_dim", c.EmbedDim},
		{"decoder_embed_dim", c.DecoderEmbedDim}, {"decoder_depth", c.DecoderDepth}, {"decoder_num_heads", c.DecoderNumHeads}} {
		if err := positive(v.n, v.v); err != nil {
			return err
		}
	}
	side := int(math.Sqrt(float64(c.NumPatches)))
	if side*side != c.NumPatches {
		return fmt.Errorf("num_patches %d is not a square (the decoder's sin-cos table is int(√num_patches)²)", c.NumPatches)
	}
	if c.DecoderEmbedDim%c.DecoderNumHeads != 0 {
		return fmt.Errorf("decoder_embed_dim %d not divisible by decoder_num_heads %d", c.DecoderEmbedDim, c.DecoderNumHeads)
	}
	if c.MlpRatio <= 0 {
		return fmt.Errorf("mlp_ratio %g must be > 0", c.MlpRatio)
	}
	if c.InitCfg != nil {
		return fmt.Errorf("init_cfg: not supported (MAEPretrainDecoder has a fixed init)")
	}
	_, err := lnEps("norm_cfg", c.NormCfg, 1e-6)
	return err
}

// MAEPretrainDecoder maps the encoder's latent (N×(1+K)×E) and
// ids_restore (N×L) to per-patch pixel predictions N×L×(p²·C)
// (algorithms.md §15). Keys: mask_token, decoder_pos_embed,
// decoder_embed.*, decoder_blocks.{i}.* (mmcls layers), ln1.*,
// decoder_pred.*.
type MAEPretrainDecoder struct {
	cfg                 MAEPretrainDecoderConfig
	maskToken, pos      *ts.Tensor
	embed, pred         *linear
	blocks              []*encoderLayer
	norm                *layerNorm
	numPatches, dim, in int64
}

// NewMAEPretrainDecoder builds the decoder under p with its init_weights:
// fixed sin-cos decoder position embedding (requires_grad False),
// mask token N(0, 0.02²), Linear xavier-uniform with bias 0, LN 1/0.
func NewMAEPretrainDecoder(p *nn.Path, c MAEPretrainDecoderConfig) (*MAEPretrainDecoder, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	eps, _ := lnEps("norm_cfg", c.NormCfg, 1e-6)
	d := &MAEPretrainDecoder{cfg: c, numPatches: int64(c.NumPatches), dim: int64(c.DecoderEmbedDim), in: int64(c.EmbedDim)}
	var err error
	if d.maskToken, err = addParam(p, "mask_token", []int64{1, 1, d.dim}); err != nil {
		return nil, err
	}
	if d.pos, err = addParam(p, "decoder_pos_embed", []int64{1, d.numPatches + 1, d.dim}); err != nil {
		return nil, err
	}
	if d.embed, err = newLinear(p.Sub("decoder_embed"), d.in, d.dim, true, xavierUniform); err != nil {
		return nil, err
	}
	bp := p.Sub("decoder_blocks")
	for i := 0; i < c.DecoderDepth; i++ {
		l, err := newEncoderLayer(bp.Sub(strconv.Itoa(i)), encoderLayerConfig{
			dim: d.dim, heads: int64(c.DecoderNumHeads), ffnDim: int64(c.MlpRatio * float64(c.DecoderEmbedDim)),
			qkvBias: true, eps: eps,
		})
		if err != nil {
			return nil, err
		}
		for _, lin := range l.linears() {
			if err := lin.reinit(xavierUniform); err != nil {
				return nil, err
			}
		}
		d.blocks = append(d.blocks, l)
	}
	if d.norm, err = newLayerNorm(p.Sub("ln1"), d.dim, eps); err != nil {
		return nil, err
	}
	out := int64(c.PatchSize * c.PatchSize * c.InChans)
	if d.pred, err = newLinear(p.Sub("decoder_pred"), d.dim, out, true, xavierUniform); err != nil {
		return nil, err
	}
	side := int64(math.Sqrt(float64(c.NumPatches)))
	vals, dims, err := sincosPosEmbed(side, side, d.dim, true)
	if err != nil {
		return nil, fmt.Errorf("decoder_pos_embed: %w", err)
	}
	if err := setFromFloats(d.pos, vals, dims); err != nil {
		return nil, err
	}
	freezeTensors(d.pos)
	if err := initWeightBias(d.maskToken, nil, InitSpec{Type: "Normal", Std: 0.02}); err != nil {
		return nil, err
	}
	return d, nil
}

// Forward takes [latent, ids_restore] and returns [pred N×L×(p²·C)].
func (d *MAEPretrainDecoder) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	if len(xs) != 2 {
		return nil, fmt.Errorf("MAEPretrainDecoder: want [latent, ids_restore], got %d tensors", len(xs))
	}
	x, ids := xs[0], xs[1]
	xd, err := x.Size()
	if err != nil {
		return nil, err
	}
	id, err := ids.Size()
	if err != nil {
		return nil, err
	}
	if len(xd) != 3 || xd[2] != d.in || len(id) != 2 || id[0] != xd[0] || id[1] != d.numPatches || xd[1] < 1 || xd[1]-1 > d.numPatches {
		return nil, fmt.Errorf("MAEPretrainDecoder inputs latent %v, ids_restore %v; want N×(1+K)×%d and N×%d", xd, id, d.in, d.numPatches)
	}
	s := NewScope()
	defer s.Close()
	n, k := xd[0], xd[1]
	h := s.Track(d.embed.forward(x)) // N×(1+K)×Dd
	masks := s.Track(d.maskToken.MustRepeat([]int64{n, d.numPatches + 1 - k, 1}, false))
	vis := s.Track(h.MustNarrow(1, 1, k-1, false))
	all := s.Track(ts.MustCat([]ts.Tensor{*vis, *masks}, 1)) // N×L×Dd, shuffled order
	idx := s.Track(ids.MustUnsqueeze(-1, false).MustRepeat([]int64{1, 1, d.dim}, true))
	all = s.Track(all.MustGather(1, idx, false, false)) // original order
	cls := s.Track(h.MustNarrow(1, 0, 1, false))
	y := s.Track(ts.MustCat([]ts.Tensor{*cls, *all}, 1))
	y = s.Track(y.MustAdd(d.pos, false))
	for _, b := range d.blocks {
		y = s.Track(b.forward(y, train))
	}
	y = s.Track(d.norm.forward(y))
	y = s.Track(d.pred.forward(y))
	return []*ts.Tensor{y.MustNarrow(1, 1, d.numPatches, false)}, nil
}

func init() {
	RegisterNeck("MAEPretrainDecoder", func(p *nn.Path, m map[string]any) (Neck, error) {
		c := DefaultMAEPretrainDecoderConfig()
		return buildFrom(p, "neck", m, &c, func(c *MAEPretrainDecoderConfig) (Neck, error) { return NewMAEPretrainDecoder(p, *c) })
	})
}
