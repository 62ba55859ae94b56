package model

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
)

// LRSchedule is an mmcv LrUpdaterHook reduced to a pure function: LR
// returns the learning rate a parameter group with base LR base
// (its initial_lr) trains with during global iteration iter (0-based),
// which lies in epoch epoch (0-based). It reproduces the hook's effect at
// before_train_epoch / before_train_iter:
//
//	regular = policy(base, progress)  progress = epoch (by_epoch) | iter
//	lr      = warmup(regular, iter)   if warmup is set and iter < W
//	        = regular                 otherwise
//
// with W = warmup_iters (× iters per epoch when warmup_by_epoch).
type LRSchedule interface {
	LR(base float64, epoch, iter int) float64
}

// SetLR writes s's learning rate for (epoch, iter) into every group, from
// each group's InitialLR, as the hook does for all param groups (SimSiam's
// fix_lr groups are re-pinned by their own hook afterwards).
func SetLR(groups []*Group, s LRSchedule, epoch, iter int) {
	for _, g := range groups {
		g.LR = s.LR(g.InitialLR, epoch, iter)
	}
}

// LRPolicy is the configured schedule; build it with BuildLRSchedule.
type LRPolicy struct {
	Policy                             string // Fixed, Step, Exp, Poly, Inv, CosineAnnealing, StepFixCosineAnnealing
	ByEpoch                            bool
	Warmup                             string  // "", constant, linear, exp
	WarmupIters                        int     // in iterations (already × iters per epoch if warmup_by_epoch)
	WarmupRatio                        float64 //
	ItersPerEpoch, MaxEpochs, MaxIters int

	regular func(p *LRPolicy, base float64, progress int) float64
	warmup  func(p *LRPolicy, regular float64, iter int) float64
}

// LR implements LRSchedule.
func (p *LRPolicy) LR(base float64, epoch, iter int) float64 {
	progress := iter
	if p.ByEpoch {
		progress = epoch
	}
	r := p.regular(p, base, progress)
	if p.Warmup != "" && iter < p.WarmupIters {
		return p.warmup(p, r, iter)
	}
	return r
}

// maxProgress is max_epochs or max_iters, by the policy's unit.
func (p *LRPolicy) maxProgress() int {
	if p.ByEpoch {
		return p.MaxEpochs
	}
	return p.MaxIters
}

// mmcvWarmup is LrUpdaterHook.get_warmup_lr.
func mmcvWarmup(p *LRPolicy, r float64, t int) float64 {
	switch p.Warmup {
	case "constant":
		return r * p.WarmupRatio
	case "linear":
		k := (1 - float64(t)/float64(p.WarmupIters)) * (1 - p.WarmupRatio)
		return r * (1 - k)
	default: // exp
		return r * math.Pow(p.WarmupRatio, 1-float64(t)/float64(p.WarmupIters))
	}
}

// stepFixWarmup is MMSelfSup's StepFixCosineAnnealing override: its linear
// warmup ignores warmup_ratio and starts from 0.
func stepFixWarmup(p *LRPolicy, r float64, t int) float64 {
	if p.Warmup == "linear" {
		k := 1 - float64(t)/float64(p.WarmupIters)
		return r * (1 - k)
	}
	return mmcvWarmup(p, r, t)
}

// annealingCos is mmcv's annealing_cos(start, end, factor).
func annealingCos(start, end, factor float64) float64 {
	cosOut := math.Cos(math.Pi*factor) + 1
	return end + 0.5*(start-end)*cosOut
}

// BuildLRSchedule builds the schedule of an mmcv lr_config
// (policy, by_epoch, warmup, warmup_iters, warmup_ratio, warmup_by_epoch
// and the policy's own keys) for a run of maxEpochs epochs of
// itersPerEpoch iterations (max_iters = product, as EpochBasedRunner).
// A lower-case policy is title-cased first ("step" → "Step"), as mmcv does.
// Errors name the key under "lr_config.".
func BuildLRSchedule(cfg map[string]any, itersPerEpoch, maxEpochs int) (*LRPolicy, error) {
	if itersPerEpoch <= 0 || maxEpochs <= 0 {
		return nil, fmt.Errorf("lr_config: iters per epoch (%d) and max epochs (%d) must be positive", itersPerEpoch, maxEpochs)
	}
	c := cfgReader{prefix: "lr_config", m: cfg, used: map[string]bool{}}
	name := c.str("policy", "")
	if name == "" {
		return nil, fmt.Errorf("lr_config.policy: missing")
	}
	if name == strings.ToLower(name) {
		name = pyTitle(name)
	}
	p := &LRPolicy{
		Policy:        name,
		ByEpoch:       c.boolean("by_epoch", true),
		Warmup:        c.str("warmup", ""),
		WarmupRatio:   c.num("warmup_ratio", 0.1),
		ItersPerEpoch: itersPerEpoch,
		MaxEpochs:     maxEpochs,
		MaxIters:      itersPerEpoch * maxEpochs,
		warmup:        mmcvWarmup,
	}
	warmupIters := c.integer("warmup_iters", 0)
	if c.boolean("warmup_by_epoch", false) {
		warmupIters *= itersPerEpoch
	}
	p.WarmupIters = warmupIters
	if p.Warmup != "" {
		switch p.Warmup {
		case "constant", "linear", "exp":
		default:
			return nil, fmt.Errorf("lr_config.warmup: %q is not supported (want constant, linear or exp)", p.Warmup)
		}
		if warmupIters <= 0 {
			return nil, fmt.Errorf("lr_config.warmup_iters: must be a positive integer with warmup %q", p.Warmup)
		}
		if !(p.WarmupRatio > 0 && p.WarmupRatio <= 1) {
			return nil, fmt.Errorf("lr_config.warmup_ratio: %v not in (0, 1]", p.WarmupRatio)
		}
	}
	build, ok := lrPolicies[name]
	if !ok {
		names := make([]string, 0, len(lrPolicies))
		for k := range lrPolicies {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("lr_config.policy: %q not registered (have: %s)", name, strings.Join(names, ", "))
	}
	if err := build(p, &c); err != nil {
		return nil, err
	}
	if c.err != nil {
		return nil, c.err
	}
	if err := c.unused(); err != nil {
		return nil, err
	}
	return p, nil
}

// pyTitle is Python's str.title for ASCII policy names.
func pyTitle(s string) string {
	b := []rune(s)
	prevLetter := false
	for i, r := range b {
		if unicode.IsLetter(r) {
			if !prevLetter {
				b[i] = unicode.ToUpper(r)
			}
			prevLetter = true
		} else {
			prevLetter = false
		}
	}
	return string(b)
}
