package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/flowssl/flowssl/data"
)

// Options configures one training run of the dataflow
// Loader → Augment pool → Batcher → Trainer.
type Options struct {
	Source    data.Source
	Augmenter Augmenter
	Stepper   Stepper
	Sampler   Sampler
	Workers   int // augment workers
	Prefetch  int // batches demanded ahead of the trainer
	SkipBad   bool

	// Where to start (resume): the first batch stepped is global iteration
	// StartIter, which is batch StartIter - StartEpoch*ItersPerEpoch of
	// epoch StartEpoch.
	StartEpoch, StartIter int
	MaxEpochs             int // EpochBasedRunner; 0 with MaxIters > 0
	MaxIters              int // IterBasedRunner

	// Checkpoint configures the Checkpointer; nil writes no checkpoints.
	Checkpoint *CheckpointConfig

	Metrics *Metrics     // nil: a private registry
	Logger  *slog.Logger // protoactor's own log lines; nil: discarded
	// OnSkip is called (from a worker) for each sample skipped as a bad image.
	OnSkip func(err error)
	// Extensions that are Spawners get their actors started before the
	// first batch and stopped after the trainer.
	Extensions []Extension
}

func (o *Options) validate() error {
	if err := o.Sampler.Validate(); err != nil {
		return err
	}
	switch {
	case o.Source == nil || o.Augmenter == nil || o.Stepper == nil:
		return errors.New("actors: Source, Augmenter and Stepper are required")
	case o.Workers < 1:
		return fmt.Errorf("actors: %d workers", o.Workers)
	case o.Prefetch < 1:
		return fmt.Errorf("actors: prefetch %d must be at least 1", o.Prefetch)
	case o.MaxEpochs <= 0 && o.MaxIters <= 0:
		return errors.New("actors: neither max_epochs nor max_iters is set")
	}
	return nil
}

// Run trains until the last epoch or iteration, an error, or ctx is done.
// On cancellation the Loader stops handing out work, the step in progress
// finishes, and Run returns ctx's error; the caller checkpoints from the
// stepper's state, which is consistent between steps.
func Run(ctx context.Context, o Options) error {
	if err := o.validate(); err != nil {
		return err
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sysOpts := []actor.ConfigOption{actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger })}
	if ot := o.Metrics.otelBridge(); ot != nil {
		sysOpts = append(sysOpts, actor.WithMetricProviders(ot.MeterProvider()))
	}
	sys := actor.NewActorSystem(sysOpts...)
	defer sys.Shutdown()

	var once sync.Once
	doneCh := make(chan error, 1)
	finish := func(err error) { once.Do(func() { doneCh <- err }) }
	guard := func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			defer func() {
				if r := recover(); r != nil {
					finish(fmt.Errorf("actor %s panicked: %v\n%s", c.Self().Id, r, debug.Stack()))
				}
			}()
			next(c, env)
		}
	}
	props := func(st *Stage, p actor.Producer) *actor.Props {
		opts := append([]actor.PropsOption{actor.WithReceiverMiddleware(guard)}, st.Props()...)
		return actor.PropsFromProducer(p, opts...)
	}

	ipe := o.Sampler.ItersPerEpoch()
	startIterInEpoch := o.StartIter - o.StartEpoch*ipe
	if startIterInEpoch < 0 || startIterInEpoch >= ipe {
		return fmt.Errorf("actors: resume at iter %d is not in epoch %d (%d iters per epoch)", o.StartIter, o.StartEpoch, ipe)
	}
	maxEpochs := o.MaxEpochs
	if o.MaxIters > 0 {
		maxEpochs = 0
	}

	ls, as, bs, ts := o.Metrics.Stage("loader", 1), o.Metrics.Stage("augment", o.Workers), o.Metrics.Stage("batcher", 1), o.Metrics.Stage("trainer", 1)
	root := sys.Root
	ld := &loader{src: o.Source, sampler: o.Sampler, maxEpochs: maxEpochs, stage: ls, fail: finish,
		epoch: o.StartEpoch, pos: startIterInEpoch * o.Sampler.BatchSize}
	loaderPID := root.Spawn(props(ls, func() actor.Actor { return ld }))
	bt := &batcher{loader: loaderPID, sampler: o.Sampler, prefetch: o.Prefetch, maxEpochs: maxEpochs, stage: bs, fail: finish,
		epoch: o.StartEpoch, iter: startIterInEpoch, next: startIterInEpoch * o.Sampler.BatchSize, global: o.StartIter}
	batcherPID := root.Spawn(props(bs, func() actor.Actor { return bt }))
	ld.batcher = batcherPID
	aug := o.Augmenter
	if o.OnSkip != nil {
		aug = skipReporter{aug, o.OnSkip}
	}
	var workers []*actor.PID
	for i := 0; i < o.Workers; i++ {
		w := &worker{loader: loaderPID, batcher: batcherPID, aug: aug, skipBad: o.SkipBad}
		workers = append(workers, root.Spawn(props(as, func() actor.Actor { return w })))
	}
	var ckptPID *actor.PID
	var cp *checkpointer
	if o.Checkpoint != nil {
		cs := o.Metrics.Stage("checkpointer", 1)
		cp = &checkpointer{cfg: *o.Checkpoint, fail: finish}
		ckptPID = root.Spawn(props(cs, func() actor.Actor { return cp }))
	}
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	for _, e := range o.Extensions {
		sp, ok := e.(Spawner)
		if !ok {
			continue
		}
		stop, err := sp.Spawn(root, props, finish)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name(), err)
		}
		if stop != nil {
			stops = append(stops, stop)
		}
	}
	tr := &trainer{batcher: batcherPID, loader: loaderPID, step: o.Stepper, maxIters: o.MaxIters, maxEpoch: o.MaxEpochs, stage: ts, done: finish, ckpt: ckptPID}
	trainerPID := root.Spawn(props(ts, func() actor.Actor { return tr }))

	var err error
	select {
	case err = <-doneCh:
	case <-ctx.Done():
		root.Send(loaderPID, &stopLoading{})
		// The trainer finishes the step it is in; stopping it waits for that.
		_ = root.StopFuture(trainerPID).Wait()
		err = ctx.Err()
	}
	for _, p := range append(workers, trainerPID, batcherPID, loaderPID) {
		root.Stop(p)
	}
	if ckptPID != nil {
		// Poison is queued behind pending saves: wait for them to land.
		_ = root.PoisonFuture(ckptPID).Wait()
		if cp.err != nil && err == nil {
			err = cp.err
		}
	}
	return err
}

// skipReporter calls report for every failed sample; the worker turns the
// failure into a skip or an error according to the policy.
type skipReporter struct {
	Augmenter
	report func(error)
}

func (s skipReporter) Augment(x data.Sample, epoch int) ([]View, []int64, error) {
	v, l, err := s.Augmenter.Augment(x, epoch)
	if err != nil {
		s.report(fmt.Errorf("sample %d (%s): %w", x.Index, x.Name, err))
	}
	return v, l, err
}
