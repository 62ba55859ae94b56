package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/flowssl/flowssl/data"
)

// loader walks the sampler's order epoch after epoch and hands one sample
// at a time to an idle worker, but only as far as the Batcher's demand
// reaches: it never pushes work nobody asked for.
type loader struct {
	src       data.Source
	sampler   Sampler
	maxEpochs int // 0: endless (IterBasedRunner stops by iterations)
	batcher   *actor.PID
	stage     *Stage

	epoch, pos int
	order      []int
	demand     int
	idle       []*actor.PID
	stopped    bool
}

func (l *loader) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		l.order = l.sampler.Order(l.epoch)
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

func (l *loader) dispatch(ctx actor.Context) {
	for l.demand > 0 && len(l.idle) > 0 && !l.stopped {
		if l.pos >= len(l.order) {
			if l.maxEpochs > 0 && l.epoch+1 >= l.maxEpochs {
				l.stopped = true
				return
			}
			l.epoch++
			l.pos = 0
			l.order = l.sampler.Order(l.epoch)
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
