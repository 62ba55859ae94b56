package model

import (
	"fmt"
	"math"
)

// lrPolicies maps an mmcv policy name (hook class minus "LrUpdaterHook")
// to a function reading its keys and setting the regular-LR rule.
var lrPolicies = map[string]func(p *LRPolicy, c *cfgReader) error{
	"Fixed": func(p *LRPolicy, c *cfgReader) error {
		p.regular = func(_ *LRPolicy, base float64, _ int) float64 { return base }
		return nil
	},
	// Step: exp = progress // step (int) or #milestones ≤ progress (list);
	// lr = base·gamma^exp, clipped below at min_lr if given.
	"Step": func(p *LRPolicy, c *cfgReader) error {
		gamma := c.num("gamma", 0.1)
		minLR, hasMin := c.optNum("min_lr")
		steps, isList, err := c.steps("step")
		if err != nil {
			return err
		}
		p.regular = func(_ *LRPolicy, base float64, progress int) float64 {
			var e int
			if !isList {
				e = floorDiv(progress, steps[0])
			} else {
				e = len(steps)
				for i, s := range steps {
					if progress < s {
						e = i
						break
					}
				}
			}
			lr := base * math.Pow(gamma, float64(e))
			if hasMin {
				lr = math.Max(lr, minLR)
			}
			return lr
		}
		return nil
	},
	// Exp: base·gamma^progress.
	"Exp": func(p *LRPolicy, c *cfgReader) error {
		gamma, ok := c.optNum("gamma")
		if !ok {
			return fmt.Errorf("lr_config.gamma: required for Exp")
		}
		p.regular = func(_ *LRPolicy, base float64, progress int) float64 {
			return base * math.Pow(gamma, float64(progress))
		}
		return nil
	},
	// Poly: (base − min_lr)·(1 − progress/max)^power + min_lr.
	"Poly": func(p *LRPolicy, c *cfgReader) error {
		power, minLR := c.num("power", 1), c.num("min_lr", 0)
		p.regular = func(p *LRPolicy, base float64, progress int) float64 {
			coeff := math.Pow(1-float64(progress)/float64(p.maxProgress()), power)
			return (base-minLR)*coeff + minLR
		}
		return nil
	},
	// Inv: base·(1 + gamma·progress)^(−power).
	"Inv": func(p *LRPolicy, c *cfgReader) error {
		gamma, ok := c.optNum("gamma")
		if !ok {
			return fmt.Errorf("lr_config.gamma: required for Inv")
		}
		power := c.num("power", 1)
		p.regular = func(_ *LRPolicy, base float64, progress int) float64 {
			return base * math.Pow(1+gamma*float64(progress), -power)
		}
		return nil
	},
	// CosineAnnealing: target + ½(base − target)(1 + cos(π·progress/max)),
	// target = min_lr or base·min_lr_ratio (exactly one given).
	"CosineAnnealing": func(p *LRPolicy, c *cfgReader) error {
		target, err := cosineTarget(c)
		if err != nil {
			return err
		}
		p.regular = func(p *LRPolicy, base float64, progress int) float64 {
			return annealingCos(base, target(base), float64(progress)/float64(p.maxProgress()))
		}
		return nil
	},
	// StepFixCosineAnnealing (MMSelfSup core/hooks/cosineAnnealing_hook.py):
	// the cosine runs over the post-warmup span — progress and max both
	// lose W iterations (by iter) or W // iters_per_epoch epochs (by
	// epoch) when warmup is set — and linear warmup starts from 0.
	"StepFixCosineAnnealing": func(p *LRPolicy, c *cfgReader) error {
		target, err := cosineTarget(c)
		if err != nil {
			return err
		}
		p.warmup = stepFixWarmup
		p.regular = func(p *LRPolicy, base float64, progress int) float64 {
			maxP := p.maxProgress()
			if p.Warmup != "" {
				shift := p.WarmupIters
				if p.ByEpoch {
					shift = p.WarmupIters / p.ItersPerEpoch
				}
				progress -= shift
				maxP -= shift
			}
			if maxP <= 0 {
				// The warmup spans the whole run (a short test run of a
				// long config): MMSelfSup divides by zero here; flowssl
				// ramps to the base LR and stays there.
				return base
			}
			return annealingCos(base, target(base), float64(progress)/float64(maxP))
		}
		return nil
	},
}

func cosineTarget(c *cfgReader) (func(base float64) float64, error) {
	minLR, hasMin := c.optNum("min_lr")
	ratio, hasRatio := c.optNum("min_lr_ratio")
	if hasMin == hasRatio {
		return nil, fmt.Errorf("lr_config: exactly one of min_lr and min_lr_ratio must be set")
	}
	if hasRatio {
		return func(base float64) float64 { return base * ratio }, nil
	}
	return func(float64) float64 { return minLR }, nil
}

// floorDiv is Python's // for ints.
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
