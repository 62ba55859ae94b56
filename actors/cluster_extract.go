package actors

import (
	"context"
	"fmt"
	"sync"

	"github.com/sugarme/gotch"

	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/internal/torchx"
)

// inlineExtractor is DeepClusterHook's Extractor: every sample of the
// data source, in index order, through the extract pipeline and the
// model's feature function. Unlike Extract it runs the forward passes on
// the calling goroutine, which is the model's pinned thread: the sync
// clustering runs inside a runner hook, already on that thread, where a
// nested Pinned.Do (what Extract's dataflow does per batch) would
// deadlock. Augmentation is pure Go and runs on Workers goroutines, one
// batch ahead of the forward passes.
type inlineExtractor struct {
	Source    data.Source
	Augmenter Augmenter
	BatchSize int
	Workers   int
	Device    gotch.Device
}

// extractBatch is one batch of augmented samples, or the error that
// stopped its preparation.
type extractBatch struct {
	start, n int
	views    []View
	err      error
}

// Run returns the N×D features (row i = sample i) and D. features maps an
// N×C×H×W batch to N×D (the caller owns the result); epoch seeds the
// pipeline's randomness.
func (e *inlineExtractor) Run(ctx context.Context, epoch int, features FeatureFunc) ([]float32, int, error) {
	return e.RunRange(ctx, epoch, 0, e.Source.Len(), features)
}

// RunRange is Run over samples [lo, hi) only (row i = sample lo+i), in
// batches starting at lo; D is 0 when the range is empty.
func (e *inlineExtractor) RunRange(ctx context.Context, epoch, lo, hi int, features FeatureFunc) ([]float32, int, error) {
	n := hi - lo
	bs, workers := max(1, e.BatchSize), max(1, e.Workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan extractBatch, 1)
	go func() {
		defer close(batches)
		for start := lo; start < hi; start += bs {
			b := e.prepare(start, min(bs, hi-start), epoch, workers)
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil {
				return
			}
		}
	}()
	var out []float32
	dim := 0
	for b := range batches {
		if b.err != nil {
			return nil, 0, b.err
		}
		rows, d, err := e.forward(b, features)
		if err != nil {
			return nil, 0, fmt.Errorf("extract samples %d-%d: %w", b.start, b.start+b.n-1, err)
		}
		if out == nil {
			dim = d
			out = make([]float32, n*d)
		}
		copy(out[(b.start-lo)*dim:], rows)
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	return out, dim, nil
}

// prepare augments samples [start, start+n) on workers goroutines.
func (e *inlineExtractor) prepare(start, n, epoch, workers int) extractBatch {
	b := extractBatch{start: start, n: n, views: make([]View, n)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				idx := start + i
				s, err := e.Source.Get(idx)
				if err != nil {
					errs[i] = fmt.Errorf("sample %d: %w", idx, err)
					continue
				}
				s.Index = idx
				vs, _, err := e.Augmenter.Augment(s, epoch)
				switch {
				case err != nil:
					errs[i] = fmt.Errorf("sample %d (%s): %w", idx, s.Name, err)
				case len(vs) != 1:
					errs[i] = fmt.Errorf("sample %d: %d views, want 1 (the extractor's dataset is single-view)", idx, len(vs))
				default:
					b.views[i] = vs[0]
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.err = err
			break
		}
	}
	return b
}

// forward stacks the batch, runs features and copies the rows to the host.
func (e *inlineExtractor) forward(b extractBatch, features FeatureFunc) ([]float32, int, error) {
	v0 := b.views[0]
	per := v0.C * v0.H * v0.W
	buf := make([]float32, 0, b.n*per)
	for i, v := range b.views {
		if v.C != v0.C || v.H != v0.H || v.W != v0.W {
			return nil, 0, fmt.Errorf("sample %d is %dx%dx%d, sample %d %dx%dx%d", b.start+i, v.C, v.H, v.W, b.start, v0.C, v0.H, v0.W)
		}
		buf = append(buf, v.Data...)
	}
	dev := e.Device
	if dev.Name == "" {
		dev = gotch.CPU
	}
	x, err := torchx.FromFloat32sOn(buf, dev, int64(b.n), int64(v0.C), int64(v0.H), int64(v0.W))
	if err != nil {
		return nil, 0, err
	}
	defer x.MustDrop()
	f, err := features(x)
	if err != nil {
		return nil, 0, err
	}
	defer f.MustDrop()
	dims, err := f.Size()
	if err != nil {
		return nil, 0, err
	}
	if len(dims) != 2 || int(dims[0]) != b.n {
		return nil, 0, fmt.Errorf("features of shape %v for %d images", dims, b.n)
	}
	rows, err := torchx.Float32s(f)
	return rows, int(dims[1]), err
}
