package actors

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/flowssl/flowssl/model"
)

// Runner is the Trainer's step: it owns the model, the optimizer, the LR
// schedule and the hooks, and runs them in mmcv's order (algorithms.md
// §0.6) on its own pinned OS thread. It implements Stepper and
// Snapshotter.
type Runner struct {
	Pinned    *model.Pinned
	VS        *nn.VarStore
	Algorithm model.Algorithm
	Optimizer model.Optimizer
	LR        model.LRSchedule // nil: fixed LR
	Device    gotch.Device

	ItersPerEpoch, MaxEpochs, MaxIters int
	// UpdateInterval accumulates gradients over that many batches
	// (optimizer_config.update_interval); 0 or 1: step every batch.
	UpdateInterval int
	ClipMaxNorm    float64 // optimizer_config.grad_clip.max_norm; 0: none
	ClipNormType   float64 // default 2
	// FrozenLayers is optimizer_config.frozen_layers_cfg: parameters whose
	// name contains a key get no update while the iteration is below its
	// value (SwAV's prototypes).
	FrozenLayers map[string]int

	Seed int64
	// CheckpointInterval saves every that many epochs (by epoch) or
	// iterations (CheckpointByIter); 0: only at the end.
	CheckpointInterval int
	CheckpointByIter   bool
	Meta               func(epoch, iter int) *checkpoint.Dict

	Log         zerolog.Logger
	LogInterval int
	Metrics     *Metrics
	BatchSize   int
	// Extensions are the algorithm's machinery beside the step; their
	// state goes into checkpoints.
	Extensions []Extension
	// AllReduce, when set (multi-node runs), averages the parameters'
	// gradients over the ranks between backward and the optimizer step.
	AllReduce func(params []model.Param) error
	// SyncBN, when set (multi-node runs with SyncBN layers), runs the
	// backward with SyncBN's cross-rank gradient terms.
	SyncBN *model.SyncBNGroup
	// AMP is the mixed precision set by ConfigureAMP (zero: fp32).
	AMP AMP

	hooks     Hooks
	state     RunState
	started   bool
	epochOpen bool
	losses    *model.Losses
	lastBatch *Batch
	pending   *checkpoint.Checkpoint
	timing    runTiming
}

type runTiming struct {
	start, lastLog, lastStepEnd time.Time
	dataTime, stepTime          time.Duration
	images, steps               int
	snaps                       []Snapshot
}

// AddHook registers a hook (custom_hooks and the algorithm's own).
func (r *Runner) AddHook(h Hook) { r.hooks.Add(h) }

// State is the run state hooks see.
func (r *Runner) State() *RunState { return &r.state }

// Losses are the current step's losses; valid inside AfterTrainIter hooks.
func (r *Runner) Losses() *model.Losses { return r.losses }

// Init registers the built-in hooks; call once before the run.
func (r *Runner) Init() {
	if r.UpdateInterval < 1 {
		r.UpdateInterval = 1
	}
	if r.ClipNormType == 0 {
		r.ClipNormType = 2
	}
	if r.LogInterval < 1 {
		r.LogInterval = 50
	}
	r.state = RunState{MaxEpochs: r.MaxEpochs, MaxIters: r.MaxIters, ItersPerEpoch: r.ItersPerEpoch, Runner: r}
	if r.MaxIters == 0 {
		r.state.MaxIters = r.MaxEpochs * r.ItersPerEpoch
	}
	r.hooks.Add(&lrHook{r})
	r.hooks.Add(&optimizerHook{r})
	r.hooks.Add(&checkpointHook{r})
	r.hooks.Add(&loggerHook{r})
}

// Step implements Stepper.
func (r *Runner) Step(b *Batch) error {
	now := time.Now()
	if !r.timing.lastStepEnd.IsZero() {
		r.timing.dataTime += now.Sub(r.timing.lastStepEnd)
	} else {
		r.timing.start, r.timing.lastLog = now, now
	}
	err := r.Pinned.Do(func() error { return r.step(b) })
	r.timing.lastStepEnd = time.Now()
	r.timing.stepTime += r.timing.lastStepEnd.Sub(now)
	r.timing.images += len(b.Indices)
	r.timing.steps++
	return err
}

func (r *Runner) step(b *Batch) error {
	st := &r.state
	st.Epoch, st.Iter, st.InnerIter = b.Epoch, b.GlobalIter, b.Iter
	r.lastBatch = b
	if !r.started {
		r.started = true
		if err := r.hooks.each("before_run", func(h Hook) (bool, error) {
			x, ok := h.(BeforeRunHook)
			if ok {
				return true, x.BeforeRun(st)
			}
			return false, nil
		}); err != nil {
			return err
		}
	}
	if b.Iter == 0 || !r.epochOpen {
		r.epochOpen = true
		if err := r.hooks.each("before_train_epoch", func(h Hook) (bool, error) {
			x, ok := h.(BeforeTrainEpochHook)
			if ok {
				return true, x.BeforeTrainEpoch(st)
			}
			return false, nil
		}); err != nil {
			return err
		}
	}
	// libtorch's RNG (dropout, MoCo's shuffle) is re-seeded from (seed,
	// iteration) so a resumed run draws what the uninterrupted one did.
	model.ManualSeed(r.Seed*1_000_003 + int64(b.GlobalIter))
	if err := r.hooks.each("before_train_iter", func(h Hook) (bool, error) {
		x, ok := h.(BeforeTrainIterHook)
		if ok {
			return true, x.BeforeTrainIter(st)
		}
		return false, nil
	}); err != nil {
		return err
	}
	in, drop, err := r.inputs(b)
	if err != nil {
		return err
	}
	defer drop()
	losses, err := r.trainStep(in)
	if err != nil {
		return fmt.Errorf("epoch %d iter %d: %w", b.Epoch, b.GlobalIter, err)
	}
	r.losses = losses
	defer func() { losses.Drop(); r.losses = nil }()
	st.Losses = losses.Values()
	for name, v := range st.Losses {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("epoch %d iter %d: %s is %v", b.Epoch, b.GlobalIter, name, v)
		}
	}
	return r.hooks.each("after_train_iter", func(h Hook) (bool, error) {
		x, ok := h.(AfterTrainIterHook)
		if ok {
			return true, x.AfterTrainIter(st)
		}
		return false, nil
	})
}

// inputs copies the batch into tensors on the device.
func (r *Runner) inputs(b *Batch) (*model.StepInput, func(), error) {
	var owned []*ts.Tensor
	drop := func() {
		for _, t := range owned {
			t.MustDrop()
		}
	}
	put := func(t *ts.Tensor, err error) (*ts.Tensor, error) {
		if err != nil {
			return nil, err
		}
		owned = append(owned, t)
		if r.Device != gotch.CPU || r.AMP.ChannelsLast {
			d, err := r.toDevice(t)
			if err != nil {
				return nil, err
			}
			owned = append(owned, d)
			return d, nil
		}
		return t, nil
	}
	in := &model.StepInput{Indices: b.Indices, Iter: b.GlobalIter, MaxIters: r.state.MaxIters}
	for i, v := range b.Views {
		t, err := put(torchx.FromFloat32s(v.Data, int64(v.N), int64(v.C), int64(v.H), int64(v.W)))
		if err != nil {
			drop()
			return nil, nil, fmt.Errorf("view %d: %w", i, err)
		}
		in.Views = append(in.Views, t)
	}
	for i, l := range b.ViewLabels {
		t, err := put(torchx.FromInt64s(l, int64(len(l))))
		if err != nil {
			drop()
			return nil, nil, fmt.Errorf("view labels %d: %w", i, err)
		}
		in.ViewLabels = append(in.ViewLabels, t)
	}
	for i, m := range b.Masks {
		if m.N == 0 { // this view position carries no mask
			in.Masks = append(in.Masks, nil)
			continue
		}
		t, err := put(torchx.FromUint8s(m.Data, int64(m.N), int64(m.H), int64(m.W)))
		if err != nil {
			drop()
			return nil, nil, fmt.Errorf("masks %d: %w", i, err)
		}
		in.Masks = append(in.Masks, t)
	}
	for i, v := range b.Seconds {
		if v.N == 0 {
			in.Seconds = append(in.Seconds, nil)
			continue
		}
		t, err := put(torchx.FromFloat32s(v.Data, int64(v.N), int64(v.C), int64(v.H), int64(v.W)))
		if err != nil {
			drop()
			return nil, nil, fmt.Errorf("second images %d: %w", i, err)
		}
		in.Seconds = append(in.Seconds, t)
	}
	labels := make([]int64, len(b.Labels))
	for i, l := range b.Labels {
		labels[i] = int64(l)
	}
	t, err := put(torchx.FromInt64s(labels, int64(len(labels))))
	if err != nil {
		drop()
		return nil, nil, err
	}
	in.Labels = t
	return in, drop, nil
}

// EpochEnd implements Stepper.
func (r *Runner) EpochEnd(epoch int) error {
	return r.Pinned.Do(func() error {
		return r.hooks.each("after_train_epoch", func(h Hook) (bool, error) {
			x, ok := h.(AfterTrainEpochHook)
			if ok {
				return true, x.AfterTrainEpoch(&r.state)
			}
			return false, nil
		})
	})
}

// Finish runs the after_run hooks.
func (r *Runner) Finish() error {
	return r.Pinned.Do(func() error {
		return r.hooks.each("after_run", func(h Hook) (bool, error) {
			x, ok := h.(AfterRunHook)
			if ok {
				return true, x.AfterRun(&r.state)
			}
			return false, nil
		})
	})
}

// TakeSnapshot returns (and clears) the checkpoint the checkpoint hook
// prepared at the last epoch or iteration end, if any.
func (r *Runner) TakeSnapshot() *checkpoint.Checkpoint {
	c := r.pending
	r.pending = nil
	return c
}

// snapshot copies model and optimizer state into a checkpoint (on the
// pinned thread; writing it is the Checkpointer's job). meta epoch is the
// number of finished epochs and iter the number of finished iterations,
// as mmcv writes them.
func (r *Runner) snapshot(epoch, iter int) (*checkpoint.Checkpoint, error) {
	sd, err := model.StateDictToCheckpoint(model.StateDict(r.VS))
	if err != nil {
		return nil, fmt.Errorf("checkpoint state_dict: %w", err)
	}
	ck := &checkpoint.Checkpoint{StateDict: sd}
	if r.Optimizer != nil {
		os, err := r.Optimizer.State()
		if err != nil {
			return nil, err
		}
		v, err := toCheckpoint(os)
		model.DropState(os)
		if err != nil {
			return nil, fmt.Errorf("checkpoint optimizer: %w", err)
		}
		ck.Optimizer = v
	}
	meta := checkpoint.NewDict()
	if r.Meta != nil {
		meta = r.Meta(epoch, iter)
	}
	meta.Set("epoch", int64(epoch))
	meta.Set("iter", int64(iter))
	meta.Set("seed", r.Seed)
	meta.Set("time", time.Now().Format(time.RFC3339))
	ck.Meta = meta
	if err := saveExtensions(r.Extensions, ck); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return ck, nil
}

// Restore loads a checkpoint written by snapshot (or any MMSelfSup
// checkpoint with the same keys): weights strictly, optimizer state if
// present. It returns the meta epoch and iter.
func (r *Runner) Restore(ck *checkpoint.Checkpoint) (epoch, iter int, err error) {
	err = r.Pinned.Do(func() error {
		named, err := model.NamedFromCheckpoint(ck.StateDict)
		if err != nil {
			return err
		}
		defer model.DropNamed(named)
		if _, _, err := model.LoadStateDict(r.VS, named, true); err != nil {
			return err
		}
		if ck.Optimizer != nil && r.Optimizer != nil {
			v, err := fromCheckpoint(ck.Optimizer)
			if err != nil {
				return err
			}
			m, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("optimizer state is %T, want a dict", v)
			}
			defer model.DropState(m)
			if err := r.Optimizer.LoadState(m); err != nil {
				return fmt.Errorf("optimizer state: %w", err)
			}
		}
		if err := r.restoreAMP(ck.Meta); err != nil {
			return err
		}
		return loadExtensions(r.Extensions, ck)
	})
	if err != nil {
		return 0, 0, err
	}
	if ck.Meta != nil {
		if v, ok := ck.Meta.Get("epoch"); ok {
			epoch = toInt(v)
		}
		if v, ok := ck.Meta.Get("iter"); ok {
			iter = toInt(v)
		}
	}
	return epoch, iter, nil
}

func toInt(v any) int {
	switch x := v.(type) {
	case int64:
		return int(x)
	case int:
		return x
	case float64:
		return int(x)
	}
	return 0
}

// lrHook sets each group's LR before the iteration (mmcv LrUpdaterHook,
// VERY_HIGH).
type lrHook struct{ r *Runner }

func (h *lrHook) Name() string  { return "LrUpdaterHook" }
func (h *lrHook) Priority() int { return PriorityVeryHigh }
func (h *lrHook) BeforeTrainIter(s *RunState) error {
	if h.r.LR != nil && h.r.Optimizer != nil {
		model.SetLR(h.r.Optimizer.Groups(), h.r.LR, s.Epoch, s.Iter)
	}
	return nil
}

// optimizerHook is mmcv's OptimizerHook / GradientCumulativeOptimizerHook:
// backward of the total loss (divided by the accumulation count), then
// every UpdateInterval iterations clip, step and zero the gradients.
type optimizerHook struct{ r *Runner }

func (h *optimizerHook) Name() string  { return "OptimizerHook" }
func (h *optimizerHook) Priority() int { return PriorityAboveNormal }
func (h *optimizerHook) AfterTrainIter(s *RunState) error {
	r := h.r
	total, err := r.losses.Total()
	if err != nil {
		return err
	}
	defer total.MustDrop()
	if div := accumulationDivisor(r.UpdateInterval, s.Iter, s.MaxIters); div > 1 {
		k := ts.FloatScalar(1 / float64(div))
		scaled, err := total.MulScalar(k, false)
		k.MustDrop()
		if err != nil {
			return err
		}
		defer scaled.MustDrop()
		total = scaled
	}
	if err := r.scaledBackward(total); err != nil {
		return fmt.Errorf("backward: %w", err)
	}
	if (s.Iter+1)%r.UpdateInterval != 0 && s.Iter+1 != s.MaxIters {
		return nil
	}
	if r.AllReduce != nil {
		if err := r.AllReduce(r.Optimizer.Params()); err != nil {
			return fmt.Errorf("iter %d: gradient all-reduce: %w", s.Iter, err)
		}
	}
	frozen := frozenAt(r.FrozenLayers, s.Iter)
	r.Optimizer.SetFrozen(frozen)
	if r.ClipMaxNorm > 0 || r.AMP.Scaler != nil {
		params := r.Optimizer.Params()
		if frozen != nil {
			// Their gradients are None in MMSelfSup when it clips.
			var live []model.Param
			for _, p := range params {
				if !frozen(p.Name) {
					live = append(live, p)
				}
			}
			params = live
		}
		if err := r.unscaleGrads(params); err != nil {
			return err
		}
		if r.ClipMaxNorm > 0 {
			norm, err := model.ClipGradNorm(params, r.ClipMaxNorm, r.ClipNormType)
			if err != nil {
				return err
			}
			s.Losses["grad_norm"] = norm
		}
	}
	if err := r.optimizerStep(s); err != nil {
		return err
	}
	return r.Optimizer.ZeroGrad()
}

// accumulationDivisor is what DistOptimizerHook divides iteration iter's
// loss by: the update interval, except in the tail of a run whose length
// is not a multiple of it, where the last update averages only the
// remaining iterations.
func accumulationDivisor(interval, iter, maxIters int) int {
	if interval <= 1 {
		return 1
	}
	divisible := maxIters / interval * interval
	if maxIters > 0 && iter >= divisible {
		return max(1, maxIters-divisible)
	}
	return interval
}

// frozenAt returns the frozen_layers_cfg predicate for iteration iter, or
// nil when nothing is frozen any more.
func frozenAt(cfg map[string]int, iter int) func(string) bool {
	var subs []string
	for sub, n := range cfg {
		if iter < n {
			subs = append(subs, sub)
		}
	}
	if len(subs) == 0 {
		return nil
	}
	return func(name string) bool {
		for _, sub := range subs {
			if strings.Contains(name, sub) {
				return true
			}
		}
		return false
	}
}

// checkpointHook prepares a snapshot every CheckpointInterval epochs (or
// iterations); the trainer hands it to the Checkpointer.
type checkpointHook struct{ r *Runner }

func (h *checkpointHook) Name() string  { return "CheckpointHook" }
func (h *checkpointHook) Priority() int { return PriorityNormal }
func (h *checkpointHook) AfterTrainEpoch(s *RunState) error {
	r := h.r
	last := s.Iter+1 >= s.MaxIters // mmcv's save_last
	if r.CheckpointByIter || !(last || (r.CheckpointInterval > 0 && (s.Epoch+1)%r.CheckpointInterval == 0)) {
		return nil
	}
	ck, err := r.snapshot(s.Epoch+1, s.Iter+1)
	r.pending = ck
	return err
}
func (h *checkpointHook) AfterTrainIter(s *RunState) error {
	r := h.r
	last := s.Iter+1 >= s.MaxIters
	if !r.CheckpointByIter || !(last || (r.CheckpointInterval > 0 && (s.Iter+1)%r.CheckpointInterval == 0)) {
		return nil
	}
	ck, err := r.snapshot(s.Epoch, s.Iter+1)
	r.pending = ck
	return err
}

// loggerHook writes the periodic training line (mmcv TextLoggerHook,
// VERY_LOW): epoch/iter, lr, losses, data and step time, images/s, ETA and
// the pipeline's bottleneck.
type loggerHook struct{ r *Runner }

func (h *loggerHook) Name() string  { return "TextLoggerHook" }
func (h *loggerHook) Priority() int { return PriorityVeryLow }
func (h *loggerHook) AfterTrainIter(s *RunState) error {
	r := h.r
	if (s.Iter+1)%r.LogInterval != 0 && s.Iter+1 != s.MaxIters {
		return nil
	}
	t := &r.timing
	now := time.Now()
	el := now.Sub(t.lastLog).Seconds()
	ev := r.Log.Info().Int("epoch", s.Epoch+1).Int("iter", s.Iter+1).Int("max_iters", s.MaxIters)
	if r.Optimizer != nil && len(r.Optimizer.Groups()) > 0 {
		ev = ev.Float64("lr", r.Optimizer.Groups()[0].LR)
	}
	names := make([]string, 0, len(s.Losses))
	for n := range s.Losses {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ev = ev.Float64(n, round(s.Losses[n], 5))
	}
	if t.steps > 0 && el > 0 {
		ev = ev.Float64("data_time", round(t.dataTime.Seconds()/float64(t.steps), 4)).
			Float64("time", round((t.dataTime+t.stepTime).Seconds()/float64(t.steps), 4)).
			Float64("img_s", round(float64(t.images)/el, 1))
		left := s.MaxIters - s.Iter - 1
		eta := time.Duration(float64(left) * (t.dataTime + t.stepTime).Seconds() / float64(t.steps) * float64(time.Second))
		ev = ev.Str("eta", eta.Round(time.Second).String())
	}
	if r.Metrics != nil {
		var cur []Snapshot
		for _, st := range r.Metrics.Stages() {
			cur = append(cur, st.Snapshot())
		}
		if len(t.snaps) == len(cur) {
			ev = ev.Str("bottleneck", Bottleneck(t.snaps, cur))
		}
		t.snaps = cur
	}
	ev.Msg("train")
	t.lastLog = now
	t.dataTime, t.stepTime, t.images, t.steps = 0, 0, 0, 0
	return nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
