package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// DeepCluster is "Deep Clustering for Unsupervised Learning of Visual
// Features" (Caron et al., 2018), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/deepcluster.py (algorithms.md §6): an
// optional frozen Sobel layer (keys sobel_layer.sobel.*), a backbone, a
// neck (AvgPool2dNeck) and a ClsHead trained with cross-entropy on
// pseudo-labels.
//
// The pseudo-labels are a table indexed by dataset index that
// DeepClusterHook installs after each clustering (SetPseudoLabels);
// TrainStep looks each sample's label up by StepInput.Indices at step
// time, so a batch prepared before a clustering still trains on the labels
// in force when it is stepped. The dataset's own labels are never used.
type DeepCluster struct {
	sobel      *sobel // nil without with_sobel
	backbone   Backbone
	neck       Neck // nil: the head sees the last backbone output
	head       *ClsHead
	numClasses int

	labels  []int64    // index → cluster; nil before the first clustering
	weights *ts.Tensor // class weights of the re-weighted loss, owned; nil: plain CE
	sink    FeatureSink
}

// FeatureSink receives the detached neck output of every training step
// (N×dim float32, row i is sample indices[i]); DeepCluster's asynchronous
// clustering gathers its features this way instead of a separate pass.
// It runs on the step's thread and must not keep feats' backing array
// beyond the call unless it copies it.
type FeatureSink func(indices []int, feats []float32, dim int)

func init() { RegisterAlgorithm("DeepCluster", buildDeepCluster) }

func buildDeepCluster(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "with_sobel"); err != nil {
		return nil, err
	}
	withSobel := true // MMSelfSup's class default
	if v, ok := cfg["with_sobel"]; ok && v != nil {
		b, isBool := v.(bool)
		if !isBool {
			return nil, fmt.Errorf("model.with_sobel: want a bool, got %v", v)
		}
		withSobel = b
	}
	m := &DeepCluster{}
	root := vs.Root()
	if withSobel {
		var err error
		if m.sobel, err = newSobel(root.Sub("sobel_layer").Sub("sobel")); err != nil {
			return nil, err
		}
	}
	var neck Neck
	var neckPtr *Neck
	if cfg["neck"] != nil {
		neckPtr = &neck
	}
	b, h, err := buildBackboneAndClassifier(root, cfg, "DeepCluster", neckPtr)
	if err != nil {
		return nil, err
	}
	ch, ok := h.(*ClsHead)
	if !ok {
		return nil, fmt.Errorf("model.head: DeepCluster needs a ClsHead, got %s", h.HeadType())
	}
	if r, ok := b.(*ResNet); ok && withSobel && r.cfg.InChannels != 2 {
		// MMSelfSup's non-Sobel config hits this (algorithms.md §6 caveat).
		return nil, fmt.Errorf("model.backbone.in_channels: %d, but with_sobel feeds the backbone 2 channels (set in_channels: 2 or with_sobel: false)", r.cfg.InChannels)
	}
	m.backbone, m.neck, m.head, m.numClasses = b, neck, ch, ch.cfg.NumClasses
	return m, nil
}

// Type names the algorithm.
func (m *DeepCluster) Type() string { return "DeepCluster" }

// NumClasses is the head's number of classes (the clustering's k must not
// exceed it).
func (m *DeepCluster) NumClasses() int { return m.numClasses }

// SetPseudoLabels installs the label table (dataset index → cluster); it
// is kept, not copied. Every label must be in [0, num_classes).
func (m *DeepCluster) SetPseudoLabels(labels []int64) error {
	for i, l := range labels {
		if l < 0 || l >= int64(m.numClasses) {
			return fmt.Errorf("DeepCluster: pseudo-label %d of sample %d outside the head's %d classes", l, i, m.numClasses)
		}
	}
	m.labels = labels
	return nil
}

// PseudoLabels returns the installed table (nil before the first clustering).
func (m *DeepCluster) PseudoLabels() []int64 { return m.labels }

// SetClassWeights makes the loss a class-weighted CE (set_reweight): w has
// num_classes entries; nil restores the plain CE.
func (m *DeepCluster) SetClassWeights(w []float32) error {
	if m.weights != nil {
		m.weights.MustDrop()
		m.weights = nil
	}
	m.head.SetClassWeights(nil)
	if w == nil {
		return nil
	}
	if len(w) != m.numClasses {
		return fmt.Errorf("DeepCluster: %d class weights for %d classes", len(w), m.numClasses)
	}
	t, err := ts.NewTensorFromData(w, []int64{int64(len(w))})
	if err != nil {
		return err
	}
	if dev := m.head.fc.w.MustDevice(); dev != gotch.CPU {
		d, err := t.To(dev, true)
		if err != nil {
			return err
		}
		t = d
	}
	m.weights = t
	m.head.SetClassWeights(t)
	return nil
}

// ResetHead re-draws the classifier from its init_cfg (N(0, 0.01²), bias
// 0), as DeepClusterHook does after each clustering.
func (m *DeepCluster) ResetHead() error { return m.head.ResetParameters() }

// SetFeatureSink makes every TrainStep hand its detached neck output to f
// (nil: none).
func (m *DeepCluster) SetFeatureSink(f FeatureSink) { m.sink = f }

// encode runs Sobel, backbone and neck; the result (N×C, flattened) is
// owned by the caller.
func (m *DeepCluster) encode(s *Scope, x *ts.Tensor, train bool) (*ts.Tensor, error) {
	if m.sobel != nil {
		g, err := m.sobel.forward(x)
		if err != nil {
			return nil, err
		}
		x = s.Track(g)
	}
	feats, err := m.backbone.Forward(x, train)
	if err != nil {
		return nil, err
	}
	s.TrackAll(feats)
	last := feats[len(feats)-1:]
	if m.neck != nil {
		if last, err = m.neck.Forward(last, train); err != nil {
			return nil, err
		}
		s.TrackAll(last)
	}
	return last[0].Flatten(1, -1, false)
}

// TrainStep is forward_train(img, pseudo_label): CE (re-weighted once
// SetClassWeights was called) of the head's scores against each sample's
// current pseudo-label, plus "acc".
func (m *DeepCluster) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 1 {
		return nil, fmt.Errorf("DeepCluster: %d views, want 1 (a DeepClusterDataset)", len(in.Views))
	}
	if m.labels == nil {
		return nil, fmt.Errorf("DeepCluster: no pseudo-labels yet (a DeepClusterHook with initial: true must be in custom_hooks)")
	}
	d, err := imageDims("DeepCluster view 0", in.Views[0])
	if err != nil {
		return nil, err
	}
	if int64(len(in.Indices)) != d[0] {
		return nil, fmt.Errorf("DeepCluster: %d indices for %d images", len(in.Indices), d[0])
	}
	lab := make([]int64, len(in.Indices))
	for i, idx := range in.Indices {
		if idx < 0 || idx >= len(m.labels) {
			return nil, fmt.Errorf("DeepCluster: sample index %d outside the label table of %d", idx, len(m.labels))
		}
		lab[i] = m.labels[idx]
	}
	s := NewScope()
	defer s.Close()
	labels, err := s.TrackErr(ts.NewTensorFromData(lab, []int64{int64(len(lab))}))
	if err != nil {
		return nil, err
	}
	if dev := in.Views[0].MustDevice(); dev != gotch.CPU {
		if labels, err = s.TrackErr(labels.To(dev, false)); err != nil {
			return nil, err
		}
	}
	z, err := s.TrackErr(m.encode(s, in.Views[0], true))
	if err != nil {
		return nil, err
	}
	if m.sink != nil {
		if err := m.feed(in.Indices, z); err != nil {
			return nil, err
		}
	}
	scores, err := m.head.Forward([]*ts.Tensor{z}, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(scores)
	return m.head.Loss(scores, labels)
}

// feed copies z (N×C) to the host and hands it to the sink.
func (m *DeepCluster) feed(indices []int, z *ts.Tensor) error {
	dt, err := z.Detach(false)
	if err != nil {
		return err
	}
	defer dt.MustDrop()
	dims, err := dt.Size()
	if err != nil {
		return err
	}
	vals, err := torchx.Float32s(dt) // copies to the host
	if err != nil {
		return fmt.Errorf("DeepCluster features: %w", err)
	}
	m.sink(indices, vals, int(dims[1]))
	return nil
}

// ClusterFeatures is what DeepClusterHook's extractor clusters: the neck
// output of the last backbone stage, flattened (N×2048 for ResNet-50 with
// AvgPool2dNeck), in eval mode without gradient. The caller owns it.
func (m *DeepCluster) ClusterFeatures(x *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := WithoutGrad(func() error {
		s := NewScope()
		defer s.Close()
		var err error
		out, err = m.encode(s, x, false)
		return err
	})
	return out, err
}

// Features is the global-average-pooled last backbone output (after the
// Sobel layer) in eval mode, for kNN.
func (m *DeepCluster) Features(x *ts.Tensor) (*ts.Tensor, error) {
	return sobelPooledFeatures(m.sobel, m.backbone, x)
}
