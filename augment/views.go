package augment

import (
	"fmt"
	"slices"
	"strings"
)

// ViewSet is what a dataset returns for one sample.
type ViewSet struct {
	// Views holds one tensor per view: MultiViewDataset's crops in
	// pipeline order, RotationPred's four rotations, RelativeLoc's eight
	// 6-channel patch pairs, or the single view.
	Views []Tensor
	// Seconds holds CAE's second-size image per view (nil otherwise).
	Seconds []*Tensor
	// Masks holds the SimMIM/BEiT mask per view (nil otherwise).
	Masks []*Mask
	// Labels: RotationPred [0 1 2 3], RelativeLoc [0 … 7], DeepCluster the
	// sample's current pseudo-label; nil otherwise.
	Labels []int
}

// ViewMaker turns one input into its views. Make draws view v's randomness
// from NewRNG(seed, epoch, index, v) only, so it is safe for concurrent use
// and gives the same views whichever goroutine calls it.
type ViewMaker interface {
	Make(in Input, seed, epoch uint64, index int) (ViewSet, error)
	// NumViews is len(ViewSet.Views).
	NumViews() int
}

// BuildViews builds the view maker of a dataset config as MMSelfSup writes
// it (data.train): type MultiViewDataset (num_views, pipelines),
// SingleViewDataset (pipeline), RotationPredDataset (pipeline),
// RelativeLocDataset (pipeline, format_pipeline) or DeepClusterDataset
// (pipeline). data_source is the data layer's and is ignored here.
func BuildViews(cfg map[string]any) (ViewMaker, error) {
	typ, _ := cfg["type"].(string)
	if typ == "" {
		return nil, fmt.Errorf(`dataset: missing "type"`)
	}
	known := map[string][]string{
		"MultiViewDataset":    {"num_views", "pipelines"},
		"SingleViewDataset":   {"pipeline"},
		"RotationPredDataset": {"pipeline"},
		"DeepClusterDataset":  {"pipeline"},
		"RelativeLocDataset":  {"pipeline", "format_pipeline"},
	}
	keys, ok := known[typ]
	if !ok {
		names := make([]string, 0, len(known))
		for k := range known {
			names = append(names, k)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("dataset: unknown type %q (have: %s)", typ, strings.Join(names, ", "))
	}
	for k, v := range cfg {
		switch {
		case k == "type" || k == "data_source" || slices.Contains(keys, k):
		case k == "prefetch":
			if b, _ := v.(bool); b {
				return nil, fmt.Errorf("%s: prefetch=true is not supported (normalisation always runs in augment)", typ)
			}
		default:
			return nil, fmt.Errorf("%s: unknown key %q", typ, k)
		}
	}
	vm, err := buildViews(typ, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", typ, err)
	}
	return vm, nil
}

func buildViews(typ string, cfg map[string]any) (ViewMaker, error) {
	if typ == "MultiViewDataset" {
		return buildMultiView(cfg)
	}
	p, err := pipelineKey(cfg, "pipeline")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "SingleViewDataset":
		if !p.HasToTensor() {
			return nil, fmt.Errorf("pipeline: has no ToTensor")
		}
		return &SingleView{Pipeline: p}, nil
	case "RotationPredDataset":
		if !p.HasToTensor() {
			return nil, fmt.Errorf("pipeline: has no ToTensor")
		}
		return &RotationPred{Pipeline: p}, nil
	case "DeepClusterDataset":
		if !p.HasToTensor() {
			return nil, fmt.Errorf("pipeline: has no ToTensor")
		}
		return &DeepCluster{Pipeline: p}, nil
	}
	f, err := pipelineKey(cfg, "format_pipeline")
	if err != nil {
		return nil, err
	}
	return NewRelativeLoc(p, f)
}

// pipelineKey builds the pipeline list under key.
func pipelineKey(cfg map[string]any, key string) (*Pipeline, error) {
	raw, ok := cfg[key]
	if !ok || raw == nil {
		return nil, fmt.Errorf("missing %q", key)
	}
	list, err := toCfgList(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	p, err := BuildPipeline(list)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return p, nil
}

// sharedDecodeMaxPixels bounds the images sharedInput decodes once for
// all views. Below it (ImageNet's typical 500×375 is 0.19 MP) one full
// decode plus Go crops is cheaper than one DecodeCrop per view: a crop's
// decode still entropy-decodes every row above its bottom edge, so each
// costs most of a full decode; above it, DecodeCrop's JPEG shrink-on-load
// wins. Both routes give the same pixels below 4× reduction.
const sharedDecodeMaxPixels = 1 << 20

// sharedInput decodes the bytes once when more than one view will read
// them, unless every pipeline lets the decoder crop and the image is
// large.
func sharedInput(in Input, ps []*Pipeline, views int) (Input, error) {
	if in.Bytes == nil || views < 2 {
		return in, nil
	}
	fast := true
	for _, p := range ps {
		fast = fast && p.fastFirst()
	}
	if fast {
		w, h, err := Probe(in.Bytes)
		if err != nil {
			return in, fmt.Errorf("%s: %w", in.label(), err)
		}
		if int64(w)*int64(h) > sharedDecodeMaxPixels {
			return in, nil
		}
	}
	img, err := Decode(in.Bytes, ps[0].Decode)
	if err != nil {
		return in, fmt.Errorf("%s: %w", in.label(), err)
	}
	return Input{Image: img, Name: in.Name}, nil
}

// SingleView is SingleViewDataset (also MAE, SimMIM, CAE): one view.
type SingleView struct{ Pipeline *Pipeline }

// NumViews implements ViewMaker.
func (*SingleView) NumViews() int { return 1 }

// Make implements ViewMaker.
func (s *SingleView) Make(in Input, seed, epoch uint64, index int) (ViewSet, error) {
	out, err := s.Pipeline.Run(in, NewRNG(seed, epoch, uint64(index), 0))
	if err != nil {
		return ViewSet{}, err
	}
	return singleSet(out), nil
}

func singleSet(out Output) ViewSet {
	vs := ViewSet{Views: []Tensor{out.Tensor}}
	if out.Second != nil {
		vs.Seconds = []*Tensor{out.Second}
	}
	if out.Mask != nil {
		vs.Masks = []*Mask{out.Mask}
	}
	return vs
}
