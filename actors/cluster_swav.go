package actors

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/memory"
	"github.com/flowssl/flowssl/model"
)

// swavHook is SwAVHook (core/hooks/swav_hook.py, algorithms.md §12): it
// owns SwAV's feature queue (memory.SwAVQueue). Before each epoch from
// epoch_queue_starts on it creates the zero queue once and hands it to
// the head, resetting use_queue; the head reads and fills it during the
// step. MMSelfSup saves the queue to work_dir/queue{rank}.pth after every
// interval-th epoch and reloads that file in before_run; flowssl keeps it
// in the checkpoint instead (flowssl_state.SwAVHook, through the SwAV
// extension), so a resumed run continues with the queue of the epoch it
// stopped at, and a fresh run in the same work_dir does not pick up a
// stale one. On several nodes each rank holds queue_length/world rows
// (MMSelfSup's per-GPU queue) and the head's Sinkhorn-Knopp runs over all
// ranks (model.DistributedSinkhorn); only rank 0's queue is checkpointed,
// so a resumed multi-node run restarts every rank from rank 0's queue.
type swavHook struct {
	priority int
	cfg      memory.SwAVQueueConfig
	q        *memory.SwAVQueue
	algo     swavQueueUser
}

// swavQueueUser is what the hook needs of the algorithm.
type swavQueueUser interface {
	SetQueue(q *ts.Tensor) error
}

func init() {
	RegisterHook("SwAVHook", buildSwAVHook)
	RegisterExtension("SwAV", buildSwAVExtension)
}

func buildSwAVHook(m map[string]any, priority int) (Hook, error) {
	c := memory.DefaultSwAVQueueConfig()
	for k, v := range m {
		var err error
		switch k {
		case "type", "priority":
		case "batch_size":
			c.BatchSize, err = dcInt(v, 1)
		case "epoch_queue_starts":
			c.EpochQueueStarts, err = dcInt(v, 0)
		case "feat_dim":
			c.FeatDim, err = dcInt(v, 1)
		case "queue_length":
			c.QueueLength, err = dcInt(v, 0)
		case "interval":
			c.Interval, err = dcInt(v, 1)
		case "crops_for_assign":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				err = fmt.Errorf("want a non-empty list of crop indices, got %v", v)
				break
			}
			c.CropsForAssign = c.CropsForAssign[:0:0]
			for _, x := range list {
				i, e := dcInt(x, 0)
				if e != nil {
					err = e
					break
				}
				c.CropsForAssign = append(c.CropsForAssign, i)
			}
		default:
			err = fmt.Errorf("unknown key (known: batch_size, epoch_queue_starts, crops_for_assign, feat_dim, queue_length, interval)")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &swavHook{priority: priority, cfg: c}, nil
}

func (h *swavHook) Name() string  { return "SwAVHook" }
func (h *swavHook) Priority() int { return h.priority }

// attach creates the queue for the run's device (before any checkpoint is
// restored into it).
func (h *swavHook) attach(r *Runner) error {
	if h.q != nil {
		return nil
	}
	algo, ok := r.Algorithm.(swavQueueUser)
	if !ok {
		return fmt.Errorf("SwAVHook: model type %s has no SwAV queue", r.Algorithm.Type())
	}
	if r.BatchSize > 0 && r.BatchSize != h.cfg.BatchSize {
		return fmt.Errorf("SwAVHook.batch_size %d: the training batch is %d (data.samples_per_gpu)", h.cfg.BatchSize, r.BatchSize)
	}
	dev := r.Device
	if dev.Name == "" {
		dev = gotch.CPU
	}
	q, err := memory.NewSwAVQueue(h.cfg, dev)
	if err != nil {
		return fmt.Errorf("SwAVHook: %w", err)
	}
	h.q, h.algo = q, algo
	return nil
}

// BeforeRun checks that the hook is attached to a SwAV model.
func (h *swavHook) BeforeRun(s *RunState) error { return h.attach(s.Runner) }

// BeforeTrainEpoch creates the queue once epoch_queue_starts is reached
// and hands it (or nil) to the head with use_queue reset.
func (h *swavHook) BeforeTrainEpoch(s *RunState) error {
	if err := h.attach(s.Runner); err != nil {
		return err
	}
	t, err := h.q.BeforeEpoch(s.Epoch)
	if err != nil {
		return err
	}
	return h.algo.SetQueue(t)
}

// AfterRun frees the queue.
func (h *swavHook) AfterRun(*RunState) error {
	if h.q != nil && h.algo != nil {
		if err := h.algo.SetQueue(nil); err != nil {
			return err
		}
		h.q.Close()
	}
	return nil
}

// swavExtension saves and restores the hook's queue with the run.
type swavExtension struct{ h *swavHook }

func buildSwAVExtension(env *ExtensionEnv) (Extension, error) {
	for _, h := range env.Runner.hooks {
		if sh, ok := h.(*swavHook); ok {
			if multiRank(env.Setup.Dist) && sh.q == nil {
				// SwAVHook: queue_length rounded down to batch·world, and
				// each rank holds queue_length/world rows.
				sh.cfg.WorldSize = env.Setup.Dist.World()
			}
			if err := env.Runner.Pinned.Do(func() error { return sh.attach(env.Runner) }); err != nil {
				return nil, err
			}
			return &swavExtension{sh}, nil
		}
	}
	return nil, nil // no SwAVHook: no queue, as in MMSelfSup
}

func (e *swavExtension) Name() string { return "SwAVHook" }

// SaveState stores the queue (when it exists) under "queue".
func (e *swavExtension) SaveState() (*checkpoint.Dict, error) {
	d := checkpoint.NewDict()
	st, err := e.h.q.State()
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, t := range st {
			t.MustDrop()
		}
	}()
	if t, ok := st["queue"]; ok {
		c, err := model.ToCheckpointTensor(t)
		if err != nil {
			return nil, err
		}
		d.Set("queue", c)
	}
	return d, nil
}

// LoadState restores the queue; the next epoch hands it to the head.
func (e *swavExtension) LoadState(d *checkpoint.Dict) error {
	if _, ok := d.Get("queue"); !ok {
		return nil // saved before epoch_queue_starts
	}
	c, err := d.Tensor("queue")
	if err != nil {
		return err
	}
	t, err := model.FromCheckpointTensor(c)
	if err != nil {
		return err
	}
	defer t.MustDrop()
	return e.h.q.LoadState(map[string]*ts.Tensor{"queue": t})
}
