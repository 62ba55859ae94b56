package actors

import (
	"fmt"
	"math"

	"github.com/flowssl/flowssl/model"
)

func init() { RegisterHook("EMAHook", buildEMAHook) }

// Attacher hooks need the built model before any checkpoint is restored:
// Train calls Attach on the runner's pinned thread right after adding the
// hook, so state the hook adds to the model is restored on resume.
type Attacher interface {
	Attach(r *Runner) error
}

// emaHook is mmcv's EMAHook(momentum=0.0002, interval=1, warm_up=100):
// after iteration i (0-based, when i % interval == 0) every parameter's
// average moves by min(momentum, (1+i)/(warm_up+i)); at each epoch end
// parameters and averages swap, so the epoch's evaluation and the final
// model use the averages, and the next epoch swaps them back.
//
// mmcv swaps back unconditionally before every epoch, which after a
// resume (the checkpoint is written before the swap) trains the next
// epoch on the averages; flowssl swaps back only what it swapped.
// EMAHook's resume_from is not supported: use --resume-from.
type emaHook struct {
	priority         int
	momentum         float64
	interval, warmUp int
	ema              *model.EMA
	swapped          bool
}

func buildEMAHook(cfg map[string]any, priority int) (Hook, error) {
	h := &emaHook{priority: priority, momentum: 0.0002, interval: 1, warmUp: 100}
	for k, v := range cfg {
		switch k {
		case "type", "priority":
		case "momentum":
			f, ok := number(v)
			if !ok || f <= 0 || f >= 1 {
				return nil, fmt.Errorf("momentum: want a number in (0, 1), got %v", v)
			}
			h.momentum = f
		case "interval", "warm_up":
			f, ok := number(v)
			if !ok || f != math.Trunc(f) || f < 0 || (k == "interval" && f < 1) {
				return nil, fmt.Errorf("%s: want a non-negative integer, got %v", k, v)
			}
			if k == "interval" {
				h.interval = int(f)
			} else {
				h.warmUp = int(f)
			}
		case "resume_from":
			if v != nil {
				return nil, fmt.Errorf("resume_from: not supported, use --resume-from (the averages are in flowssl checkpoints)")
			}
		default:
			return nil, fmt.Errorf("%s: unknown key (known: momentum, interval, warm_up, priority)", k)
		}
	}
	return h, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func (h *emaHook) Name() string  { return "EMAHook" }
func (h *emaHook) Priority() int { return h.priority }

func (h *emaHook) Attach(r *Runner) error {
	e, err := model.NewEMA(r.VS)
	if err != nil {
		return err
	}
	h.ema = e
	return nil
}

func (h *emaHook) BeforeRun(*RunState) error {
	if h.ema == nil {
		return fmt.Errorf("EMAHook: not attached to a model")
	}
	return nil
}

// emaMomentum is the coefficient after iteration iter.
func emaMomentum(momentum float64, warmUp, iter int) float64 {
	return min(momentum, float64(1+iter)/float64(warmUp+iter))
}

func (h *emaHook) AfterTrainIter(s *RunState) error {
	if s.Iter%h.interval != 0 {
		return nil
	}
	m := emaMomentum(h.momentum, h.warmUp, s.Iter)
	s.Losses["ema_momentum"] = m
	return h.ema.Update(m)
}

func (h *emaHook) AfterTrainEpoch(*RunState) error {
	h.swapped = true
	return h.ema.Swap()
}

func (h *emaHook) BeforeTrainEpoch(*RunState) error {
	if !h.swapped {
		return nil
	}
	h.swapped = false
	return h.ema.Swap()
}
