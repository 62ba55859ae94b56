package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Stepper is the training step and its epoch-level hooks. Step runs the
// forward, backward and update for one batch on the stepper's own pinned
// OS thread and returns when the update is done.
type Stepper interface {
	Step(b *Batch) error
	EpochEnd(epoch int) error
}

// trainer pulls batches with credits: one batch in the step, at most one
// more waiting in its mailbox.
type trainer struct {
	batcher  *actor.PID
	loader   *actor.PID
	step     Stepper
	maxIters int // 0: stop by epochs
	maxEpoch int
	stage    *Stage
	done     func(error)
	ckpt     *actor.PID // nil: checkpoints are not written

	idleSince time.Time
	finished  bool
}

func (t *trainer) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		t.idleSince = time.Now()
		ctx.Request(t.batcher, &Credit{N: 2})
	case *Batch:
		if t.finished {
			return
		}
		t.stage.AddWait(time.Since(t.idleSince))
		if err := t.step.Step(m); err != nil {
			t.finish(ctx, err)
			return
		}
		t.save(ctx, fmt.Sprintf("iter_%d.pth", m.GlobalIter+1))
		last := (t.maxIters > 0 && m.GlobalIter+1 >= t.maxIters) ||
			(t.maxIters == 0 && m.LastInEpoch && m.Epoch+1 >= t.maxEpoch)
		if m.LastInEpoch {
			if err := t.step.EpochEnd(m.Epoch); err != nil {
				t.finish(ctx, err)
				return
			}
			t.save(ctx, fmt.Sprintf("epoch_%d.pth", m.Epoch+1))
		}
		if last {
			t.finish(ctx, nil)
			return
		}
		t.idleSince = time.Now()
		ctx.Request(t.batcher, &Credit{N: 1})
	}
}

// save hands a checkpoint the stepper prepared to the Checkpointer.
func (t *trainer) save(ctx actor.Context, name string) {
	s, ok := t.step.(Snapshotter)
	if !ok {
		return
	}
	if ck := s.TakeSnapshot(); ck != nil && t.ckpt != nil {
		ctx.Send(t.ckpt, &Save{Name: name, Ckpt: ck})
	}
}

func (t *trainer) finish(ctx actor.Context, err error) {
	t.finished = true
	ctx.Send(t.loader, &stopLoading{})
	t.done(err)
}
