package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// ContrastiveHeadConfig is MMSelfSup's ContrastiveHead (temperature 0.1).
type ContrastiveHeadConfig struct {
	Temperature float64 `yaml:"temperature"`
}

// Validate checks the temperature.
func (c *ContrastiveHeadConfig) Validate() error {
	if c.Temperature <= 0 {
		return fmt.Errorf("temperature %g must be > 0", c.Temperature)
	}
	return nil
}

// ContrastiveHead is the InfoNCE loss of MoCo, SimCLR, NPID and DenseCL:
// CE([pos, neg]/T, 0). It has no parameters.
type ContrastiveHead struct{ T float64 }

// HeadType names the registered type.
func (h *ContrastiveHead) HeadType() string { return "ContrastiveHead" }

// Loss takes pos (N×1) and neg (N×K) similarities and returns {"loss"}.
func (h *ContrastiveHead) Loss(pos, neg *ts.Tensor) (*Losses, error) {
	ps, err := pos.Size()
	if err != nil {
		return nil, fmt.Errorf("ContrastiveHead pos: %w", err)
	}
	ns, err := neg.Size()
	if err != nil {
		return nil, fmt.Errorf("ContrastiveHead neg: %w", err)
	}
	if len(ps) != 2 || ps[1] != 1 || len(ns) != 2 || ns[0] != ps[0] {
		return nil, fmt.Errorf("ContrastiveHead: pos %v and neg %v, want N×1 and N×K", ps, ns)
	}
	logits := ts.MustCat([]ts.Tensor{*pos, *neg}, 1)                         // N×(1+K)
	logits = divScalar(logits, h.T, true)                                    // N×(1+K)
	labels := ts.MustZeros([]int64{ps[0]}, gotch.Int64, logits.MustDevice()) // N
	defer labels.MustDrop()
	defer logits.MustDrop()
	loss, err := crossEntropy(logits, labels)
	if err != nil {
		return nil, fmt.Errorf("ContrastiveHead: %w", err)
	}
	l := NewLosses()
	l.Set("loss", loss)
	return l, nil
}

func init() {
	RegisterHead("ContrastiveHead", func(p *nn.Path, m map[string]any) (Head, error) {
		return buildFrom(p, "head", m, &ContrastiveHeadConfig{Temperature: 0.1}, func(c *ContrastiveHeadConfig) (Head, error) {
			return &ContrastiveHead{T: c.Temperature}, nil
		})
	})
}
