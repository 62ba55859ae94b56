package model

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// DALLEConfig sizes the DALL-E dVAE encoder (MMSelfSup's
// models/utils/dall_e.py Encoder attributes). CAEHead always builds the
// defaults (n_hid 256, 2 blocks per group, vocab 8192), which the released
// dalle_encoder.pth needs; smaller sizes exist for CPU-scale runs with a
// random tokenizer.
type DALLEConfig struct {
	NHid          int `yaml:"n_hid"`
	NBlkPerGroup  int `yaml:"n_blk_per_group"`
	InputChannels int `yaml:"input_channels"`
	VocabSize     int `yaml:"vocab_size"`
}

// DefaultDALLEConfig is the Encoder's defaults.
func DefaultDALLEConfig() DALLEConfig {
	return DALLEConfig{NHid: 256, NBlkPerGroup: 2, InputChannels: 3, VocabSize: 8192}
}

// Validate applies the attrs validators of dall_e.py.
func (c *DALLEConfig) Validate() error {
	if c.NHid < 64 || c.NBlkPerGroup < 1 || c.InputChannels < 1 || c.VocabSize < 512 {
		return fmt.Errorf("n_hid %d (≥ 64), n_blk_per_group %d (≥ 1), input_channels %d (≥ 1), vocab_size %d (≥ 512) out of range",
			c.NHid, c.NBlkPerGroup, c.InputChannels, c.VocabSize)
	}
	return nil
}

// dalleConv is dall_e's Conv2d: parameters "w" (out×in×k×k) and "b",
// padding (k−1)/2, w ~ N(0, 1/(in·k²)), b = 0, requires_grad False. It
// runs in float32 (the fp16 path is CUDA-only in MMSelfSup).
type dalleConv struct {
	w, b *ts.Tensor
	k    int64
}

func newDALLEConv(p *nn.Path, in, out, k int64) (*dalleConv, error) {
	c := &dalleConv{k: k}
	var err error
	if c.w, err = addParam(p, "w", []int64{out, in, k, k}); err != nil {
		return nil, err
	}
	if c.b, err = addParam(p, "b", []int64{out}); err != nil {
		return nil, err
	}
	std := 1 / math.Sqrt(float64(in*k*k))
	if err := initWeightBias(c.w, nil, InitSpec{Type: "Normal", Std: std}); err != nil {
		return nil, err
	}
	freezeTensors(c.w, c.b)
	return c, nil
}

func (c *dalleConv) forward(x *ts.Tensor) *ts.Tensor {
	pad := (c.k - 1) / 2
	return ts.MustConv2d(x, c.w, c.b, []int64{1, 1}, []int64{pad, pad}, []int64{1, 1}, 1)
}

// dalleBlock is dall_e's EncoderBlock: id_path (1×1 conv when the widths
// differ, else identity) + post_gain·res_path, res_path = ReLU → conv3×3
// (→ n_out/4) → ReLU → conv3×3 → ReLU → conv3×3 → ReLU → conv1×1 (→ n_out),
// post_gain = 1/n_layers².
type dalleBlock struct {
	id       *dalleConv
	res      [4]*dalleConv
	postGain float64
}

func newDALLEBlock(p *nn.Path, in, out int64, nLayers int) (*dalleBlock, error) {
	b := &dalleBlock{postGain: 1 / float64(nLayers*nLayers)}
	var err error
	if in != out {
		if b.id, err = newDALLEConv(p.Sub("id_path"), in, out, 1); err != nil {
			return nil, err
		}
	}
	hid := out / 4
	rp := p.Sub("res_path")
	shapes := [4][3]int64{{in, hid, 3}, {hid, hid, 3}, {hid, hid, 3}, {hid, out, 1}}
	for i, s := range shapes {
		if b.res[i], err = newDALLEConv(rp.Sub(fmt.Sprintf("conv_%d", i+1)), s[0], s[1], s[2]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *dalleBlock) forward(x *ts.Tensor) *ts.Tensor {
	s := NewScope()
	defer s.Close()
	h := x
	for _, c := range b.res {
		h = s.Track(c.forward(s.Track(h.MustRelu(false))))
	}
	h = s.Track(mulScalar(h, b.postGain, false))
	if b.id == nil {
		return x.MustAdd(h, false)
	}
	return s.Track(b.id.forward(x)).MustAdd(h, false)
}

// dalleEncoder is the DALL-E dVAE encoder (MMSelfSup's dall_e.Encoder,
// keys blocks.input, blocks.group_{1..4}.block_{j}, blocks.output.conv):
// input conv 7×7 → 4 groups of blocks at widths n_hid·{1,2,4,8}, the first
// three followed by 2×2 max-pooling → ReLU → conv 1×1 to vocab logits.
// An H×W image gives H/8×W/8 logits. Every parameter is frozen.
type dalleEncoder struct {
	cfg    DALLEConfig
	input  *dalleConv
	groups [4][]*dalleBlock
	output *dalleConv
}

func newDALLEEncoder(p *nn.Path, c DALLEConfig) (*dalleEncoder, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &dalleEncoder{cfg: c}
	bp := p.Sub("blocks")
	h := int64(c.NHid)
	var err error
	if e.input, err = newDALLEConv(bp.Sub("input"), int64(c.InputChannels), h, 7); err != nil {
		return nil, err
	}
	nLayers := 4 * c.NBlkPerGroup
	widths := [4]int64{h, 2 * h, 4 * h, 8 * h}
	in := h
	for g := range 4 {
		gp := bp.Sub(fmt.Sprintf("group_%d", g+1))
		for j := range c.NBlkPerGroup {
			blk, err := newDALLEBlock(gp.Sub(fmt.Sprintf("block_%d", j+1)), in, widths[g], nLayers)
			if err != nil {
				return nil, err
			}
			e.groups[g] = append(e.groups[g], blk)
			in = widths[g]
		}
	}
	if e.output, err = newDALLEConv(bp.Sub("output").Sub("conv"), 8*h, int64(c.VocabSize), 1); err != nil {
		return nil, err
	}
	return e, nil
}

// forward maps x (N×C×H×W float32, H and W multiples of 8) to logits
// N×vocab×H/8×W/8, owned by the caller.
func (e *dalleEncoder) forward(x *ts.Tensor) (*ts.Tensor, error) {
	d, err := x.Size()
	if err != nil {
		return nil, err
	}
	if len(d) != 4 || d[1] != int64(e.cfg.InputChannels) || d[2]%8 != 0 || d[3]%8 != 0 {
		return nil, fmt.Errorf("DALL-E encoder input %v, want N×%d×H×W with H and W multiples of 8", d, e.cfg.InputChannels)
	}
	s := NewScope()
	defer s.Close()
	h := s.Track(e.input.forward(x))
	for g, blocks := range e.groups {
		for _, b := range blocks {
			h = s.Track(b.forward(h))
		}
		if g < 3 {
			h = s.Track(h.MustMaxPool2d([]int64{2, 2}, []int64{2, 2}, []int64{0, 0}, []int64{1, 1}, false, false))
		}
	}
	h = s.Track(h.MustRelu(false))
	return e.output.forward(h), nil
}
