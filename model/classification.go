package model

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// Classification is MMSelfSup 0.9.0's supervised benchmark model
// (mmselfsup/models/algorithms/classification.py): an optional frozen Sobel
// layer (keys sobel_layer.sobel.{0,1}.*), a backbone (backbone.*) and a
// classifier head (head.*: ClsHead or MultiClsHead). Linear evaluation
// freezes the backbone through its own frozen_stages / norm_eval; this type
// adds nothing to that. MMClsImageClassifierWrapper (mmcls_classifier.go)
// builds this type too, with a neck between backbone and head.
//
// A backbone init_cfg of type Pretrained is loaded when the model is built
// (mmcv's PretrainedInit: non-strict, optional key prefix), which is how
// the benchmark scripts inject self-supervised weights.
//
// # Departures
//
//   - model.train_cfg.augments (batch Mixup/CutMix of the fine-tuning
//     configs, mmcls's Augments) mixes each training batch before the
//     backbone and hands the head soft targets; it needs a head with a
//     soft-target loss (MAEFinetuneHead). See BatchAugments for how the
//     draws are seeded.
//   - A Pretrained checkpoint without a prefix that has "backbone.*" keys
//     (a whole algorithm checkpoint) is read as prefix "backbone."; mmcv
//     would silently load nothing.
type Classification struct {
	sobel      *sobel // nil without with_sobel
	backbone   Backbone
	head       ClassifierHead
	outIndices []int
	notes      []string
	augments   *BatchAugments // nil without train_cfg.augments
	softHead   SoftTargetHead // the head, when augments is set
	neck       Neck           // MMClsImageClassifierWrapper's; nil for Classification
	typ        string         // "" = Classification
}

func init() { RegisterAlgorithm("Classification", buildClassification) }

func buildClassification(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "head", "with_sobel"); err != nil {
		return nil, err
	}
	var augments *BatchAugments
	if tc, ok := cfg["train_cfg"].(map[string]any); ok && tc["augments"] != nil {
		var err error
		if augments, err = ParseBatchAugments(tc["augments"]); err != nil {
			return nil, err
		}
	}
	withSobel := false
	if v, ok := cfg["with_sobel"]; ok && v != nil {
		b, isBool := v.(bool)
		if !isBool {
			return nil, fmt.Errorf("model.with_sobel: want a bool, got %v", v)
		}
		withSobel = b
	}
	m := &Classification{}
	root := vs.Root()
	if withSobel {
		var err error
		if m.sobel, err = newSobel(root.Sub("sobel_layer").Sub("sobel")); err != nil {
			return nil, err
		}
	}
	b, h, err := buildBackboneAndClassifier(root, cfg, "Classification", nil)
	if err != nil {
		return nil, err
	}
	m.backbone, m.head = b, h
	if err := m.setAugments(augments); err != nil {
		return nil, err
	}
	m.outIndices = outIndicesOf(b)
	for _, mod := range []any{b, h} {
		if n, ok := mod.(Noter); ok {
			m.notes = append(m.notes, n.Notes()...)
		}
	}
	if pb, ok := b.(interface{ Pretrained() map[string]any }); ok && pb.Pretrained() != nil {
		note, err := loadPretrainedBackbone(vs, pb.Pretrained())
		if err != nil {
			return nil, fmt.Errorf("model.backbone.init_cfg: %w", err)
		}
		m.notes = append(m.notes, note)
	}
	return m, nil
}

// setAugments installs the batch augments (nil: none) after checking
// that the head takes soft targets over as many classes.
func (m *Classification) setAugments(a *BatchAugments) error {
	if a == nil {
		return nil
	}
	sh, ok := m.head.(SoftTargetHead)
	if st, isST := m.head.(interface{ takesSoftTargets() bool }); !ok || (isST && !st.takesSoftTargets()) {
		return fmt.Errorf("model.train_cfg.augments: head %s has no soft-target loss (have: MAEFinetuneHead, mmcls.LinearClsHead with LabelSmoothLoss or CrossEntropyLoss use_soft)", m.head.HeadType())
	}
	if nc, ok := m.head.(interface{ NumClasses() int }); ok && nc.NumClasses() != a.NumClasses() {
		return fmt.Errorf("model.train_cfg.augments: num_classes %d, but the head has %d", a.NumClasses(), nc.NumClasses())
	}
	m.augments, m.softHead = a, sh
	return nil
}

// outIndicesOf lists the backbone's output stages in output order (the
// ResNet sorts and dedups out_indices); other backbones count 0, 1, ….
func outIndicesOf(b Backbone) []int {
	if r, ok := b.(*ResNet); ok {
		out := make([]int, 0, len(r.outIdx))
		for i := range r.outIdx {
			out = append(out, i)
		}
		sort.Ints(out)
		return out
	}
	out := make([]int, len(b.OutChannels()))
	for i := range out {
		out[i] = i
	}
	return out
}

// Type names the algorithm (Classification or MMClsImageClassifierWrapper).
func (m *Classification) Type() string {
	if m.typ != "" {
		return m.typ
	}
	return "Classification"
}

// Notes reports SyncBN-as-BN and what the Pretrained load did.
func (m *Classification) Notes() []string { return m.notes }

// Backbone returns the backbone (for feature extraction by stage).
func (m *Classification) Backbone() Backbone { return m.backbone }

// HeadNames are MMSelfSup's forward_test keys, "head{i}" for each backbone
// out_index i, in output order (head4 for a ResNet with out_indices [4]).
func (m *Classification) HeadNames() []string {
	out := make([]string, len(m.outIndices))
	for i, idx := range m.outIndices {
		out[i] = "head" + strconv.Itoa(idx)
	}
	return out
}

// extract runs the Sobel layer (if any), the backbone and the neck (if
// any); x is borrowed.
func (m *Classification) extract(x *ts.Tensor, train bool) ([]*ts.Tensor, error) {
	if m.sobel != nil {
		g, err := m.sobel.forward(x)
		if err != nil {
			return nil, err
		}
		defer g.MustDrop()
		x = g
	}
	feats, err := m.backbone.Forward(x, train)
	if err != nil || m.neck == nil {
		return feats, err
	}
	defer dropTensors(feats)
	return m.neck.Forward(feats, train)
}

// TrainStep is forward_train: the head's losses on one labelled view
// ("loss"/"acc" for ClsHead, "loss.k"/"acc.k" for MultiClsHead). With
// batch augments the view and labels are mixed first and the head's
// soft-target loss is used.
func (m *Classification) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 1 {
		return nil, fmt.Errorf("Classification: %d views, want 1 (a SingleViewDataset)", len(in.Views))
	}
	if in.Labels == nil {
		return nil, fmt.Errorf("Classification: the batch has no labels")
	}
	s := NewScope()
	defer s.Close()
	x := in.Views[0]
	var target *ts.Tensor
	if m.augments != nil {
		xm, y, _, err := m.augments.Apply(x, in.Labels)
		if err != nil {
			return nil, err
		}
		x, target = s.Track(xm), s.Track(y)
	}
	feats, err := m.extract(x, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(feats)
	scores, err := m.head.Forward(feats, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(scores)
	if target != nil {
		return m.softHead.SoftLoss(scores, target)
	}
	return m.head.Loss(scores, in.Labels)
}

// Features is the global-average-pooled last backbone output in eval mode.
func (m *Classification) Features(x *ts.Tensor) (*ts.Tensor, error) {
	return sobelPooledFeatures(m.sobel, m.backbone, x)
}

// Logits is forward_test: the head's scores (N×num_classes each) in eval
// mode without gradient, one per classifier, named as HeadNames (zip
// semantics: the shorter list decides). The caller owns the tensors.
func (m *Classification) Logits(x *ts.Tensor) (names []string, scores []*ts.Tensor, err error) {
	err = WithoutGrad(func() error {
		feats, err := m.extract(x, false)
		if err != nil {
			return err
		}
		defer func() {
			for _, f := range feats {
				f.MustDrop()
			}
		}()
		scores, err = m.head.Forward(feats, false)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	names = m.HeadNames()
	n := min(len(names), len(scores))
	for _, t := range scores[n:] {
		t.MustDrop()
	}
	return names[:n], scores[:n], nil
}
