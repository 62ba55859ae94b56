package memory

import (
	"fmt"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// SwAVQueueConfig is SwAVHook's arguments (core/hooks/swav_hook.py,
// algorithms.md §12).
type SwAVQueueConfig struct {
	BatchSize        int   `yaml:"batch_size"` // per process
	EpochQueueStarts int   `yaml:"epoch_queue_starts"`
	CropsForAssign   []int `yaml:"crops_for_assign"`
	FeatDim          int   `yaml:"feat_dim"`
	QueueLength      int   `yaml:"queue_length"` // 0: no queue
	Interval         int   `yaml:"interval"`     // save every n epochs
	// WorldSize is the number of processes of the run being mimicked
	// (1 here); the hook rounds queue_length to batch·world and each
	// process holds queue_length/world rows.
	WorldSize int `yaml:"-"`
}

// DefaultSwAVQueueConfig is the hook's defaults with the SwAV config's
// values (batch 32, start epoch 15, crops [0, 1], 128-d, length 3840).
func DefaultSwAVQueueConfig() SwAVQueueConfig {
	return SwAVQueueConfig{BatchSize: 32, EpochQueueStarts: 15, CropsForAssign: []int{0, 1},
		FeatDim: 128, QueueLength: 3840, Interval: 1, WorldSize: 1}
}

// Validate checks the sizes.
func (c SwAVQueueConfig) Validate() error {
	if c.BatchSize < 1 || c.FeatDim < 1 || len(c.CropsForAssign) == 0 || c.QueueLength < 0 || c.Interval < 1 || c.WorldSize < 1 {
		return fmt.Errorf("memory: SwAV queue batch_size %d, feat_dim %d, crops_for_assign %v, queue_length %d, interval %d, world %d out of range",
			c.BatchSize, c.FeatDim, c.CropsForAssign, c.QueueLength, c.Interval, c.WorldSize)
	}
	return nil
}

// SwAVQueue holds SwAV's feature queue: len(crops_for_assign) × L ×
// feat_dim, newest embeddings first, zero until filled.
//
// Lifecycle, as the hook: NewSwAVQueue (before_run: rounds the length);
// BeforeEpoch(epoch) creates the zero queue once epoch ≥ epoch_queue_starts
// and resets use_queue; the head then calls Extend and Push for each crop
// used for assignment (or is handed Tensor() to do so itself); ShouldSave
// says when after_train_epoch saves it (State).
type SwAVQueue struct {
	cfg      SwAVQueueConfig
	device   gotch.Device
	length   int // per process, after rounding
	queue    *ts.Tensor
	useQueue bool
}

// NewSwAVQueue applies before_run's rounding: queue_length −= queue_length
// mod (batch·world); each process then holds queue_length/world rows.
func NewSwAVQueue(cfg SwAVQueueConfig, device gotch.Device) (*SwAVQueue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	total := cfg.QueueLength - cfg.QueueLength%(cfg.BatchSize*cfg.WorldSize)
	return &SwAVQueue{cfg: cfg, device: device, length: total / cfg.WorldSize}, nil
}

// Length is the number of rows per crop slot (0: no queue).
func (q *SwAVQueue) Length() int { return q.length }

// Tensor is the queue (borrowed, nil before it exists).
func (q *SwAVQueue) Tensor() *ts.Tensor { return q.queue }

// UseQueue reports whether the queue already takes part in assignments.
func (q *SwAVQueue) UseQueue() bool { return q.useQueue }

// BeforeEpoch is before_train_epoch: from epoch_queue_starts on (0-based
// epochs), create the zero queue if there is none (a restored queue is used
// from the start, as the hook loads queue.pth in before_run), then reset
// use_queue. It returns the queue (borrowed) or nil.
func (q *SwAVQueue) BeforeEpoch(epoch int) (*ts.Tensor, error) {
	if q.length > 0 && epoch >= q.cfg.EpochQueueStarts && q.queue == nil {
		t, err := ts.Zeros([]int64{int64(len(q.cfg.CropsForAssign)), int64(q.length), int64(q.cfg.FeatDim)}, gotch.Float, q.device)
		if err != nil {
			return nil, fmt.Errorf("memory: SwAV queue: %w", err)
		}
		q.queue = t
	}
	q.useQueue = false
	return q.queue, nil
}

// ShouldSave is after_train_epoch's test: a queue exists and (epoch+1) is a
// multiple of interval.
func (q *SwAVQueue) ShouldSave(epoch int) bool {
	return q.queue != nil && (epoch+1)%q.cfg.Interval == 0
}

// Extend is the head's read of slot i for the scores out (B×K) of crop
// crops_for_assign[i]: once use_queue is set, or as soon as the slot's last
// row is non-zero (the queue has filled), it returns cat(queue[i]·Wᵀ, out)
// ((L+B)×K, W the K×feat_dim prototypes); otherwise a copy of out. Runs
// without gradient; the caller owns the result.
func (q *SwAVQueue) Extend(i int, out, prototypes *ts.Tensor) (*ts.Tensor, error) {
	var res *ts.Tensor
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			if q.queue == nil {
				res = s.Keep(s.T(torchx.Clone(out)))
				return nil
			}
			slot, err := q.slot(s, i)
			if err != nil {
				return err
			}
			if !q.useQueue {
				last := s.T(slot.Select(0, int64(q.length-1), false))
				q.useQueue = s.Scalar(s.T(s.T(last.Ne(s.Float(0), false)).Any(false))) != 0
			}
			if !q.useQueue {
				res = s.Keep(s.T(torchx.Clone(out)))
				return nil
			}
			w := s.T(prototypes.To(q.device, false))
			qs := s.T(slot.Mm(s.T(w.T(false)), false)) // L×K
			od := s.T(s.T(out.Detach(false)).To(q.device, false))
			res = s.Keep(s.T(ts.Cat([]ts.Tensor{*qs, *od}, 0)))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("memory: SwAV queue extend: %w", err)
	}
	return res, nil
}

// Push is the head's fill of slot i: rows shift down by B
// (queue[i, B:] = queue[i, :−B]) and emb (B×feat_dim, detached) becomes the
// first B rows. No-op without a queue.
func (q *SwAVQueue) Push(i int, emb *ts.Tensor) error {
	if q.queue == nil {
		return nil
	}
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			slot, err := q.slot(s, i)
			if err != nil {
				return err
			}
			d := s.Shape(emb)
			if len(d) != 2 || d[1] != int64(q.cfg.FeatDim) || d[0] < 1 || d[0] > int64(q.length) {
				return fmt.Errorf("embeddings of shape %v, want B×%d with B ≤ %d", d, q.cfg.FeatDim, q.length)
			}
			b := d[0]
			l := int64(q.length)
			if l > b {
				head := s.T(torchx.Clone(s.T(slot.Narrow(0, 0, l-b, false))))
				s.Check(torchx.Copy(s.T(slot.Narrow(0, b, l-b, false)), head))
			}
			return torchx.Copy(s.T(slot.Narrow(0, 0, b, false)), s.T(emb.Detach(false))) // copy_ moves devices
		})
	})
	if err != nil {
		return fmt.Errorf("memory: SwAV queue push: %w", err)
	}
	return nil
}

func (q *SwAVQueue) slot(s *torchx.Scope, i int) (*ts.Tensor, error) {
	if i < 0 || i >= len(q.cfg.CropsForAssign) {
		return nil, fmt.Errorf("slot %d outside the %d crops for assignment", i, len(q.cfg.CropsForAssign))
	}
	return s.T(q.queue.Select(0, int64(i), false)), nil
}

// State returns a copy of the queue under "queue" (the key of the hook's
// queue.pth), or an empty map when there is none; the caller owns it.
func (q *SwAVQueue) State() (map[string]*ts.Tensor, error) {
	if q.queue == nil {
		return map[string]*ts.Tensor{}, nil
	}
	return cloneState(map[string]*ts.Tensor{"queue": q.queue})
}

// LoadState restores "queue" (any C×L×feat_dim float32 the hook saved; its
// length wins, as torch.load'ing queue.pth does). The queue is then used
// from the next BeforeEpoch on, whatever the epoch.
func (q *SwAVQueue) LoadState(state map[string]*ts.Tensor) error {
	src, ok := state["queue"]
	if !ok || src == nil {
		return fmt.Errorf("memory: SwAV queue: state has no \"queue\"")
	}
	d, err := src.Size()
	if err != nil {
		return fmt.Errorf("memory: SwAV queue: %w", err)
	}
	if len(d) != 3 || d[0] != int64(len(q.cfg.CropsForAssign)) || d[2] != int64(q.cfg.FeatDim) || d[1] < 1 || src.DType() != gotch.Float {
		return fmt.Errorf("memory: SwAV queue: state queue %v %v, want %d×L×%d float32", d, src.DType(), len(q.cfg.CropsForAssign), q.cfg.FeatDim)
	}
	t, err := ts.Zeros(d, gotch.Float, q.device)
	if err != nil {
		return fmt.Errorf("memory: SwAV queue: %w", err)
	}
	if err := torchx.Copy(t, src); err != nil {
		_ = t.Drop()
		return fmt.Errorf("memory: SwAV queue: %w", err)
	}
	q.Close()
	q.queue, q.length = t, int(d[1])
	return nil
}

// Close drops the queue.
func (q *SwAVQueue) Close() {
	if q.queue != nil {
		_ = q.queue.Drop()
		q.queue = nil
	}
}
