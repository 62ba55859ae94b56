package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MoCoV3 is "An Empirical Study of Training Self-Supervised Vision
// Transformers" (Chen, Xie & He, 2021), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/mocov3.py (algorithms.md §14): a base
// encoder (ViT backbone + projector neck, keys base_encoder.0/1, aliased
// backbone/neck), a momentum encoder of the same shape
// (momentum_encoder.0/1, requires_grad false) and MoCoV3Head;
// loss = head(q1, k2) + head(q2, k1) with k from the momentum encoder
// without gradient.
//
// The momentum encoder is a copy of the initialised base encoder
// (MMSelfSup's init_weights copies after init, as the paper). It follows
// by EMA with MomentumUpdateHook's cosine schedule from base_momentum,
// applied by the runner after the optimizer step through MomentumTarget.
//
// The neck's vit_backbone flag selects the cls token from the backbone's
// [patch, cls] output; flowssl's VisionTransformer already hands the cls
// token to the neck as its last output, so the flag is honoured here and
// removed before the neck config is built.
type MoCoV3 struct {
	base, mom    encoder
	head         *MoCoV3Head
	pairs        [][2]*ts.Tensor
	baseMomentum float64
}

var _ MomentumTarget = (*MoCoV3)(nil)

// SetCollective implements CollectiveUser: on several nodes the head
// contrasts against the keys of every rank (MoCoV3Head's concat_all_gather).
func (m *MoCoV3) SetCollective(c Collective) { m.head.SetCollective(c) }

func init() { RegisterAlgorithm("MoCoV3", buildMoCoV3) }

func buildMoCoV3(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "base_momentum"); err != nil {
		return nil, err
	}
	m := &MoCoV3{}
	var err error
	if m.baseMomentum, err = floatKey(cfg, "base_momentum", 0.99); err != nil {
		return nil, err
	}
	if err := checkMomentum("base_momentum", m.baseMomentum); err != nil {
		return nil, err
	}
	nc, err := subConfig(cfg, "neck", true)
	if err != nil {
		return nil, err
	}
	c := withKey(cfg, "neck", withoutViTFlag(nc))
	root := vs.Root()
	if m.base, m.mom, err = buildTwinEncoders(root, c, "base_encoder", "momentum_encoder"); err != nil {
		return nil, err
	}
	if err := aliasAll(vs, "backbone", "base_encoder.0", "neck", "base_encoder.1"); err != nil {
		return nil, err
	}
	hc, err := subConfig(cfg, "head", true)
	if err != nil {
		return nil, err
	}
	h, err := BuildHead(root.Sub("head"), hc)
	if err != nil {
		return nil, err
	}
	var ok bool
	if m.head, ok = h.(*MoCoV3Head); !ok {
		return nil, fmt.Errorf("model.head: MoCoV3 needs a MoCoV3Head, got %s", h.HeadType())
	}
	if m.pairs, err = copyTarget(vs, "base_encoder", "momentum_encoder"); err != nil {
		return nil, fmt.Errorf("MoCoV3: %w", err)
	}
	return m, nil
}

// withoutViTFlag drops vit_backbone from a neck config (see MoCoV3).
func withoutViTFlag(nc map[string]any) map[string]any {
	if _, ok := nc["vit_backbone"]; !ok {
		return nc
	}
	out := make(map[string]any, len(nc))
	for k, v := range nc {
		if k != "vit_backbone" {
			out[k] = v
		}
	}
	return out
}

// Type names the algorithm.
func (m *MoCoV3) Type() string { return "MoCoV3" }

// Features is the base backbone's last output: the cls token (N×D).
func (m *MoCoV3) Features(x *ts.Tensor) (*ts.Tensor, error) { return vitFeatures(m.base.backbone, x) }

// BaseMomentum is the config's base_momentum (class default 0.99).
func (m *MoCoV3) BaseMomentum() float64 { return m.baseMomentum }

// MomentumUpdate sets θ_momentum ← m·θ_momentum + (1−m)·θ_base.
func (m *MoCoV3) MomentumUpdate(mom float64) error {
	if err := checkMomentum("momentum", mom); err != nil {
		return fmt.Errorf("MoCoV3: %w", err)
	}
	if err := emaUpdate(m.pairs, mom); err != nil {
		return fmt.Errorf("MoCoV3 momentum update: %w", err)
	}
	return nil
}

// TrainStep computes the symmetric MoCo v3 loss for views [v1, v2].
func (m *MoCoV3) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 2 {
		return nil, fmt.Errorf("MoCoV3: %d views, want 2", len(in.Views))
	}
	s := NewScope()
	defer s.Close()
	q1, err := m.base.forward(s, in.Views[0], true) // N×C
	if err != nil {
		return nil, err
	}
	q2, err := m.base.forward(s, in.Views[1], true)
	if err != nil {
		return nil, err
	}
	var k1, k2 *ts.Tensor
	if err := WithoutGrad(func() error {
		var err error
		if k1, err = m.mom.forward(s, in.Views[0], true); err != nil {
			return err
		}
		k2, err = m.mom.forward(s, in.Views[1], true)
		return err
	}); err != nil {
		return nil, err
	}
	l12, err := m.head.Loss(q1, k2, true)
	if err != nil {
		return nil, err
	}
	s.TrackLosses(l12)
	l21, err := m.head.Loss(q2, k1, true)
	if err != nil {
		return nil, err
	}
	s.TrackLosses(l21)
	l := NewLosses()
	l.Set("loss", l12.Get("loss").MustAdd(l21.Get("loss"), false))
	return l, nil
}
