package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// LatentPredictHeadConfig is MMSelfSup's LatentPredictHead: predictor is
// any neck config (BYOL/SimSiam use NonLinearNeck without avg-pool).
type LatentPredictHeadConfig struct {
	Predictor map[string]any `yaml:"predictor"`
}

// Validate requires a predictor.
func (c *LatentPredictHeadConfig) Validate() error {
	if c.Predictor == nil {
		return fmt.Errorf("predictor: missing")
	}
	return nil
}

// LatentPredictHead is BYOL's / SimSiam's head:
// loss = −mean_i ⟨norm(predictor(input)_i), norm(sg(target_i))⟩.
// The predictor's keys are head.predictor.*.
type LatentPredictHead struct{ Predictor Neck }

// HeadType names the registered type.
func (h *LatentPredictHead) HeadType() string { return "LatentPredictHead" }

// Loss returns {"loss"} for input and target of N×C.
func (h *LatentPredictHead) Loss(input, target *ts.Tensor, train bool) (*Losses, error) {
	if err := samePairShape("LatentPredictHead", input, target, false); err != nil {
		return nil, err
	}
	preds, err := h.Predictor.Forward([]*ts.Tensor{input}, train)
	if err != nil {
		return nil, fmt.Errorf("LatentPredictHead predictor: %w", err)
	}
	pred := preds[0]
	if err := samePairShape("LatentPredictHead predictor output", pred, target, false); err != nil {
		pred.MustDrop()
		return nil, err
	}
	p := dropAfter(pred, l2Normalize(pred))                                           // N×C
	tg := target.MustDetach(false)                                                    // N×C, no grad
	t := dropAfter(tg, l2Normalize(tg))                                               // N×C
	cos := p.MustMul(t, true).MustSumDimIntlist([]int64{1}, false, gotch.Float, true) // N
	t.MustDrop()
	loss := cos.MustMean(gotch.Float, true).MustNeg(true)
	l := NewLosses()
	l.Set("loss", loss)
	return l, nil
}

// LatentClsHeadConfig is MMSelfSup's LatentClsHead.
type LatentClsHeadConfig struct {
	InChannels int `yaml:"in_channels"`
	NumClasses int `yaml:"num_classes"`
	InitCfg    any `yaml:"init_cfg"`
}

// Validate checks the sizes.
func (c *LatentClsHeadConfig) Validate() error {
	if err := positive("in_channels", c.InChannels); err != nil {
		return err
	}
	return positive("num_classes", c.NumClasses)
}

// LatentClsHead predicts the class its own predictor assigns to the target:
// CE(predictor(input), argmax(predictor(target))) (key head.predictor.*,
// init N(0, 0.01²)).
type LatentClsHead struct{ predictor *linear }

// NewLatentClsHead builds the head under p.
func NewLatentClsHead(p *nn.Path, c LatentClsHeadConfig) (*LatentClsHead, error) {
	fc, err := newLinear(p.Sub("predictor"), int64(c.InChannels), int64(c.NumClasses), true, torchDefault)
	if err != nil {
		return nil, err
	}
	path := configPath(p, "head")
	if err := neckInit(path, c.InitCfg, []InitSpec{{Type: "Normal", Std: 0.01, Layer: []string{"Linear"}}}, []initLayer{fc}); err != nil {
		return nil, err
	}
	return &LatentClsHead{predictor: fc}, nil
}

// HeadType names the registered type.
func (h *LatentClsHead) HeadType() string { return "LatentClsHead" }

// Loss returns {"loss"} for input and target of N×in_channels.
func (h *LatentClsHead) Loss(input, target *ts.Tensor, train bool) (*Losses, error) {
	if err := samePairShape("LatentClsHead", input, target, true); err != nil {
		return nil, err
	}
	if c := input.MustSize()[1]; c != h.predictor.in {
		return nil, fmt.Errorf("LatentClsHead: input has %d channels, want %d", c, h.predictor.in)
	}
	pred := h.predictor.forward(input)
	defer pred.MustDrop()
	var label *ts.Tensor
	noGradDo(func() {
		label = h.predictor.forward(target).MustArgmax([]int64{1}, false, true)
	})
	defer label.MustDrop()
	loss, err := crossEntropy(pred, label)
	if err != nil {
		return nil, fmt.Errorf("LatentClsHead: %w", err)
	}
	l := NewLosses()
	l.Set("loss", loss)
	return l, nil
}

// LatentCrossCorrelationHeadConfig is Barlow Twins' head.
type LatentCrossCorrelationHeadConfig struct {
	InChannels int     `yaml:"in_channels"`
	Lambd      float64 `yaml:"lambd"`
}

// Validate checks the size and the weight.
func (c *LatentCrossCorrelationHeadConfig) Validate() error {
	if c.Lambd < 0 {
		return fmt.Errorf("lambd %g must be ≥ 0", c.Lambd)
	}
	return positive("in_channels", c.InChannels)
}

// LatentCrossCorrelationHead is Barlow Twins' loss on one process:
// C = BN(z1)ᵀ BN(z2) / N with a non-affine BatchNorm1d (keys head.bn.*,
// buffers only) applied to each view separately;
// loss = Σ (C_ii − 1)² + λ Σ_{i≠j} C_ij².
//
// On several nodes (SetCollective) C = BN(z1)ᵀ BN(z2) / (N·World) is
// all-reduced (summed) over the ranks in the forward, as MMSelfSup does;
// like torch.distributed.all_reduce the sum is invisible to autograd
// (C = C_local + a constant), so each rank's gradient flows through its
// own C_local only.
type LatentCrossCorrelationHead struct {
	bn    *batchNorm
	lambd float64
	coll  Collective
}

// SetCollective makes C the sum over every rank's batch.
func (h *LatentCrossCorrelationHead) SetCollective(c Collective) { h.coll = c }

// NewLatentCrossCorrelationHead builds the head under p.
func NewLatentCrossCorrelationHead(p *nn.Path, c LatentCrossCorrelationHeadConfig) (*LatentCrossCorrelationHead, error) {
	n := defaultNorm("BN1d")
	n.Affine = false
	bn, err := newBatchNorm(p.Sub("bn"), int64(c.InChannels), n)
	if err != nil {
		return nil, err
	}
	return &LatentCrossCorrelationHead{bn: bn, lambd: c.Lambd}, nil
}

// HeadType names the registered type.
func (h *LatentCrossCorrelationHead) HeadType() string { return "LatentCrossCorrelationHead" }

// Loss returns {"loss"} for z1 (input) and z2 (target), both N×C; train
// selects batch statistics in the head's BN (MMSelfSup trains in train mode).
func (h *LatentCrossCorrelationHead) Loss(input, target *ts.Tensor, train bool) (*Losses, error) {
	if err := samePairShape("LatentCrossCorrelationHead", input, target, true); err != nil {
		return nil, err
	}
	dims := input.MustSize()
	if dims[1] != h.bn.c {
		return nil, fmt.Errorf("LatentCrossCorrelationHead: input has %d channels, want %d", dims[1], h.bn.c)
	}
	a := h.bn.forward(input, train)    // N×C
	b := h.bn.forward(target, train)   // N×C
	c := a.MustT(true).MustMm(b, true) // C×C
	b.MustDrop()
	world := 1
	if multi(h.coll) {
		world = h.coll.World()
	}
	c = divScalar(c, float64(dims[0])*float64(world), true) // C×C
	if multi(h.coll) {
		// c + (Σ_ranks c − c).detach(): the global value, the local graph.
		var sum *ts.Tensor
		var err error
		noGradDo(func() { sum, err = allReduceSumTensor(h.coll, c) })
		if err != nil {
			c.MustDrop()
			return nil, fmt.Errorf("LatentCrossCorrelationHead: all-reduce of C: %w", err)
		}
		others := sum.MustSub(c, true).MustDetach(true)
		c = c.MustAdd(others, true)
		others.MustDrop()
	}
	diag := c.MustDiagonal(0, 0, 1, false) // C
	onDiag := addScalar(diag, -1, false).MustSquare(true).MustSum(gotch.Float, true)
	diagSq := diag.MustSquare(true).MustSum(gotch.Float, true)
	all := c.MustSquare(true).MustSum(gotch.Float, true)
	offDiag := all.MustSub(diagSq, true) // Σ_{i≠j} C_ij²
	diagSq.MustDrop()
	weighted := mulScalar(offDiag, h.lambd, true)
	loss := onDiag.MustAdd(weighted, true)
	weighted.MustDrop()
	l := NewLosses()
	l.Set("loss", loss)
	return l, nil
}

// samePairShape checks that a and b are both N×C with equal shapes.
func samePairShape(who string, a, b *ts.Tensor, twoD bool) error {
	as, err := a.Size()
	if err != nil {
		return fmt.Errorf("%s input: %w", who, err)
	}
	bs, err := b.Size()
	if err != nil {
		return fmt.Errorf("%s target: %w", who, err)
	}
	if len(as) != 2 || !equalDims(as, bs) || as[0] == 0 {
		return fmt.Errorf("%s: input %v and target %v, want equal N×C shapes", who, as, bs)
	}
	return nil
}

func init() {
	RegisterHead("LatentPredictHead", func(p *nn.Path, m map[string]any) (Head, error) {
		return buildFrom(p, "head", m, &LatentPredictHeadConfig{}, func(c *LatentPredictHeadConfig) (Head, error) {
			pred, err := BuildNeck(p.Sub("predictor"), c.Predictor)
			if err != nil {
				return nil, err
			}
			return &LatentPredictHead{Predictor: pred}, nil
		})
	})
	RegisterHead("LatentClsHead", func(p *nn.Path, m map[string]any) (Head, error) {
		return buildFrom(p, "head", m, &LatentClsHeadConfig{}, func(c *LatentClsHeadConfig) (Head, error) { return NewLatentClsHead(p, *c) })
	})
	RegisterHead("LatentCrossCorrelationHead", func(p *nn.Path, m map[string]any) (Head, error) {
		return buildFrom(p, "head", m, &LatentCrossCorrelationHeadConfig{Lambd: 0.0051}, func(c *LatentCrossCorrelationHeadConfig) (Head, error) {
			return NewLatentCrossCorrelationHead(p, *c)
		})
	})
}
