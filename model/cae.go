package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// CAE is "Context Autoencoder for Self-Supervised Representation
// Learning" (Chen et al., 2022), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/cae.py (algorithms.md §17): the CAEViT
// backbone encodes the visible patches, a teacher CAEViT (a frozen copy,
// keys teacher.*) encodes the masked ones without gradient, CAENeck
// regresses the masked patches' latents from the visible ones and decodes
// them to DALL-E token logits, and CAEHead takes CE against the DALL-E
// tokenizer's ids plus lambd·MSE between predicted and teacher latents.
// The teacher then becomes base_momentum·teacher + (1−base_momentum)·
// backbone inside the step (0.0: a copy of the backbone before this
// step's optimizer update). Keys backbone.*, teacher.*, neck.*,
// head.encoder.*.
//
// # Input
//
// StepInput.Views[0] is the 224-px crop in [0, 1] (no Normalize: CAE
// normalises with ImageNet's mean and std itself), Seconds[0] the
// tokenizer's image of the same crop in [0, 1] (mapped to 0.8·x + 0.1) and
// Masks[0] the BEiTMaskGenerator mask at the patch grid, exactly
// neck.mask_tokens_num ones per sample — RandomResizedCropAndInterpolation
// WithTwoPic → ToTensor → BEiTMaskGenerator make all three.
//
// model.target_generator {type: DALL-E, init_cfg: {type: Pretrained,
// checkpoint: PATH}} (MMSelfSup 1.x's spelling) is accepted as another way
// to give head.tokenizer_path.
type CAE struct {
	backbone, teacher *CAEViT
	neck              *CAENeck
	head              *CAEHead
	pairs             [][2]*ts.Tensor
	momentum          float64
}

func init() { RegisterAlgorithm("CAE", buildCAE) }

func buildCAE(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "base_momentum", "target_generator"); err != nil {
		return nil, err
	}
	m := &CAE{}
	var err error
	if m.momentum, err = floatKey(cfg, "base_momentum", 0); err != nil {
		return nil, err
	}
	if err := checkMomentum("base_momentum", m.momentum); err != nil {
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
	if hc, err = withTargetGenerator(cfg, hc); err != nil {
		return nil, err
	}
	root := vs.Root()
	for _, x := range []struct {
		dst  **CAEViT
		name string
	}{{&m.backbone, "backbone"}, {&m.teacher, "teacher"}} {
		b, err := BuildBackbone(root.Sub(x.name), bc)
		if err != nil {
			return nil, err
		}
		var ok bool
		if *x.dst, ok = b.(*CAEViT); !ok {
			return nil, fmt.Errorf("model.backbone: CAE needs a CAEViT, got %v", bc["type"])
		}
	}
	n, err := BuildNeck(root.Sub("neck"), nc)
	if err != nil {
		return nil, err
	}
	var ok bool
	if m.neck, ok = n.(*CAENeck); !ok {
		return nil, fmt.Errorf("model.neck: CAE needs a CAENeck, got %v", nc["type"])
	}
	if m.neck.dim != m.backbone.dim {
		return nil, fmt.Errorf("model.neck.embed_dims: %d, but the backbone's embed_dims is %d", m.neck.dim, m.backbone.dim)
	}
	if k := int64(m.neck.cfg.MaskTokensNum); k >= m.backbone.NumPatches() {
		return nil, fmt.Errorf("model.neck.mask_tokens_num: %d masked of the backbone's %d patches leaves none visible", k, m.backbone.NumPatches())
	}
	h, err := BuildHead(root.Sub("head"), hc)
	if err != nil {
		return nil, err
	}
	if m.head, ok = h.(*CAEHead); !ok {
		return nil, fmt.Errorf("model.head: CAE needs a CAEHead, got %s", h.HeadType())
	}
	if int64(m.neck.cfg.NumClasses) != m.head.VocabSize() {
		return nil, fmt.Errorf("model.neck.num_classes: %d, but the tokenizer has %d ids", m.neck.cfg.NumClasses, m.head.VocabSize())
	}
	// init_weights copies the initialised backbone into the teacher.
	if m.pairs, err = copyTarget(vs, "backbone", "teacher"); err != nil {
		return nil, fmt.Errorf("CAE: %w", err)
	}
	return m, nil
}

// withTargetGenerator folds model.target_generator into the head config.
func withTargetGenerator(cfg, hc map[string]any) (map[string]any, error) {
	tg, err := subConfig(cfg, "target_generator", false)
	if err != nil || tg == nil {
		return hc, err
	}
	if t, _ := tg["type"].(string); t != "DALL-E" && t != "DALLE" {
		return nil, fmt.Errorf("model.target_generator.type: %v, want DALL-E", tg["type"])
	}
	ic, ok := tg["init_cfg"].(map[string]any)
	path, _ := ic["checkpoint"].(string)
	if !ok || path == "" {
		return nil, fmt.Errorf("model.target_generator.init_cfg.checkpoint: missing; give the DALL-E encoder weights (%s)", dalleEncoderURL)
	}
	return withKey(hc, "tokenizer_path", path), nil
}

// Type names the algorithm.
func (m *CAE) Type() string { return "CAE" }

// Notes says where the tokenizer came from.
func (m *CAE) Notes() []string { return m.head.Notes() }

// Features is the backbone's cls token over every patch (no masking),
// in eval mode and without gradient: N×D. The input is normalised as
// the training step normalises its crops.
func (m *CAE) Features(x *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := WithoutGrad(func() error {
		y, err := m.backbone.ForwardMasked(x, nil, false)
		if err != nil {
			return err
		}
		out, err = y.Select(1, 0, true)
		return err
	})
	return out, err
}

// imagenetNorm normalises N×3×H×W images in [0, 1] with ImageNet's mean
// and std (torchvision Normalize, as CAE's img_norm).
func imagenetNorm(s *Scope, x *ts.Tensor) (*ts.Tensor, error) {
	dims := x.MustSize()
	if len(dims) != 4 || dims[1] != 3 {
		return nil, fmt.Errorf("image batch %v, want N×3×H×W", dims)
	}
	mean := s.Track(ts.MustOfSlice([]float32{0.485, 0.456, 0.406}).MustView([]int64{1, 3, 1, 1}, true).MustTo(x.MustDevice(), true))
	std := s.Track(ts.MustOfSlice([]float32{0.229, 0.224, 0.225}).MustView([]int64{1, 3, 1, 1}, true).MustTo(x.MustDevice(), true))
	return s.Track(s.Track(x.MustSub(mean, false)).MustDiv(std, false)), nil
}

// TrainStep computes CAE's losses for Views[0], Seconds[0] and Masks[0].
func (m *CAE) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 1 || len(in.Seconds) < 1 || in.Seconds[0] == nil || len(in.Masks) < 1 || in.Masks[0] == nil {
		return nil, fmt.Errorf("CAE: want Views [img], Seconds [tokenizer image] and Masks [mask], got %d, %d and %d "+
			"(data.train.pipeline needs RandomResizedCropAndInterpolationWithTwoPic, ToTensor and BEiTMaskGenerator)",
			len(in.Views), len(in.Seconds), len(in.Masks))
	}
	s := NewScope()
	defer s.Close()
	img, err := imagenetNorm(s, in.Views[0])
	if err != nil {
		return nil, fmt.Errorf("CAE: %w", err)
	}
	imgT := s.Track(addScalar(s.Track(mulScalar(in.Seconds[0], 0.8, false)), 0.1, false))
	n := img.MustSize()[0]
	md, err := in.Masks[0].Size()
	if err != nil {
		return nil, err
	}
	if len(md) < 2 || md[0] != n {
		return nil, fmt.Errorf("CAE: mask %v for %d images", md, n)
	}
	masked := s.Track(in.Masks[0].MustFlatten(1, -1, false).MustTotype(gotch.Bool, true)) // N×L
	if l := masked.MustSize()[1]; l != m.backbone.NumPatches() {
		return nil, fmt.Errorf("CAE: mask of %d patches, the backbone has %d", l, m.backbone.NumPatches())
	}
	visible := s.Track(masked.MustLogicalNot(false))
	unmasked, err := s.TrackErr(m.backbone.ForwardMasked(img, masked, true)) // N×(1+V)×D
	if err != nil {
		return nil, err
	}
	var target *ts.Tensor
	if err := WithoutGrad(func() error {
		t, err := s.TrackErr(m.teacher.ForwardMasked(img, visible, true))
		if err != nil {
			return err
		}
		target = s.Track(t.MustNarrow(1, 1, t.MustSize()[1]-1, false)) // N×K×D
		return emaUpdate(m.pairs, m.momentum)
	}); err != nil {
		return nil, err
	}
	if k := target.MustSize()[1]; k != int64(m.neck.cfg.MaskTokensNum) {
		return nil, fmt.Errorf("CAE: the mask hides %d patches per sample, model.neck.mask_tokens_num is %d", k, m.neck.cfg.MaskTokensNum)
	}
	posM, err := s.TrackErr(m.backbone.PosEmbed(masked))
	if err != nil {
		return nil, err
	}
	posU, err := s.TrackErr(m.backbone.PosEmbed(visible))
	if err != nil {
		return nil, err
	}
	xu := s.Track(unmasked.MustNarrow(1, 1, unmasked.MustSize()[1]-1, false))
	outs, err := m.neck.Forward([]*ts.Tensor{xu, posM, posU}, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(outs)
	logits := s.Track(outs[0].MustFlatten(0, 1, false)) // (N·K)×V
	return m.head.Loss(imgT, logits, outs[1], target, masked)
}
