package configs

import (
	"fmt"
	"reflect"
	"regexp"
)

var reflectTypeOfSpec = reflect.TypeOf(Spec{})

// OptimizerSpec is optimizer (components.md §7.2): the torch/MMSelfSup optimizer and its
// hyper-parameters plus the paramwise rules of the optimizer constructor.
type OptimizerSpec struct {
	Type        string    `yaml:"type" cfg:"required"`
	LR          float64   `yaml:"lr" cfg:"required"`
	Momentum    *float64  `yaml:"momentum"`
	WeightDecay *float64  `yaml:"weight_decay"`
	Betas       []float64 `yaml:"betas"`
	Eps         *float64  `yaml:"eps"`
	Nesterov    *bool     `yaml:"nesterov"`
	Dampening   *float64  `yaml:"dampening"`
	Amsgrad     *bool     `yaml:"amsgrad"`
	// Eta is LARS' trust coefficient.
	Eta *float64 `yaml:"eta"`
	// ParamwiseOptions maps a regular expression (searched in parameter names) to option
	// overrides: lr_mult, weight_decay, momentum, lars_exclude, fix_lr …
	ParamwiseOptions *Map `yaml:"paramwise_options"`
	// ParamwiseCfg is mmcv's DefaultOptimizerConstructor form (unused by MMSelfSup configs).
	ParamwiseCfg *Map    `yaml:"paramwise_cfg"`
	Constructor  string  `yaml:"constructor"`
	ModelType    string  `yaml:"model_type"`
	LayerDecay   float64 `yaml:"layer_decay"`
}

// Validate implements Validator.
func (o *OptimizerSpec) Validate() error {
	if o.LR < 0 {
		return Errorf("lr", "must be non-negative, got %v", o.LR)
	}
	if o.Betas != nil && len(o.Betas) != 2 {
		return Errorf("betas", "expected 2 values, got %d", len(o.Betas))
	}
	if o.ParamwiseOptions != nil {
		for _, k := range o.ParamwiseOptions.Keys() {
			v, _ := o.ParamwiseOptions.Get(k)
			if _, ok := v.(*Map); !ok {
				// mmcv also allows dict(norm_decay_mult=…) here, a no-op in MMSelfSup (config.md §11.6).
				if _, isNum := v.(float64); isNum {
					continue
				}
				if _, isInt := v.(int); isInt {
					continue
				}
				return Errorf("paramwise_options."+k, "expected a mapping of options, got %s", describe(v))
			}
			if _, err := regexp.Compile(k); err != nil {
				return Errorf("paramwise_options", "bad regular expression %q: %v", k, err)
			}
		}
	}
	return nil
}

// OptimizerConfig is optimizer_config (components.md §8.1).
type OptimizerConfig struct {
	Type           string         `yaml:"type"`
	GradClip       *GradClip      `yaml:"grad_clip"`
	UpdateInterval int            `yaml:"update_interval"`
	FrozenLayers   map[string]int `yaml:"frozen_layers_cfg"`
	Coalesce       *bool          `yaml:"coalesce"`
	BucketSizeMB   *int           `yaml:"bucket_size_mb"`
	LossScale      *LossScale     `yaml:"loss_scale"`
}

// Interval is update_interval with mmcv's default of 1.
func (o *OptimizerConfig) Interval() int {
	if o == nil || o.UpdateInterval == 0 {
		return 1
	}
	return o.UpdateInterval
}

// Validate implements Validator.
func (o *OptimizerConfig) Validate() error {
	if o.UpdateInterval < 0 {
		return Errorf("update_interval", "must be at least 1, got %d", o.UpdateInterval)
	}
	for k, n := range o.FrozenLayers {
		if n < 0 {
			return Errorf("frozen_layers_cfg."+k, "must be non-negative, got %d", n)
		}
	}
	return nil
}

// GradClip is optimizer_config.grad_clip (torch clip_grad_norm_ arguments).
type GradClip struct {
	MaxNorm  float64  `yaml:"max_norm" cfg:"required"`
	NormType *float64 `yaml:"norm_type"`
}

// Validate implements Validator.
func (g *GradClip) Validate() error {
	if g.MaxNorm <= 0 {
		return Errorf("max_norm", "must be positive, got %v", g.MaxNorm)
	}
	return nil
}

// LRConfig is lr_config (components.md §7.3): an mmcv LR updater hook.
type LRConfig struct {
	Policy        string    `yaml:"policy" cfg:"required"`
	ByEpoch       *bool     `yaml:"by_epoch"`
	Warmup        *string   `yaml:"warmup"`
	WarmupIters   int       `yaml:"warmup_iters"`
	WarmupRatio   *float64  `yaml:"warmup_ratio"`
	WarmupByEpoch bool      `yaml:"warmup_by_epoch"`
	Step          IntList   `yaml:"step"`
	Gamma         *float64  `yaml:"gamma"`
	MinLR         *float64  `yaml:"min_lr"`
	MinLRRatio    *float64  `yaml:"min_lr_ratio"`
	Power         *float64  `yaml:"power"`
	Periods       []int     `yaml:"periods"`
	RestartWeight []float64 `yaml:"restart_weights"`
}

var lrPolicies = []string{"fixed", "step", "exp", "poly", "inv", "CosineAnnealing", "FlatCosineAnnealing",
	"CosineRestart", "Cyclic", "OneCycle", "StepFixCosineAnnealing"}

// IsByEpoch is by_epoch with mmcv's default true.
func (l *LRConfig) IsByEpoch() bool { return l.ByEpoch == nil || *l.ByEpoch }

// Validate implements Validator.
func (l *LRConfig) Validate() error {
	if err := oneOf(l.Policy, lrPolicies...); err != nil {
		return Errorf("policy", "%v", err)
	}
	if l.Warmup != nil {
		if err := oneOf(*l.Warmup, "constant", "linear", "exp"); err != nil {
			return Errorf("warmup", "%v", err)
		}
		if l.WarmupIters < 1 {
			return Errorf("warmup_iters", "must be positive when warmup is set, got %d", l.WarmupIters)
		}
	}
	if l.WarmupRatio != nil && (*l.WarmupRatio <= 0 || *l.WarmupRatio > 1) {
		return Errorf("warmup_ratio", "must be in (0, 1], got %v", *l.WarmupRatio)
	}
	switch l.Policy {
	case "step":
		if len(l.Step) == 0 {
			return Errorf("step", "required by the step policy")
		}
		for i := 1; i < len(l.Step); i++ {
			if l.Step[i] <= l.Step[i-1] {
				return Errorf(fmt.Sprintf("step.%d", i), "steps must increase, got %v", []int(l.Step))
			}
		}
	case "CosineAnnealing", "StepFixCosineAnnealing", "FlatCosineAnnealing", "CosineRestart":
		if (l.MinLR == nil) == (l.MinLRRatio == nil) {
			return Errorf("min_lr", "exactly one of min_lr and min_lr_ratio must be set for %s", l.Policy)
		}
	}
	return nil
}
