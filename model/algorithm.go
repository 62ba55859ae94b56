package model

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// StepInput is one batch as an algorithm sees it. Views[i] is the N×C×H×W
// stack of view position i; the tensors are borrowed (the caller drops them).
type StepInput struct {
	Views      []*ts.Tensor
	ViewLabels []*ts.Tensor // int64 per view position (rotation, relative location); may be nil
	// Masks[i] is view position i's N×h×w uint8 patch mask (1 = masked)
	// from the pipeline's mask generator (SimMIM, CAE), row j belonging
	// to Indices[j]; nil entries or a nil slice when the views carry none.
	Masks []*ts.Tensor
	// Seconds[i] is view position i's N×C×H'×W' second image (CAE's
	// tokenizer input); nil when the pipeline makes none.
	Seconds  []*ts.Tensor
	Labels   *ts.Tensor // int64 dataset labels; may be nil
	Indices  []int      // dataset indices (memory banks)
	Iter     int        // global iteration, 0-based
	MaxIters int
}

// Algorithm is one self-supervised method: its networks live in the
// VarStore it was built in, and TrainStep returns its named losses for one
// batch (MMSelfSup's forward_train). Hooks that act between steps are
// optional interfaces (MomentumTarget).
type Algorithm interface {
	Type() string
	TrainStep(in *StepInput) (*Losses, error)
	// Features returns the backbone's pooled last output (N×D) in eval
	// mode, for kNN and feature extraction. The caller owns it.
	Features(x *ts.Tensor) (*ts.Tensor, error)
}

// AlgorithmBuilder builds an algorithm from the config's `model` dict.
type AlgorithmBuilder func(vs *nn.VarStore, cfg map[string]any) (Algorithm, error)

var algorithms = map[string]AlgorithmBuilder{}

// RegisterAlgorithm adds an algorithm type (called from init).
func RegisterAlgorithm(name string, b AlgorithmBuilder) {
	if _, dup := algorithms[name]; dup {
		panic(fmt.Sprintf("model: algorithm %q registered twice", name))
	}
	algorithms[name] = b
}

// Algorithms lists the registered algorithm types.
func Algorithms() []string {
	out := make([]string, 0, len(algorithms))
	for n := range algorithms {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// BuildAlgorithm builds the algorithm cfg["type"] names in vs.
func BuildAlgorithm(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	name, _ := cfg["type"].(string)
	if name == "" {
		return nil, fmt.Errorf("model.type: missing (have: %s)", strings.Join(Algorithms(), ", "))
	}
	b, ok := algorithms[name]
	if !ok {
		return nil, fmt.Errorf("model.type: %q not registered (have: %s)", name, strings.Join(Algorithms(), ", "))
	}
	return b(vs, cfg)
}

// subConfig returns cfg[key] as a dict, or an error naming model.key.
func subConfig(cfg map[string]any, key string, required bool) (map[string]any, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		if required {
			return nil, fmt.Errorf("model.%s: missing", key)
		}
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("model.%s: want a dict, got %T", key, v)
	}
	return m, nil
}

// checkKeys rejects keys of the model dict the algorithm does not know.
func checkKeys(cfg map[string]any, known ...string) error {
	ok := map[string]bool{"type": true, "init_cfg": true, "train_cfg": true, "test_cfg": true, "data_preprocessor": true}
	for _, k := range known {
		ok[k] = true
	}
	for k := range cfg {
		if !ok[k] {
			return fmt.Errorf("model.%s: unknown key for %v (known: %s)", k, cfg["type"], strings.Join(known, ", "))
		}
	}
	return nil
}

func floatKey(cfg map[string]any, key string, def float64) (float64, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	}
	return 0, fmt.Errorf("model.%s: want a number, got %v", key, v)
}

func intKey(cfg map[string]any, key string, def int) (int, error) {
	v, ok := cfg[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	}
	return 0, fmt.Errorf("model.%s: want an integer, got %v", key, v)
}

// encoder is backbone followed by neck.
type encoder struct {
	backbone Backbone
	neck     Neck
}

// forward runs backbone and neck and returns the neck's first output; the
// intermediates go into s.
func (e encoder) forward(s *Scope, x *ts.Tensor, train bool) (*ts.Tensor, error) {
	feats, err := e.backbone.Forward(x, train)
	if err != nil {
		return nil, err
	}
	s.TrackAll(feats)
	out, err := e.neck.Forward(feats[len(feats)-1:], train)
	if err != nil {
		return nil, err
	}
	s.TrackAll(out)
	return out[0], nil
}

// pooledFeatures is global average pooling of the backbone's last output,
// in eval mode and without gradient: what MMSelfSup's ExtractProcess and
// kNN use.
func pooledFeatures(b Backbone, x *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := WithoutGrad(func() error {
		feats, err := b.Forward(x, false)
		if err != nil {
			return err
		}
		last := feats[len(feats)-1]
		for _, f := range feats[:len(feats)-1] {
			f.MustDrop()
		}
		out, err = last.AdaptiveAvgPool2d([]int64{1, 1}, true)
		if err != nil {
			return err
		}
		out, err = out.Flatten(1, -1, true)
		return err
	})
	return out, err
}

// l2normalize divides each row by its L2 norm plus eps (MMSelfSup's
// SimCLR uses 1e-10 added to the norm; F.normalize clamps at 1e-12).
func l2normalize(s *Scope, x *ts.Tensor, dim int64, eps float64, clamp bool) (*ts.Tensor, error) {
	two := ts.FloatScalar(2)
	defer two.MustDrop()
	n, err := s.TrackErr(x.NormScalaroptDim(two, []int64{dim}, true, false))
	if err != nil {
		return nil, err
	}
	e := ts.FloatScalar(eps)
	defer e.MustDrop()
	if clamp {
		n, err = s.TrackErr(n.ClampMin(e, false))
	} else {
		n, err = s.TrackErr(n.AddScalar(e, false))
	}
	if err != nil {
		return nil, err
	}
	return s.TrackErr(x.Div(n, false))
}

// singleViewIndices checks that in holds one view of a batch with a dataset
// index per sample (what the memory-bank algorithms, NPID and ODC, step on)
// and returns the indices as int64. dataset names the MMSelfSup dataset the
// config should use, for the error.
func singleViewIndices(algo, dataset string, in *StepInput) ([]int64, error) {
	if len(in.Views) != 1 {
		return nil, fmt.Errorf("%s: %d views, want 1 (%s)", algo, len(in.Views), dataset)
	}
	dims, err := in.Views[0].Size()
	if err != nil {
		return nil, err
	}
	if len(in.Indices) != int(dims[0]) {
		return nil, fmt.Errorf("%s: %d dataset indices for a batch of %d", algo, len(in.Indices), dims[0])
	}
	idx := make([]int64, len(in.Indices))
	for i, v := range in.Indices {
		idx[i] = int64(v)
	}
	return idx, nil
}

// sobelPooledFeatures is pooledFeatures after the Sobel layer when there
// is one (with_sobel: DeepCluster and its linear benchmarks).
func sobelPooledFeatures(sb *sobel, b Backbone, x *ts.Tensor) (*ts.Tensor, error) {
	if sb == nil {
		return pooledFeatures(b, x)
	}
	var out *ts.Tensor
	err := WithoutGrad(func() error {
		g, err := sb.forward(x)
		if err != nil {
			return err
		}
		defer g.MustDrop()
		out, err = pooledFeatures(b, g)
		return err
	})
	return out, err
}
