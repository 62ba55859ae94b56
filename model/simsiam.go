package model

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SimSiam is "Exploring Simple Siamese Representation Learning" (Chen & He,
// 2021), as MMSelfSup 0.9.0's mmselfsup/models/algorithms/simsiam.py
// (algorithms.md §11): one encoder (backbone + projector, keys
// encoder.0/1, aliased backbone/neck) applied to both views and a
// LatentPredictHead (predictor keys head.predictor.*);
// loss = ½·(head(z1, z2) + head(z2, z1)) with
// head(a, b) = −mean cos(predictor(a), sg(b)). The stop-gradient is the
// head's detach of its target; there is no momentum encoder.
//
// MMSelfSup keeps the predictor's learning rate fixed: the config's
// paramwise_options {'predictor': {fix_lr: True}} marks those groups
// (Group.FixLR, see BuildOptimizer) and the runner's SimSiamHook sets
// their LR to its lr at every epoch start. PredictorParams names them.
type SimSiam struct {
	enc       encoder
	head      *LatentPredictHead
	predictor []string
}

func init() { RegisterAlgorithm("SimSiam", buildSimSiam) }

func buildSimSiam(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head"); err != nil {
		return nil, err
	}
	root := vs.Root()
	bc, err := subConfig(cfg, "backbone", true)
	if err != nil {
		return nil, err
	}
	nc, err := subConfig(cfg, "neck", true)
	if err != nil {
		return nil, err
	}
	m := &SimSiam{}
	if m.enc.backbone, err = BuildBackbone(subPath(root, "encoder.0"), bc); err != nil {
		return nil, err
	}
	if m.enc.neck, err = BuildNeck(subPath(root, "encoder.1"), nc); err != nil {
		return nil, err
	}
	if err := aliasAll(vs, "backbone", "encoder.0", "neck", "encoder.1"); err != nil {
		return nil, err
	}
	if m.head, err = buildLatentPredictHead(root, cfg, "SimSiam"); err != nil {
		return nil, err
	}
	for _, p := range NamedParameters(vs) {
		if strings.HasPrefix(p.Name, "head.predictor.") {
			m.predictor = append(m.predictor, p.Name)
		}
	}
	return m, nil
}

// Type names the algorithm.
func (m *SimSiam) Type() string { return "SimSiam" }

// Features is the pooled backbone output.
func (m *SimSiam) Features(x *ts.Tensor) (*ts.Tensor, error) {
	return pooledFeatures(m.enc.backbone, x)
}

// PredictorParams lists the state-dict names of the predictor's
// parameters (head.predictor.*), in registration order: the parameters
// whose names the SimSiam config's paramwise pattern 'predictor' matches
// and whose LR SimSiamHook pins.
func (m *SimSiam) PredictorParams() []string { return append([]string(nil), m.predictor...) }

// TrainStep computes ½·(head(z1, z2) + head(z2, z1)) for views [v1, v2].
func (m *SimSiam) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 2 {
		return nil, fmt.Errorf("SimSiam: %d views, want 2", len(in.Views))
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
	total, err := symmetricLatentLoss(s, m.head, z1, z2, z1, z2, 0.5)
	if err != nil {
		return nil, fmt.Errorf("SimSiam: %w", err)
	}
	l := NewLosses()
	l.Set("loss", total)
	return l, nil
}
