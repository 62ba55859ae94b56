package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SwAV is "Unsupervised Learning of Visual Features by Contrasting Cluster
// Assignments" (Caron et al., 2020), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/swav.py (algorithms.md §12): multi-crop
// views grouped by resolution, one backbone pass per group, SwAVNeck over
// all groups, and SwAVHead's swapped prediction with Sinkhorn codes.
//
// The prototypes are L2-normalised in place by the head before every
// forward; their gradient is discarded for the first iterations by the
// runner's frozen_layers_cfg; the queue is SwAVHook's (SetQueue).
type SwAV struct {
	backbone Backbone
	neck     *SwAVNeck
	head     *SwAVHead
}

func init() { RegisterAlgorithm("SwAV", buildSwAV) }

func buildSwAV(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head"); err != nil {
		return nil, err
	}
	enc, head, err := buildEncoderAndHead(vs.Root(), cfg, "backbone", "neck")
	if err != nil {
		return nil, err
	}
	n, ok := enc.neck.(*SwAVNeck)
	if !ok {
		return nil, fmt.Errorf("model.neck: SwAV needs a SwAVNeck")
	}
	h, ok := head.(*SwAVHead)
	if !ok {
		return nil, fmt.Errorf("model.head: SwAV needs a SwAVHead, got %s", head.HeadType())
	}
	return &SwAV{backbone: enc.backbone, neck: n, head: h}, nil
}

// Type names the algorithm.
func (m *SwAV) Type() string { return "SwAV" }

// Notes reports SyncBN acting as BN.
func (m *SwAV) Notes() []string {
	var out []string
	for _, x := range []any{m.backbone, m.neck} {
		if n, ok := x.(Noter); ok {
			out = append(out, n.Notes()...)
		}
	}
	return out
}

// Features is the pooled backbone output.
func (m *SwAV) Features(x *ts.Tensor) (*ts.Tensor, error) { return pooledFeatures(m.backbone, x) }

// SetCollective implements CollectiveUser: on several nodes the head's
// Sinkhorn-Knopp runs over every rank's batch (DistributedSinkhorn).
func (m *SwAV) SetCollective(c Collective) { m.head.SetCollective(c) }

// Head is the SwAVHead (SwAVHook hands it the queue).
func (m *SwAV) Head() *SwAVHead { return m.head }

// SetQueue hands the head the feature queue (borrowed) and resets
// use_queue, as SwAVHook does before each epoch; nil removes it.
func (m *SwAV) SetQueue(q *ts.Tensor) error { return m.head.SetQueue(q) }

// UseQueue reports whether the queue took part in the last assignment.
func (m *SwAV) UseQueue() bool { return m.head.UseQueue() }

// cropGroups splits the views into runs of consecutive views with the same
// width (torch.unique_consecutive over img[i].shape[-1]) and returns the
// end index of each run.
func cropGroups(views []*ts.Tensor) ([]int, error) {
	var ends []int
	var last int64 = -1
	for i, v := range views {
		d, err := imageDims(fmt.Sprintf("SwAV view %d", i), v)
		if err != nil {
			return nil, err
		}
		if i > 0 && d[3] != last {
			ends = append(ends, i)
		}
		last = d[3]
	}
	return append(ends, len(views)), nil
}

// TrainStep is forward_train(img): every view must hold the same batch;
// views of one width are concatenated along the batch and go through the
// backbone together, the neck pools and projects them in view order
// (rows v·B … (v+1)·B−1 are view v) and the head returns {"loss"}.
func (m *SwAV) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != int(m.head.totalCrops) {
		return nil, fmt.Errorf("SwAV: %d views, but head.num_crops %v sums to %d", len(in.Views), m.head.cfg.NumCrops, m.head.totalCrops)
	}
	ends, err := cropGroups(in.Views)
	if err != nil {
		return nil, err
	}
	s := NewScope()
	defer s.Close()
	var outs []*ts.Tensor
	start := 0
	for _, end := range ends {
		x := in.Views[start]
		if end-start > 1 {
			parts := make([]ts.Tensor, 0, end-start)
			for _, v := range in.Views[start:end] {
				parts = append(parts, *v)
			}
			if x, err = s.TrackErr(ts.Cat(parts, 0)); err != nil {
				return nil, fmt.Errorf("SwAV: views %d-%d: %w", start, end-1, err)
			}
		}
		feats, err := m.backbone.Forward(x, true)
		if err != nil {
			return nil, err
		}
		s.TrackAll(feats)
		outs = append(outs, feats[len(feats)-1])
		start = end
	}
	z, err := m.neck.Forward(outs, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(z)
	return m.head.Loss(z[0])
}
