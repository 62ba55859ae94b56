package augment

import "fmt"

// MultiView is MultiViewDataset: pipeline k applied Counts[k] times, each
// an independent draw on the same image (SwAV: [2, 6] with a 224 and a 96
// pipeline; MoCo, SimCLR: [2]; BYOL: [1, 1]).
type MultiView struct {
	Pipelines []*Pipeline
	Counts    []int
	order     []*Pipeline // pipeline of each view
}

// NewMultiView checks and expands the view list.
func NewMultiView(pipelines []*Pipeline, counts []int) (*MultiView, error) {
	if len(pipelines) == 0 || len(pipelines) != len(counts) {
		return nil, fmt.Errorf("num_views has %d entries and pipelines %d", len(counts), len(pipelines))
	}
	m := &MultiView{Pipelines: pipelines, Counts: counts}
	for k, n := range counts {
		if n < 0 {
			return nil, fmt.Errorf("num_views[%d] is %d", k, n)
		}
		if !pipelines[k].HasToTensor() {
			return nil, fmt.Errorf("pipelines[%d]: has no ToTensor", k)
		}
		for range n {
			m.order = append(m.order, pipelines[k])
		}
	}
	if len(m.order) == 0 {
		return nil, fmt.Errorf("num_views %v gives no views", counts)
	}
	return m, nil
}

func buildMultiView(cfg map[string]any) (*MultiView, error) {
	p := newParams(cfg)
	nv := p.floats("num_views", 0, nil)
	if err := p.err; err != nil {
		return nil, err
	}
	if nv == nil {
		return nil, fmt.Errorf(`missing "num_views"`)
	}
	raw, ok := cfg["pipelines"]
	if !ok {
		return nil, fmt.Errorf(`missing "pipelines"`)
	}
	lists, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("pipelines: want a list of pipelines, got %s", describe(raw))
	}
	counts := make([]int, len(nv))
	for i, f := range nv {
		counts[i] = int(f)
		if float64(counts[i]) != f {
			return nil, fmt.Errorf("num_views[%d]: want an integer, got %g", i, f)
		}
	}
	ps := make([]*Pipeline, len(lists))
	for k, l := range lists {
		cfgs, err := toCfgList(l)
		if err != nil {
			return nil, fmt.Errorf("pipelines[%d]: %w", k, err)
		}
		if ps[k], err = BuildPipeline(cfgs); err != nil {
			return nil, fmt.Errorf("pipelines[%d]: %w", k, err)
		}
	}
	return NewMultiView(ps, counts)
}

// NumViews implements ViewMaker.
func (m *MultiView) NumViews() int { return len(m.order) }

// Make implements ViewMaker.
func (m *MultiView) Make(in Input, seed, epoch uint64, index int) (ViewSet, error) {
	shared, err := sharedInput(in, m.Pipelines, len(m.order))
	if err != nil {
		return ViewSet{}, err
	}
	if shared.Image != in.Image {
		// Decoded here; pipelines copy what they keep.
		defer releaseImage(shared.Image)
	}
	in = shared
	vs := ViewSet{Views: make([]Tensor, len(m.order))}
	for v, p := range m.order {
		out, err := p.Run(in, NewRNG(seed, epoch, uint64(index), uint64(v)))
		if err != nil {
			return ViewSet{}, fmt.Errorf("view %d: %w", v, err)
		}
		vs.Views[v] = out.Tensor
		if out.Second != nil {
			if vs.Seconds == nil {
				vs.Seconds = make([]*Tensor, len(m.order))
			}
			vs.Seconds[v] = out.Second
		}
		if out.Mask != nil {
			if vs.Masks == nil {
				vs.Masks = make([]*Mask, len(m.order))
			}
			vs.Masks[v] = out.Mask
		}
	}
	return vs, nil
}
