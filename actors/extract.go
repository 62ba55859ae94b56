package actors

import (
	"context"
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/eval"
	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/flowssl/flowssl/model"
)

// FeatureFunc maps an N×C×H×W batch to N×D features (the caller owns the
// result); it runs on the extractor's pinned thread.
type FeatureFunc func(x *ts.Tensor) (*ts.Tensor, error)

// ExtractOptions configures Extract.
type ExtractOptions struct {
	Source    data.Source
	Augmenter Augmenter
	Features  FeatureFunc
	Pinned    *model.Pinned
	Device    gotch.Device
	BatchSize int
	Workers   int
	Metrics   *Metrics
}

// Extract runs the whole data source once through the dataflow, in index
// order, and returns one feature row per sample with its label
// (MMSelfSup's ExtractProcess).
func Extract(ctx context.Context, o ExtractOptions) (eval.Features, error) {
	var out eval.Features
	if o.Device.Name == "" {
		o.Device = gotch.CPU
	}
	n := o.Source.Len()
	st := &extractor{o: o, rows: make([][]float32, n), labels: make([]int, n)}
	err := Run(ctx, Options{
		Source: o.Source, Augmenter: o.Augmenter, Stepper: st, Workers: max(1, o.Workers), Prefetch: 2,
		Sampler: Sampler{N: n, BatchSize: o.BatchSize, World: 1}, MaxEpochs: 1, Metrics: o.Metrics,
	})
	if err != nil {
		return out, err
	}
	out = eval.Features{N: n, D: st.dim, Labels: st.labels, Data: make([]float32, 0, n*st.dim)}
	for i, r := range st.rows {
		if r == nil {
			return out, fmt.Errorf("extract: sample %d has no features", i)
		}
		out.Data = append(out.Data, r...)
	}
	return out, nil
}

type extractor struct {
	o      ExtractOptions
	rows   [][]float32
	labels []int
	dim    int
}

func (e *extractor) Step(b *Batch) error {
	if len(b.Views) != 1 {
		return fmt.Errorf("extract: %d views per sample, want 1 (a SingleViewDataset)", len(b.Views))
	}
	v := b.Views[0]
	return e.o.Pinned.Do(func() error {
		x, err := torchx.FromFloat32s(v.Data, int64(v.N), int64(v.C), int64(v.H), int64(v.W))
		if err != nil {
			return err
		}
		defer x.MustDrop()
		if e.o.Device != gotch.CPU {
			d, err := x.To(e.o.Device, false)
			if err != nil {
				return err
			}
			defer d.MustDrop()
			x = d
		}
		f, err := e.o.Features(x)
		if err != nil {
			return err
		}
		dims, err := f.Size()
		if err != nil {
			f.MustDrop()
			return err
		}
		if len(dims) != 2 || int(dims[0]) != v.N {
			f.MustDrop()
			return fmt.Errorf("extract: features of shape %v for %d images", dims, v.N)
		}
		c, err := f.To(gotch.CPU, true)
		if err != nil {
			return err
		}
		vals, err := torchx.Float32s(c)
		c.MustDrop()
		if err != nil {
			return err
		}
		d := int(dims[1])
		e.dim = d
		for i, idx := range b.Indices {
			row := vals[i*d : (i+1)*d : (i+1)*d]
			e.rows[idx] = row
			e.labels[idx] = b.Labels[i]
		}
		return nil
	})
}

func (e *extractor) EpochEnd(int) error { return nil }
