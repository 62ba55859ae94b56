package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// RotationPred is "Unsupervised Representation Learning by Predicting Image
// Rotations" (Gidaris et al., 2018), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/rotation_pred.py (algorithms.md §8): a
// backbone (keys backbone.*) and a ClsHead over 4 classes (head.fc_cls.*),
// no neck; loss CE over the rotation labels, "acc" (top-1 %) logged.
//
// # Input layout
//
// StepInput.Views is either
//   - one entry, the N×C×H×W batch after the pipeline: TrainStep makes the
//     four rotations itself (r·90° counter-clockwise, r = 0..3, label r;
//     r = 1 is torch.flip(img.transpose(1, 2), [1]) of MMSelfSup's
//     rotate(), i.e. torch.rot90 over (H, W)); or
//   - four entries, Views[r] = the batch rotated by r·90° CCW, label r,
//     as MMSelfSup's RotationPredDataset delivers them.
//
// ViewLabels may be nil (labels are the rotation indices) or, with four
// views, hold one int64 N-vector per view position. The 4N samples are
// ordered sample-major (row 4n + r), MMSelfSup's view(N·4, C, H, W), and
// go through the backbone as one batch.
type RotationPred struct {
	backbone Backbone
	head     ClassifierHead
}

func init() { RegisterAlgorithm("RotationPred", buildRotationPred) }

func buildRotationPred(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "head"); err != nil {
		return nil, err
	}
	b, h, err := buildBackboneAndClassifier(vs.Root(), cfg, "RotationPred", nil)
	if err != nil {
		return nil, err
	}
	return &RotationPred{backbone: b, head: h}, nil
}

// buildBackboneAndClassifier builds backbone, the optional neck (when
// neck is non-nil it receives the built neck) and a ClassifierHead.
func buildBackboneAndClassifier(root *nn.Path, cfg map[string]any, algo string, neck *Neck) (Backbone, ClassifierHead, error) {
	bc, err := subConfig(cfg, "backbone", true)
	if err != nil {
		return nil, nil, err
	}
	b, err := BuildBackbone(root.Sub("backbone"), bc)
	if err != nil {
		return nil, nil, err
	}
	if neck != nil {
		nc, err := subConfig(cfg, "neck", true)
		if err != nil {
			return nil, nil, err
		}
		if *neck, err = BuildNeck(root.Sub("neck"), nc); err != nil {
			return nil, nil, err
		}
	}
	hc, err := subConfig(cfg, "head", true)
	if err != nil {
		return nil, nil, err
	}
	h, err := BuildHead(root.Sub("head"), hc)
	if err != nil {
		return nil, nil, err
	}
	ch, ok := h.(ClassifierHead)
	if !ok {
		return nil, nil, fmt.Errorf("model.head: %s needs a classifier head (ClsHead), got %s", algo, h.HeadType())
	}
	return b, ch, nil
}

// Type names the algorithm.
func (m *RotationPred) Type() string { return "RotationPred" }

// Features is the pooled backbone output.
func (m *RotationPred) Features(x *ts.Tensor) (*ts.Tensor, error) {
	return pooledFeatures(m.backbone, x)
}

// TrainStep classifies the rotations of the batch.
func (m *RotationPred) TrainStep(in *StepInput) (*Losses, error) {
	s := NewScope()
	defer s.Close()
	var rots []*ts.Tensor
	switch len(in.Views) {
	case 1:
		if in.ViewLabels != nil {
			return nil, fmt.Errorf("RotationPred: ViewLabels given with one view; labels are the rotations it makes")
		}
		if _, err := imageDims("RotationPred view 0", in.Views[0]); err != nil {
			return nil, err
		}
		rots = append(rots, in.Views[0])
		for r := int64(1); r < 4; r++ {
			x, err := s.TrackErr(in.Views[0].Rot90(r, []int64{2, 3}, false)) // N×C×W×H for odd r: square images only
			if err != nil {
				return nil, fmt.Errorf("RotationPred rotate %d: %w", r, err)
			}
			rots = append(rots, x)
		}
	case 4:
		rots = in.Views
	default:
		return nil, fmt.Errorf("RotationPred: %d views, want 1 (unrotated) or 4 (rotated by 0, 90, 180, 270° CCW)", len(in.Views))
	}
	x, labels, err := stackSampleMajor(s, "RotationPred", rots, in.ViewLabels)
	if err != nil {
		return nil, err
	}
	feats, err := m.backbone.Forward(x, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(feats)
	scores, err := m.head.Forward(feats[len(feats)-1:], true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(scores)
	return m.head.Loss(scores, labels)
}

// imageDims checks that x is N×C×H×W with N > 0.
func imageDims(who string, x *ts.Tensor) ([]int64, error) {
	d, err := x.Size()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", who, err)
	}
	if len(d) != 4 || d[0] == 0 {
		return nil, fmt.Errorf("%s: shape %v, want N×C×H×W", who, d)
	}
	return d, nil
}

// stackSampleMajor stacks K view tensors (each N×C×H×W, equal shapes) into
// a (K·N)×C×H×W batch ordered sample-major (row k + K·n is view k of
// sample n), and returns the matching int64 labels: labels[k] when given
// (each an N-vector), else k. Both results are tracked in s.
func stackSampleMajor(s *Scope, who string, views []*ts.Tensor, labels []*ts.Tensor) (*ts.Tensor, *ts.Tensor, error) {
	k := int64(len(views))
	d0, err := imageDims(who+" view 0", views[0])
	if err != nil {
		return nil, nil, err
	}
	n := d0[0]
	parts := make([]ts.Tensor, len(views))
	for i, v := range views {
		d, err := imageDims(fmt.Sprintf("%s view %d", who, i), v)
		if err != nil {
			return nil, nil, err
		}
		if !equalDims(d, d0) {
			return nil, nil, fmt.Errorf("%s: view %d has shape %v, view 0 %v", who, i, d, d0)
		}
		parts[i] = *v
	}
	st, err := s.TrackErr(ts.Stack(parts, 1)) // N×K×C×H×W
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", who, err)
	}
	x, err := s.TrackErr(st.Reshape(append([]int64{k * n}, d0[1:]...), false)) // (K·N)×C×H×W
	if err != nil {
		return nil, nil, err
	}
	var lab *ts.Tensor
	if labels == nil {
		ids := make([]int64, k*n)
		for i := range ids {
			ids[i] = int64(i) % k
		}
		if lab, err = s.TrackErr(ts.NewTensorFromData(ids, []int64{k * n})); err != nil {
			return nil, nil, err
		}
		dev, err := x.Device()
		if err != nil {
			return nil, nil, err
		}
		if dev != gotch.CPU {
			if lab, err = s.TrackErr(lab.To(dev, false)); err != nil {
				return nil, nil, err
			}
		}
		return x, lab, nil
	}
	if len(labels) != len(views) {
		return nil, nil, fmt.Errorf("%s: %d ViewLabels for %d views", who, len(labels), len(views))
	}
	lp := make([]ts.Tensor, len(labels))
	for i, l := range labels {
		d, err := l.Size()
		if err != nil {
			return nil, nil, fmt.Errorf("%s ViewLabels[%d]: %w", who, i, err)
		}
		if len(d) != 1 || d[0] != n || l.DType() != gotch.Int64 {
			return nil, nil, fmt.Errorf("%s: ViewLabels[%d] is %v %v, want int64 of shape [%d]", who, i, l.DType(), d, n)
		}
		lp[i] = *l
	}
	ls, err := s.TrackErr(ts.Stack(lp, 1)) // N×K
	if err != nil {
		return nil, nil, err
	}
	lab, err = s.TrackErr(ls.Reshape([]int64{k * n}, false))
	return x, lab, err
}
