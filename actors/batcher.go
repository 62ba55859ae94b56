package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
)

type pos struct{ epoch, pos int }

// batcher restores the sampler's order (the pool finishes out of order),
// stacks views into batches and sends a batch only against the Trainer's
// credit. It keeps at most prefetch batches' worth of samples demanded
// from the Loader and not yet handed to the Trainer.
type batcher struct {
	loader    *actor.PID
	sampler   Sampler
	prefetch  int
	maxEpochs int
	stage     *Stage
	fail      func(error)

	trainer  *actor.PID
	credits  int
	held     int // samples demanded but not yet delivered in a batch
	pending  map[pos]*Views
	cur      []*Views
	epoch    int
	iter     int // batch index within the epoch
	next     int // next position to append
	global   int
	ready    []*Batch
	finished bool
}

func (b *batcher) capacity() int { return b.prefetch * b.sampler.BatchSize }

func (b *batcher) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		b.pending = map[pos]*Views{}
		b.held = b.capacity()
		ctx.Send(b.loader, &Demand{N: b.held})
	case *Views:
		if m.Err != nil && !m.Skipped {
			b.fail(m.Err)
			return
		}
		b.pending[pos{m.Epoch, m.Pos}] = m
		if err := b.assemble(); err != nil {
			b.fail(err)
			return
		}
		b.deliver(ctx)
	case *Credit:
		b.trainer = ctx.Sender()
		b.credits += m.N
		b.deliver(ctx)
	}
	b.stage.SetDepth(int64(len(b.ready)))
}

// assemble moves in-order views into the current batch and closes batches.
func (b *batcher) assemble() error {
	per := b.sampler.Len()
	for !b.finished {
		v, ok := b.pending[pos{b.epoch, b.next}]
		if !ok {
			return nil
		}
		delete(b.pending, pos{b.epoch, b.next})
		b.cur = append(b.cur, v)
		b.next++
		end := min((b.iter+1)*b.sampler.BatchSize, per)
		if b.next < end {
			continue
		}
		batch, err := stack(b.cur)
		if err != nil {
			return fmt.Errorf("epoch %d iter %d: %w", b.epoch, b.iter, err)
		}
		batch.Epoch, batch.Iter, batch.GlobalIter = b.epoch, b.iter, b.global
		batch.LastInEpoch = b.next >= per
		b.ready = append(b.ready, batch)
		b.cur = nil
		b.global++
		b.iter++
		if batch.LastInEpoch {
			b.epoch++
			b.iter, b.next = 0, 0
			if b.maxEpochs > 0 && b.epoch >= b.maxEpochs {
				b.finished = true
			}
		}
	}
	return nil
}

func (b *batcher) deliver(ctx actor.Context) {
	for b.credits > 0 && len(b.ready) > 0 && b.trainer != nil {
		batch := b.ready[0]
		b.ready = b.ready[1:]
		b.credits--
		ctx.Send(b.trainer, batch)
		b.held -= len(batch.Indices) + batch.Skipped
		if need := b.capacity() - b.held; need > 0 {
			b.held += need
			ctx.Send(b.loader, &Demand{N: need})
		}
	}
}

// stack concatenates the views of one batch position by position.
func stack(vs []*Views) (*Batch, error) {
	out := &Batch{}
	for _, v := range vs {
		if v.Skipped {
			out.Skipped++
			continue
		}
		if len(out.Indices) == 0 {
			out.Views = make([]BatchView, len(v.Views))
			for i, x := range v.Views {
				out.Views[i] = BatchView{C: x.C, H: x.H, W: x.W, Data: make([]float32, 0, len(vs)*x.C*x.H*x.W)}
			}
			if v.ViewLabels != nil {
				out.ViewLabels = make([][]int64, len(v.ViewLabels))
			}
		}
		if len(v.Views) != len(out.Views) {
			return nil, fmt.Errorf("sample %d has %d views, batch has %d", v.Index, len(v.Views), len(out.Views))
		}
		for i, x := range v.Views {
			bv := &out.Views[i]
			if x.C != bv.C || x.H != bv.H || x.W != bv.W {
				return nil, fmt.Errorf("sample %d view %d is %dx%dx%d, batch has %dx%dx%d", v.Index, i, x.C, x.H, x.W, bv.C, bv.H, bv.W)
			}
			bv.Data = append(bv.Data, x.Data...)
			bv.N++
		}
		if err := stackExtras(out, v); err != nil {
			return nil, err
		}
		for i, l := range v.ViewLabels {
			if i < len(out.ViewLabels) {
				out.ViewLabels[i] = append(out.ViewLabels[i], l)
			}
		}
		out.Indices = append(out.Indices, v.Index)
		out.Labels = append(out.Labels, v.Label)
	}
	if len(out.Indices) == 0 {
		return nil, fmt.Errorf("every sample of the batch was skipped as a bad image")
	}
	return out, nil
}
