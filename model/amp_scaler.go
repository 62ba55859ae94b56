package model

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// GradScaler is torch.cuda.amp.GradScaler's loss scaling as mmcv's
// Fp16OptimizerHook (and MMSelfSup's GradAccumFp16OptimizerHook) drive it:
// the loss is multiplied by Scale before backward, the gradients are
// divided by it before clipping and the step, a step whose gradients hold
// an inf or NaN is skipped, and Update adapts the scale: ×BackoffFactor
// after an overflow, ×GrowthFactor after GrowthInterval clean steps in a
// row. A Fixed scaler (fp16.loss_scale = number) keeps its scale (mmcv
// calls update(new_scale=loss_scale)) but still skips overflowing steps.
type GradScaler struct {
	Scale          float64
	GrowthFactor   float64
	BackoffFactor  float64
	GrowthInterval int
	// GrowthTracker counts clean steps since the last growth or overflow.
	GrowthTracker int
	Fixed         bool

	unscaled, foundInf bool
}

// NewDynamicScaler is GradScaler() with torch's defaults: scale 65536,
// growth ×2 every 2000 clean steps, backoff ×0.5.
func NewDynamicScaler() *GradScaler {
	return &GradScaler{Scale: 65536, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 2000}
}

// NewScalerFromConfig builds the scaler for fp16.loss_scale: "dynamic"
// (dynamic=true, args nil), a number (static), or a dict of GradScaler
// arguments (init_scale, growth_factor, backoff_factor, growth_interval).
func NewScalerFromConfig(dynamic bool, static float64, args map[string]any) (*GradScaler, error) {
	g := NewDynamicScaler()
	if !dynamic {
		if static <= 0 || math.IsInf(static, 0) || math.IsNaN(static) {
			return nil, fmt.Errorf("fp16.loss_scale: %v must be a positive number", static)
		}
		g.Scale, g.Fixed = static, true
		return g, nil
	}
	for k, v := range args {
		f, err := toFloat(v)
		if err != nil {
			return nil, fmt.Errorf("fp16.loss_scale.%s: %w", k, err)
		}
		switch k {
		case "init_scale":
			g.Scale = f
		case "growth_factor":
			g.GrowthFactor = f
		case "backoff_factor":
			g.BackoffFactor = f
		case "growth_interval":
			g.GrowthInterval = int(f)
		case "enabled":
		default:
			return nil, fmt.Errorf("fp16.loss_scale.%s: unknown GradScaler argument", k)
		}
	}
	switch {
	case g.Scale <= 0:
		return nil, fmt.Errorf("fp16.loss_scale.init_scale: %v must be positive", g.Scale)
	case g.GrowthFactor <= 1:
		return nil, fmt.Errorf("fp16.loss_scale.growth_factor: %v must be > 1", g.GrowthFactor)
	case g.BackoffFactor <= 0 || g.BackoffFactor >= 1:
		return nil, fmt.Errorf("fp16.loss_scale.backoff_factor: %v must be in (0, 1)", g.BackoffFactor)
	case g.GrowthInterval < 1:
		return nil, fmt.Errorf("fp16.loss_scale.growth_interval: %d must be ≥ 1", g.GrowthInterval)
	}
	return g, nil
}

// ScaleLoss returns loss × Scale (a new tensor; backward goes through it).
func (g *GradScaler) ScaleLoss(loss *ts.Tensor) (*ts.Tensor, error) {
	sc := ts.FloatScalar(float64(float32(g.Scale)))
	defer sc.MustDrop()
	out, err := loss.MulScalar(sc, false)
	if err != nil {
		return nil, fmt.Errorf("loss scale: %w", err)
	}
	return out, nil
}

// Unscale divides the gradients of params by Scale in place (multiplying
// by float32(1/Scale) as torch does) and records whether any is inf or
// NaN; it reports that too. Once per step, like GradScaler.unscale_.
func (g *GradScaler) Unscale(params []Param) (bool, error) {
	if g.unscaled {
		return g.foundInf, fmt.Errorf("loss scale: unscale called twice before update")
	}
	inv := float64(float32(1 / float64(float32(g.Scale))))
	var found *ts.Tensor
	err := WithoutGrad(func() error {
		s := &scratch{}
		defer s.drop()
		for _, p := range params {
			gr, err := gradOf(p.T)
			if err != nil {
				return fmt.Errorf("loss scale: grad of %s: %w", p.Name, err)
			}
			if gr == nil {
				continue
			}
			s.own("grad", gr, nil)
			s.mulScalarInPlace(gr, inv)
			if s.err != nil {
				return fmt.Errorf("loss scale: %s: %w", p.Name, s.err)
			}
			fin, err := gr.Isfinite(false)
			s.own("isfinite", fin, err)
			if s.err != nil {
				return fmt.Errorf("loss scale: %s: %w", p.Name, s.err)
			}
			bad, err := fin.LogicalNot(false)
			s.own("logical_not", bad, err)
			if s.err != nil {
				return fmt.Errorf("loss scale: %s: %w", p.Name, s.err)
			}
			n, err := bad.Sum(gotch.Int64, false)
			s.own("sum", n, err)
			if s.err != nil {
				return fmt.Errorf("loss scale: %s: %w", p.Name, s.err)
			}
			if found == nil {
				found = s.release(n)
				continue
			}
			s.fail("add_", found.Add_(n))
		}
		return s.err
	})
	if found != nil {
		defer found.MustDrop()
	}
	if err != nil {
		return false, err
	}
	g.unscaled = true
	g.foundInf = false
	if found != nil {
		// One device-to-host read per step, after every gradient is queued.
		v, err := found.Int64Value([]int64{})
		if err != nil {
			return false, fmt.Errorf("loss scale: %w", err)
		}
		g.foundInf = v > 0
	}
	return g.foundInf, nil
}

// Step unscales params if Unscale was not called this step, then runs
// step unless a gradient overflowed; it reports whether step ran.
func (g *GradScaler) Step(params []Param, step func() error) (bool, error) {
	if !g.unscaled {
		if _, err := g.Unscale(params); err != nil {
			return false, err
		}
	}
	if g.foundInf {
		return false, nil
	}
	return true, step()
}

// Update adapts Scale after a step (torch's _amp_update_scale_) and starts
// the next step. A growth that would overflow float32 is not applied.
func (g *GradScaler) Update() {
	inf := g.foundInf
	g.unscaled, g.foundInf = false, false
	if g.Fixed {
		return
	}
	if inf {
		g.Scale = float64(float32(g.Scale * g.BackoffFactor))
		g.GrowthTracker = 0
		return
	}
	g.GrowthTracker++
	if g.GrowthTracker == g.GrowthInterval {
		if grown := float32(g.Scale * g.GrowthFactor); !math.IsInf(float64(grown), 0) {
			g.Scale = float64(grown)
		}
		g.GrowthTracker = 0
	}
}

// State is GradScaler.state_dict(), which MMSelfSup keeps in the
// checkpoint's meta.fp16.loss_scaler.
func (g *GradScaler) State() map[string]any {
	return map[string]any{
		"scale":           g.Scale,
		"growth_factor":   g.GrowthFactor,
		"backoff_factor":  g.BackoffFactor,
		"growth_interval": int64(g.GrowthInterval),
		"_growth_tracker": int64(g.GrowthTracker),
	}
}

// LoadState restores State's output (or a torch GradScaler state_dict).
func (g *GradScaler) LoadState(m map[string]any) error {
	for k, dst := range map[string]*float64{"scale": &g.Scale, "growth_factor": &g.GrowthFactor, "backoff_factor": &g.BackoffFactor} {
		if v, ok := m[k]; ok {
			f, err := toFloat(v)
			if err != nil {
				return fmt.Errorf("loss_scaler.%s: %w", k, err)
			}
			*dst = f
		}
	}
	for k, dst := range map[string]*int{"growth_interval": &g.GrowthInterval, "_growth_tracker": &g.GrowthTracker} {
		if v, ok := m[k]; ok {
			f, err := toFloat(v)
			if err != nil {
				return fmt.Errorf("loss_scaler.%s: %w", k, err)
			}
			*dst = int(f)
		}
	}
	return nil
}
