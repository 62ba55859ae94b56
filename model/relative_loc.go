package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// RelativeLoc is "Unsupervised Visual Representation Learning by Context
// Prediction" (Doersch et al., 2015), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/relative_loc.py (algorithms.md §7): each of
// the 8 outer patches of a 3×3 grid is paired with the centre patch, both
// go through the same backbone (keys backbone.*), their feature maps are
// concatenated along channels, and a RelativeLocNeck (neck.*) and a ClsHead
// over 8 classes (head.fc_cls.*) predict where the outer patch sits. Loss
// CE; "acc" (top-1 %) is logged, not summed.
//
// # Input layout
//
// StepInput.Views has 9 entries, the grid cells in row-major order: Views[i]
// is the N×C×h×w batch of patch i (row i/3, column i%3), Views[4] the
// centre. Pair j = 0..7 is (patch p_j, centre) with p = [0,1,2,3,5,6,7,8]
// and label j, as RelativeLocDataset builds them. ViewLabels may be nil
// (labels j) or hold 8 int64 N-vectors, one per pair position.
//
// The 8N pairs are ordered sample-major (row 8n + j), MMSelfSup's
// view(N·8, 2C, h, w); the outer patches and the centres (each centre
// repeated 8 times, as the channel-concatenated pairs carry it) go through
// the backbone as two batches, so BN statistics match MMSelfSup's
// chunk-then-extract_feat.
type RelativeLoc struct {
	backbone Backbone
	neck     Neck
	head     ClassifierHead
}

// relativeLocPatches are the grid cells paired with the centre, in label order.
var relativeLocPatches = [8]int{0, 1, 2, 3, 5, 6, 7, 8}

func init() { RegisterAlgorithm("RelativeLoc", buildRelativeLoc) }

func buildRelativeLoc(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head"); err != nil {
		return nil, err
	}
	m := &RelativeLoc{}
	var err error
	if m.backbone, m.head, err = buildBackboneAndClassifier(vs.Root(), cfg, "RelativeLoc", &m.neck); err != nil {
		return nil, err
	}
	return m, nil
}

// Type names the algorithm.
func (m *RelativeLoc) Type() string { return "RelativeLoc" }

// Features is the pooled backbone output of single images (MMSelfSup's
// extract mode).
func (m *RelativeLoc) Features(x *ts.Tensor) (*ts.Tensor, error) {
	return pooledFeatures(m.backbone, x)
}

// TrainStep classifies the relative position of the 8 pairs per image.
func (m *RelativeLoc) TrainStep(in *StepInput) (*Losses, error) {
	if in.ViewLabels != nil && len(in.ViewLabels) != 8 {
		return nil, fmt.Errorf("RelativeLoc: %d ViewLabels, want none or 8 (one per pair)", len(in.ViewLabels))
	}
	s := NewScope()
	defer s.Close()
	outer := make([]*ts.Tensor, 8)
	centre := make([]*ts.Tensor, 8)
	switch len(in.Views) {
	case 9: // the 3×3 grid, row-major, centre = 4
		for j, p := range relativeLocPatches {
			outer[j], centre[j] = in.Views[p], in.Views[4]
		}
	case 8: // MMSelfSup's RelativeLocDataset: pair j = cat(patch, centre) on channels
		for j, v := range in.Views {
			d, err := v.Size()
			if err != nil {
				return nil, err
			}
			if len(d) != 4 || d[1]%2 != 0 {
				return nil, fmt.Errorf("RelativeLoc: pair view %d has shape %v, want N×2C×h×w", j, d)
			}
			c := d[1] / 2
			if outer[j], err = s.TrackErr(v.Narrow(1, 0, c, false)); err != nil {
				return nil, err
			}
			if centre[j], err = s.TrackErr(v.Narrow(1, c, c, false)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("RelativeLoc: %d views, want 9 (3×3 grid patches, centre = 4) or 8 (patch+centre pairs)", len(in.Views))
	}
	x1, labels, err := stackSampleMajor(s, "RelativeLoc", outer, in.ViewLabels) // 8N×C×h×w
	if err != nil {
		return nil, err
	}
	x2, _, err := stackSampleMajor(s, "RelativeLoc centre", centre, nil) // 8N×C×h×w
	if err != nil {
		return nil, err
	}
	d1, _ := x1.Size()
	d2, _ := x2.Size()
	if !equalDims(d1, d2) {
		return nil, fmt.Errorf("RelativeLoc: outer patches %v and centre %v differ in shape", d1[1:], d2[1:])
	}
	f1, err := m.backbone.Forward(x1, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(f1)
	f2, err := m.backbone.Forward(x2, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(f2)
	x, err := s.TrackErr(ts.Cat([]ts.Tensor{*f1[len(f1)-1], *f2[len(f2)-1]}, 1)) // 8N×2C'×h'×w'
	if err != nil {
		return nil, err
	}
	h, err := m.neck.Forward([]*ts.Tensor{x}, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(h)
	scores, err := m.head.Forward(h[:1], true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(scores)
	return m.head.Loss(scores, labels)
}
