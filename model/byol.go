package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// BYOL is "Bootstrap Your Own Latent" (Grill et al., 2020), as MMSelfSup
// 0.9.0's mmselfsup/models/algorithms/byol.py (algorithms.md §10): an
// online network (backbone + projector neck, keys online_net.0/1, aliased
// backbone/neck), a target network of the same shape (target_net.0/1,
// requires_grad false), and a LatentPredictHead whose predictor (keys
// head.predictor.*) maps online projections onto the other view's target
// projection. loss = 2·(head(p1, t2) + head(p2, t1)) with
// head(a, b) = −mean cos(predictor(a), sg(b)); both orders make the loss
// symmetric. Each view goes through the networks on its own, so BN
// statistics are per view, as in MMSelfSup.
//
// The target follows the online network by EMA with the cosine schedule
// of MomentumUpdateHook; the runner drives it through MomentumTarget.
//
// Deviation, on purpose: the target starts as a copy of the initialised
// online network, as in the paper. MMSelfSup copies in __init__, before
// init_weights re-initialises the online backbone, so its target ResNet
// keeps PyTorch's construction-time init and the two start different
// (algorithms.md §0.5).
type BYOL struct {
	online, target encoder
	head           *LatentPredictHead
	pairs          [][2]*ts.Tensor
	baseMomentum   float64
}

var _ MomentumTarget = (*BYOL)(nil)

func init() { RegisterAlgorithm("BYOL", buildBYOL) }

func buildBYOL(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "base_momentum"); err != nil {
		return nil, err
	}
	m := &BYOL{}
	var err error
	if m.baseMomentum, err = floatKey(cfg, "base_momentum", 0.996); err != nil {
		return nil, err
	}
	if err := checkMomentum("base_momentum", m.baseMomentum); err != nil {
		return nil, err
	}
	root := vs.Root()
	if m.online, m.target, err = buildTwinEncoders(root, cfg, "online_net", "target_net"); err != nil {
		return nil, err
	}
	if err := aliasAll(vs, "backbone", "online_net.0", "neck", "online_net.1"); err != nil {
		return nil, err
	}
	if m.head, err = buildLatentPredictHead(root, cfg, "BYOL"); err != nil {
		return nil, err
	}
	if m.pairs, err = copyTarget(vs, "online_net", "target_net"); err != nil {
		return nil, fmt.Errorf("BYOL: %w", err)
	}
	return m, nil
}

// buildTwinEncoders builds backbone+neck under a.0/a.1 and again under
// b.0/b.1 (MMSelfSup's two nn.Sequential of the same configs).
func buildTwinEncoders(root *nn.Path, cfg map[string]any, a, b string) (encoder, encoder, error) {
	var ea, eb encoder
	bc, err := subConfig(cfg, "backbone", true)
	if err != nil {
		return ea, eb, err
	}
	nc, err := subConfig(cfg, "neck", true)
	if err != nil {
		return ea, eb, err
	}
	for _, e := range []struct {
		enc    *encoder
		prefix string
	}{{&ea, a}, {&eb, b}} {
		if e.enc.backbone, err = BuildBackbone(subPath(root, e.prefix+".0"), bc); err != nil {
			return ea, eb, err
		}
		if e.enc.neck, err = BuildNeck(subPath(root, e.prefix+".1"), nc); err != nil {
			return ea, eb, err
		}
	}
	return ea, eb, nil
}

// buildLatentPredictHead builds model.head under "head" and requires a
// LatentPredictHead.
func buildLatentPredictHead(root *nn.Path, cfg map[string]any, algo string) (*LatentPredictHead, error) {
	hc, err := subConfig(cfg, "head", true)
	if err != nil {
		return nil, err
	}
	h, err := BuildHead(root.Sub("head"), hc)
	if err != nil {
		return nil, err
	}
	lp, ok := h.(*LatentPredictHead)
	if !ok {
		return nil, fmt.Errorf("model.head: %s needs a LatentPredictHead, got %s", algo, h.HeadType())
	}
	return lp, nil
}

// Type names the algorithm.
func (m *BYOL) Type() string { return "BYOL" }

// Features is the pooled output of the online backbone.
func (m *BYOL) Features(x *ts.Tensor) (*ts.Tensor, error) {
	return pooledFeatures(m.online.backbone, x)
}

// BaseMomentum is the config's base_momentum (class default 0.996).
func (m *BYOL) BaseMomentum() float64 { return m.baseMomentum }

// MomentumUpdate sets θ_target ← m·θ_target + (1−m)·θ_online.
func (m *BYOL) MomentumUpdate(mom float64) error {
	if err := checkMomentum("momentum", mom); err != nil {
		return fmt.Errorf("BYOL: %w", err)
	}
	if err := emaUpdate(m.pairs, mom); err != nil {
		return fmt.Errorf("BYOL momentum update: %w", err)
	}
	return nil
}

// TrainStep computes the symmetric BYOL loss for views [v1, v2].
func (m *BYOL) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 2 {
		return nil, fmt.Errorf("BYOL: %d views, want 2", len(in.Views))
	}
	s := NewScope()
	defer s.Close()
	p1, err := m.online.forward(s, in.Views[0], true) // N×D
	if err != nil {
		return nil, err
	}
	p2, err := m.online.forward(s, in.Views[1], true) // N×D
	if err != nil {
		return nil, err
	}
	var t1, t2 *ts.Tensor
	if err := WithoutGrad(func() error {
		var err error
		if t1, err = m.target.forward(s, in.Views[0], true); err != nil {
			return err
		}
		t2, err = m.target.forward(s, in.Views[1], true)
		return err
	}); err != nil {
		return nil, err
	}
	total, err := symmetricLatentLoss(s, m.head, p1, p2, t1, t2, 2)
	if err != nil {
		return nil, fmt.Errorf("BYOL: %w", err)
	}
	l := NewLosses()
	l.Set("loss", total)
	return l, nil
}

// symmetricLatentLoss is scale·(head(a1, b2) + head(a2, b1)) as a new
// tensor the caller owns; the head's own loss tensors go into s.
func symmetricLatentLoss(s *Scope, h LatentHead, a1, a2, b1, b2 *ts.Tensor, scale float64) (*ts.Tensor, error) {
	l12, err := h.Loss(a1, b2, true)
	if err != nil {
		return nil, err
	}
	s.TrackLosses(l12)
	l21, err := h.Loss(a2, b1, true)
	if err != nil {
		return nil, err
	}
	s.TrackLosses(l21)
	x, y := l12.Get("loss"), l21.Get("loss")
	if x == nil || y == nil {
		return nil, fmt.Errorf("%s returned no \"loss\"", h.HeadType())
	}
	sum, err := s.TrackErr(x.Add(y, false))
	if err != nil {
		return nil, err
	}
	sc := ts.FloatScalar(scale)
	defer sc.MustDrop()
	return sum.MulScalar(sc, false)
}
