package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MoCoV3HeadConfig is MMSelfSup's MoCoV3Head (heads/mocov3_head.py).
type MoCoV3HeadConfig struct {
	Predictor   map[string]any `yaml:"predictor"`
	Temperature float64        `yaml:"temperature"`
	InitCfg     any            `yaml:"init_cfg"`
}

// Validate requires a predictor and a positive temperature.
func (c *MoCoV3HeadConfig) Validate() error {
	if c.Predictor == nil {
		return fmt.Errorf("predictor: missing")
	}
	if c.Temperature <= 0 {
		return fmt.Errorf("temperature %g must be > 0", c.Temperature)
	}
	if c.InitCfg != nil {
		return fmt.Errorf("init_cfg: not supported for MoCoV3Head")
	}
	return nil
}

// MoCoV3Head is MoCo v3's contrastive head (algorithms.md §14): with
// p = norm(predictor(q)) and t = norm(sg(k)), logits = p·tᵀ/T and
// loss = 2T·CE(logits, arange(N)). One process: the all-gather of t is
// the identity. On several nodes (SetCollective) t is all-gathered to the
// global batch (concat_all_gather, no gradient) and rank r's labels are
// arange(N) + N·r. The predictor's keys are head.predictor.*.
type MoCoV3Head struct {
	Predictor   Neck
	Temperature float64
	coll        Collective
}

// SetCollective makes the keys those of every rank's batch.
func (h *MoCoV3Head) SetCollective(c Collective) { h.coll = c }

// HeadType names the registered type.
func (h *MoCoV3Head) HeadType() string { return "MoCoV3Head" }

// Loss returns {"loss"} for base_out (N×C) and momentum_out (N×C).
func (h *MoCoV3Head) Loss(baseOut, momentumOut *ts.Tensor, train bool) (*Losses, error) {
	if err := samePairShape("MoCoV3Head", baseOut, momentumOut, true); err != nil {
		return nil, err
	}
	s := NewScope()
	defer s.Close()
	preds, err := h.Predictor.Forward([]*ts.Tensor{baseOut}, train)
	if err != nil {
		return nil, fmt.Errorf("MoCoV3Head predictor: %w", err)
	}
	s.TrackAll(preds)
	if err := samePairShape("MoCoV3Head predictor output", preds[0], momentumOut, true); err != nil {
		return nil, err
	}
	p := s.Track(l2Normalize(preds[0]))
	k := s.Track(momentumOut.MustDetach(false))
	t := s.Track(l2Normalize(k))
	n := t.MustSize()[0]
	var offset int64
	if multi(h.coll) {
		var err error
		if t, err = s.TrackErr(ConcatAllGather(h.coll, t)); err != nil {
			return nil, fmt.Errorf("MoCoV3Head: %w", err)
		}
		offset = n * int64(h.coll.Rank())
	}
	logits := s.Track(p.MustMm(s.Track(t.MustTranspose(0, 1, false)), false)) // N×G
	logits = s.Track(divScalar(logits, h.Temperature, false))
	lo, hi := ts.IntScalar(offset), ts.IntScalar(offset+n)
	labels := s.Track(ts.MustArangeStart(lo, hi, gotch.Int64, logits.MustDevice()))
	lo.MustDrop()
	hi.MustDrop()
	ce, err := s.TrackErr(crossEntropy(logits, labels))
	if err != nil {
		return nil, err
	}
	l := NewLosses()
	l.Set("loss", mulScalar(ce, 2*h.Temperature, false))
	return l, nil
}

func init() {
	RegisterHead("MoCoV3Head", func(p *nn.Path, m map[string]any) (Head, error) {
		c := MoCoV3HeadConfig{Temperature: 1}
		return buildFrom(p, "head", m, &c, func(c *MoCoV3HeadConfig) (Head, error) {
			pred, err := BuildNeck(p.Sub("predictor"), c.Predictor)
			if err != nil {
				return nil, err
			}
			return &MoCoV3Head{Predictor: pred, Temperature: c.Temperature}, nil
		})
	})
}
