package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/flowssl/flowssl/data"
)

// Augmenter turns one sample into its views. It must be a pure function of
// (sample, epoch) with its randomness seeded from (seed, epoch, index,
// view), so that any worker produces the same views for the same sample.
type Augmenter interface {
	Augment(s data.Sample, epoch int) (views []View, viewLabels []int64, err error)
}

// AugmentFunc adapts a function to Augmenter.
type AugmentFunc func(s data.Sample, epoch int) ([]View, []int64, error)

// Augment calls f.
func (f AugmentFunc) Augment(s data.Sample, epoch int) ([]View, []int64, error) { return f(s, epoch) }

// worker is one member of the augment pool. It announces itself idle to
// the Loader, so at most one sample is ever queued at a worker.
type worker struct {
	loader, batcher *actor.PID
	aug             Augmenter
	skipBad         bool
}

func (w *worker) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		ctx.Request(w.loader, &Ready{})
	case *Work:
		v := &Views{Epoch: m.Epoch, Pos: m.Pos, Index: m.Sample.Index, Label: m.Sample.Label}
		err := m.err
		if err == nil {
			v.Views, v.ViewLabels, err = w.aug.Augment(m.Sample, m.Epoch)
		}
		if err != nil {
			v.Err = fmt.Errorf("sample %d (%s): %w", m.Sample.Index, m.Sample.Name, err)
			v.Skipped = w.skipBad
			v.Views, v.ViewLabels = nil, nil
		}
		ctx.Send(w.batcher, v)
		ctx.Request(w.loader, &Ready{})
	}
}
