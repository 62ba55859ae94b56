package actors

import (
	"fmt"

	"github.com/flowssl/flowssl/model"
)

// The custom_hooks of MMSelfSup's algorithms (components.md §8).
func init() {
	momentum := func(cfg map[string]any, priority int) (Hook, error) {
		mu, err := model.BuildMomentumUpdate(cfg)
		if err != nil {
			return nil, err
		}
		return &momentumHook{mu: mu, priority: priority}, nil
	}
	RegisterHook("MomentumUpdateHook", momentum)
	RegisterHook("BYOLHook", momentum)
	RegisterHook("SimSiamHook", buildSimSiamHook)
	RegisterHook("DenseCLHook", buildDenseCLHook)
}

// momentumHook is MomentumUpdateHook (alias BYOLHook): the target
// network's EMA coefficient follows a cosine from base_momentum to
// end_momentum, and the target is updated after the optimizer step.
type momentumHook struct {
	mu       model.MomentumUpdate
	priority int
	m        float64
}

func (h *momentumHook) Name() string  { return "MomentumUpdateHook" }
func (h *momentumHook) Priority() int { return h.priority }

func (h *momentumHook) target(s *RunState) (model.MomentumTarget, error) {
	t, ok := s.Runner.Algorithm.(model.MomentumTarget)
	if !ok {
		return nil, fmt.Errorf("%s has no momentum target network", s.Runner.Algorithm.Type())
	}
	return t, nil
}

func (h *momentumHook) BeforeRun(s *RunState) error {
	_, err := h.target(s)
	return err
}

func (h *momentumHook) BeforeTrainIter(s *RunState) error {
	if !h.mu.Due(s.Iter) {
		return nil
	}
	t, err := h.target(s)
	if err != nil {
		return err
	}
	h.m = h.mu.Momentum(t.BaseMomentum(), s.Iter, s.MaxIters)
	return nil
}

func (h *momentumHook) AfterTrainIter(s *RunState) error {
	if !h.mu.Due(s.Iter) {
		return nil
	}
	t, err := h.target(s)
	if err != nil {
		return err
	}
	s.Losses["momentum"] = h.m
	return t.MomentumUpdate(h.m)
}

// simSiamHook pins the LR of the predictor's groups (fix_lr) to lr.
// MMSelfSup does it at each epoch start after the LR updater; flowssl's LR
// hook writes every group before every iteration, so the pin is renewed
// then too (the same LRs whenever the schedule has no warmup, as in every
// SimSiam config).
type simSiamHook struct {
	priority int
	fix      bool
	lr       float64
}

func buildSimSiamHook(cfg map[string]any, priority int) (Hook, error) {
	h := &simSiamHook{priority: priority, fix: true}
	for k, v := range cfg {
		switch k {
		case "type", "priority":
		case "fix_pred_lr":
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("fix_pred_lr: want a bool, got %v", v)
			}
			h.fix = b
		case "lr":
			f, ok := toFloat(v)
			if !ok {
				return nil, fmt.Errorf("lr: want a number, got %v", v)
			}
			h.lr = f
		case "adjust_by_epoch":
		default:
			return nil, fmt.Errorf("%s: unknown key (known: fix_pred_lr, lr, adjust_by_epoch)", k)
		}
	}
	if _, ok := cfg["lr"]; !ok {
		return nil, fmt.Errorf("lr: required")
	}
	return h, nil
}

func (h *simSiamHook) Name() string  { return "SimSiamHook" }
func (h *simSiamHook) Priority() int { return h.priority }
func (h *simSiamHook) BeforeTrainIter(s *RunState) error {
	if !h.fix || s.Runner.Optimizer == nil {
		return nil
	}
	for _, g := range s.Runner.Optimizer.Groups() {
		if g.FixLR {
			g.LR = h.lr
		}
	}
	return nil
}

// denseCLHook keeps DenseCL's loss_lambda at 0 for the first start_iters
// iterations (not enabled by MMSelfSup's configs).
type denseCLHook struct {
	priority, start int
	lambda          float64
}

func buildDenseCLHook(cfg map[string]any, priority int) (Hook, error) {
	h := &denseCLHook{priority: priority, start: 1000}
	for k, v := range cfg {
		switch k {
		case "type", "priority":
		case "start_iters":
			f, ok := toFloat(v)
			if !ok || f < 0 || f != float64(int(f)) {
				return nil, fmt.Errorf("start_iters: want a non-negative integer, got %v", v)
			}
			h.start = int(f)
		default:
			return nil, fmt.Errorf("%s: unknown key (known: start_iters)", k)
		}
	}
	return h, nil
}

type lossLambda interface {
	LossLambda() float64
	SetLossLambda(float64)
}

func (h *denseCLHook) Name() string  { return "DenseCLHook" }
func (h *denseCLHook) Priority() int { return h.priority }
func (h *denseCLHook) BeforeRun(s *RunState) error {
	d, ok := s.Runner.Algorithm.(lossLambda)
	if !ok {
		return fmt.Errorf("%s has no loss_lambda", s.Runner.Algorithm.Type())
	}
	h.lambda = d.LossLambda()
	return nil
}
func (h *denseCLHook) BeforeTrainIter(s *RunState) error {
	d := s.Runner.Algorithm.(lossLambda)
	if s.Iter < h.start {
		d.SetLossLambda(0)
	} else {
		d.SetLossLambda(h.lambda)
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}
