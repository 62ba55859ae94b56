package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/flowssl/flowssl/data"
)

// loader walks the sampler's order epoch after epoch and hands one sample
// at a time to an idle worker, but only as far as the Batcher's demand
// reaches: it never pushes work nobody asked for.
//
// With a Sampler.Plan the order of each epoch comes from the plan: the
// loader asks for it when it reaches the epoch and hands out nothing of
// that epoch until the plan arrives (a goroutine waits on the plan's
// channel and posts it back, so the mailbox keeps serving stopLoading).
type loader struct {
	src       data.Source
	sampler   Sampler
	maxEpochs int // 0: endless (IterBasedRunner stops by iterations)
	batcher   *actor.PID
	stage     *Stage
	fail      func(error) // nil: a plan error panics into the run's guard

	epoch, pos int
	order      []int
	waiting    bool // for the plan of epoch
	quit       chan struct{}
	demand     int
	idle       []*actor.PID
	stopped    bool
}

// planReady carries a plan back into the loader's mailbox.
type planReady struct {
	epoch int
	plan  EpochPlan
}

func (l *loader) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		l.quit = make(chan struct{})
		l.startEpoch(ctx)
	case *actor.Stopping:
		if l.quit != nil {
			close(l.quit)
			l.quit = nil
		}
	case *planReady:
		if m.epoch == l.epoch && l.waiting {
			l.applyPlan(m.plan)
			l.dispatch(ctx)
		}
	case *Demand:
		l.demand += m.N
		l.dispatch(ctx)
	case *Ready:
		l.idle = append(l.idle, ctx.Sender())
		l.dispatch(ctx)
	case *stopLoading:
		l.stopped = true
	}
	l.stage.SetDepth(int64(l.demand))
}

// startEpoch sets the order of l.epoch: the sampler's own, or the plan's
// once it has arrived.
func (l *loader) startEpoch(ctx actor.Context) {
	if l.sampler.Plan == nil {
		l.order = l.sampler.Order(l.epoch)
		return
	}
	ch := l.sampler.Plan(l.epoch)
	select {
	case p := <-ch:
		l.waiting = true
		l.applyPlan(p)
		return
	default:
	}
	l.waiting, l.order = true, nil
	root, self, quit, epoch := ctx.ActorSystem().Root, ctx.Self(), l.quit, l.epoch
	go func() {
		select {
		case p := <-ch:
			root.Send(self, &planReady{epoch: epoch, plan: p})
		case <-quit:
		}
	}()
}

func (l *loader) applyPlan(p EpochPlan) {
	l.waiting = false
	err := p.Err
	if err == nil && p.Indices == nil {
		l.order = l.sampler.Order(l.epoch)
		return
	}
	if err == nil {
		l.order, err = l.sampler.OrderFrom(p.Indices)
	}
	if err != nil {
		l.stopped = true
		err = fmt.Errorf("epoch %d plan: %w", l.epoch, err)
		if l.fail == nil {
			panic(err)
		}
		l.fail(err)
	}
}

func (l *loader) dispatch(ctx actor.Context) {
	for l.demand > 0 && len(l.idle) > 0 && !l.stopped && !l.waiting {
		if l.pos >= len(l.order) {
			if l.maxEpochs > 0 && l.epoch+1 >= l.maxEpochs {
				l.stopped = true
				return
			}
			l.epoch++
			l.pos = 0
			l.startEpoch(ctx)
			if l.waiting || l.stopped {
				return
			}
		}
		idx := l.order[l.pos]
		s, err := l.src.Get(idx)
		s.Index = idx
		w := l.idle[0]
		l.idle = l.idle[1:]
		ctx.Send(w, &Work{Epoch: l.epoch, Pos: l.pos, Sample: s, err: err})
		l.demand--
		l.pos++
	}
}
