package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MAE is "Masked Autoencoders Are Scalable Vision Learners" (He et al.,
// 2021), as MMSelfSup 0.9.0's mmselfsup/models/algorithms/mae.py
// (algorithms.md §15): the MAEViT encoder sees the kept 1−mask_ratio of
// the patches, the MAEPretrainDecoder predicts every patch's pixels, and
// MAEPretrainHead takes the (norm-pix) MSE over the removed patches.
// Keys backbone.*, neck.*, head (no parameters).
//
// When model.neck omits num_patches it is taken from the backbone, as
// MMSelfSup's MAE sets neck.num_patches (its decoder builds the position
// table from that value).
type MAE struct {
	backbone *MAEViT
	neck     *MAEPretrainDecoder
	head     *MAEPretrainHead
}

func init() { RegisterAlgorithm("MAE", buildMAE) }

func buildMAE(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head"); err != nil {
		return nil, err
	}
	bc, err := subConfig(cfg, "backbone", true)
	if err != nil {
		return nil, err
	}
	nc, err := subConfig(cfg, "neck", true)
	if err != nil {
		return nil, err
	}
	hc, err := subConfig(cfg, "head", true)
	if err != nil {
		return nil, err
	}
	root := vs.Root()
	b, err := BuildBackbone(root.Sub("backbone"), bc)
	if err != nil {
		return nil, err
	}
	m := &MAE{}
	var ok bool
	if m.backbone, ok = b.(*MAEViT); !ok {
		return nil, fmt.Errorf("model.backbone: MAE needs an MAEViT, got %v", bc["type"])
	}
	if _, has := nc["num_patches"]; !has {
		nc = withKey(nc, "num_patches", int(m.backbone.NumPatches()))
	}
	n, err := BuildNeck(root.Sub("neck"), nc)
	if err != nil {
		return nil, err
	}
	if m.neck, ok = n.(*MAEPretrainDecoder); !ok {
		return nil, fmt.Errorf("model.neck: MAE needs an MAEPretrainDecoder, got %v", nc["type"])
	}
	if m.neck.numPatches != m.backbone.NumPatches() {
		return nil, fmt.Errorf("model.neck.num_patches: %d, but the backbone has %d patches", m.neck.numPatches, m.backbone.NumPatches())
	}
	if m.neck.in != m.backbone.dim {
		return nil, fmt.Errorf("model.neck.embed_dim: %d, but the backbone's embed_dims is %d", m.neck.in, m.backbone.dim)
	}
	h, err := BuildHead(root.Sub("head"), hc)
	if err != nil {
		return nil, err
	}
	if m.head, ok = h.(*MAEPretrainHead); !ok {
		return nil, fmt.Errorf("model.head: MAE needs an MAEPretrainHead, got %s", h.HeadType())
	}
	return m, nil
}

// withKey returns a copy of m with k set to v.
func withKey(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// Type names the algorithm.
func (m *MAE) Type() string { return "MAE" }

// Features is the encoder's cls token over all patches (no masking).
func (m *MAE) Features(x *ts.Tensor) (*ts.Tensor, error) { return m.backbone.Features(x) }

// TrainStep computes the reconstruction loss of Views[0].
func (m *MAE) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 1 {
		return nil, fmt.Errorf("MAE: %d views, want 1", len(in.Views))
	}
	s := NewScope()
	defer s.Close()
	img := in.Views[0]
	enc, err := m.backbone.Forward(img, true) // latent, mask, ids_restore
	if err != nil {
		return nil, err
	}
	s.TrackAll(enc)
	pred, err := m.neck.Forward([]*ts.Tensor{enc[0], enc[2]}, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(pred)
	return m.head.Loss(img, pred[0], enc[1])
}
