package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// BarlowTwins is "Barlow Twins: Self-Supervised Learning via Redundancy
// Reduction" (Zbontar et al., 2021), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/barlowtwins.py (algorithms.md §13): one
// backbone + projector (keys backbone.*, neck.*) applied to both views
// without stop-gradient, and a LatentCrossCorrelationHead (head.bn.*
// buffers) computing Σ(C_ii − 1)² + λ·Σ_{i≠j} C_ij² from the
// cross-correlation C of the two batch-normalised projections.
//
// One process: C is the local batch's (N = the whole batch); on several
// nodes it is all-reduced across them as MMSelfSup does (SetCollective). As in MMSelfSup, not the official code,
// the head's BN normalises each view with its own batch statistics.
type BarlowTwins struct {
	enc  encoder
	head LatentHead
}

// SetCollective implements CollectiveUser: on several nodes the head's
// cross-correlation is all-reduced over the ranks.
func (m *BarlowTwins) SetCollective(c Collective) {
	if h, ok := m.head.(*LatentCrossCorrelationHead); ok {
		h.SetCollective(c)
	}
}

func init() { RegisterAlgorithm("BarlowTwins", buildBarlowTwins) }

func buildBarlowTwins(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head"); err != nil {
		return nil, err
	}
	enc, head, err := buildEncoderAndHead(vs.Root(), cfg, "backbone", "neck")
	if err != nil {
		return nil, err
	}
	h, ok := head.(*LatentCrossCorrelationHead)
	if !ok {
		return nil, fmt.Errorf("model.head: BarlowTwins needs a LatentCrossCorrelationHead, got %s", head.HeadType())
	}
	return &BarlowTwins{enc: enc, head: h}, nil
}

// Type names the algorithm.
func (m *BarlowTwins) Type() string { return "BarlowTwins" }

// Features is the pooled backbone output.
func (m *BarlowTwins) Features(x *ts.Tensor) (*ts.Tensor, error) {
	return pooledFeatures(m.enc.backbone, x)
}

// TrainStep computes the Barlow Twins loss for views [v1, v2].
func (m *BarlowTwins) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 2 {
		return nil, fmt.Errorf("BarlowTwins: %d views, want 2", len(in.Views))
	}
	s := NewScope()
	defer s.Close()
	z1, err := m.enc.forward(s, in.Views[0], true) // N×D
	if err != nil {
		return nil, err
	}
	z2, err := m.enc.forward(s, in.Views[1], true) // N×D
	if err != nil {
		return nil, err
	}
	l, err := m.head.Loss(z1, z2, true)
	if err != nil {
		return nil, fmt.Errorf("BarlowTwins: %w", err)
	}
	return l, nil
}
