package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SimMIM is "SimMIM: A Simple Framework for Masked Image Modeling" (Xie
// et al., 2021), as MMSelfSup 0.9.0's mmselfsup/models/algorithms/simmim.py
// (algorithms.md §16): a SimMIMSwinTransformer encodes the image with
// masked tokens replaced by its mask token, SimMIMNeck reconstructs the
// pixels and SimMIMHead takes the L1 loss over masked pixels. Keys
// backbone.*, neck.decoder.0.*, head (no parameters).
//
// # Input
//
// StepInput.Views[0] is the normalised image batch (N×3×H×W) and
// StepInput.Masks[0] the SimMIMMaskGenerator mask of each sample at the
// backbone's patch grid: N×(H/p)×(W/p) (or flattened N×(H/p·W/p)),
// 1 = masked, any numeric dtype. This is MMSelfSup's second sample
// element (img, mask); the augment pipeline makes it per sample and the
// batch stacks it in Indices order.
type SimMIM struct {
	backbone *SimMIMSwinTransformer
	neck     *SimMIMNeck
	head     *SimMIMHead
}

func init() { RegisterAlgorithm("SimMIM", buildSimMIM) }

func buildSimMIM(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head"); err != nil {
		return nil, err
	}
	enc, head, err := buildEncoderAndHead(vs.Root(), cfg, "backbone", "neck")
	if err != nil {
		return nil, err
	}
	m := &SimMIM{}
	var ok bool
	if m.backbone, ok = enc.backbone.(*SimMIMSwinTransformer); !ok {
		return nil, fmt.Errorf("model.backbone: SimMIM needs a SimMIMSwinTransformer")
	}
	if m.neck, ok = enc.neck.(*SimMIMNeck); !ok {
		return nil, fmt.Errorf("model.neck: SimMIM needs a SimMIMNeck")
	}
	if m.head, ok = head.(*SimMIMHead); !ok {
		return nil, fmt.Errorf("model.head: SimMIM needs a SimMIMHead, got %s", head.HeadType())
	}
	if oc := m.backbone.OutChannels(); oc[len(oc)-1] != m.neck.in {
		return nil, fmt.Errorf("model.neck.in_channels: %d, but the backbone's last output has %d channels", m.neck.in, oc[len(oc)-1])
	}
	return m, nil
}

// Type names the algorithm.
func (m *SimMIM) Type() string { return "SimMIM" }

// Notes passes on the backbone's notes.
func (m *SimMIM) Notes() []string { return m.backbone.Notes() }

// Features is the pooled last backbone output without masking.
func (m *SimMIM) Features(x *ts.Tensor) (*ts.Tensor, error) { return pooledFeatures(m.backbone, x) }

// TrainStep computes the reconstruction loss for Views[0] and the mask
// in Masks[0].
func (m *SimMIM) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 1 || len(in.Masks) < 1 || in.Masks[0] == nil {
		return nil, fmt.Errorf("SimMIM: want Views [img] and Masks [mask], got %d views and %d masks (does data.train.pipeline end with SimMIMMaskGenerator?)", len(in.Views), len(in.Masks))
	}
	s := NewScope()
	defer s.Close()
	img, mask := in.Views[0], in.Masks[0]
	feats, err := m.backbone.ForwardMasked(img, mask, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(feats)
	rec, err := m.neck.Forward(feats[:1], true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(rec)
	n := mask.MustSize()[0]
	g := m.backbone.patchGrid(img)
	m3 := s.Track(mask.MustReshape([]int64{n, g[0], g[1]}, false))
	return m.head.Loss(img, rec[0], m3)
}
