package configs

import (
	"errors"
	"fmt"
	"sort"
)

// Spec is the typed form of a whole config (config.md §9). Every section is optional at
// decode time, because tool configs (knn_imagenet, tsne_imagenet) carry only data;
// CheckTrain states what training needs. Top-level keys not listed here are helper
// variables (img pipelines, num_classes, lr …) that MMSelfSup tolerates; they land in
// Extra, except near-misses of a known key, which are reported as misspellings.
type Spec struct {
	Model                *TypedMap        `yaml:"model"`
	Data                 *DataSpec        `yaml:"data"`
	Optimizer            *OptimizerSpec   `yaml:"optimizer"`
	OptimizerConfig      *OptimizerConfig `yaml:"optimizer_config"`
	FP16                 *FP16Spec        `yaml:"fp16"`
	LRConfig             *LRConfig        `yaml:"lr_config"`
	MomentumConfig       *Map             `yaml:"momentum_config"` // ignored by MMSelfSup 0.9.0 training
	Runner               *RunnerSpec      `yaml:"runner"`
	CheckpointConfig     *CheckpointSpec  `yaml:"checkpoint_config"`
	LogConfig            *LogConfig       `yaml:"log_config"`
	CustomHooks          []HookSpec       `yaml:"custom_hooks"`
	Evaluation           *EvaluationSpec  `yaml:"evaluation"`
	Workflow             []WorkflowStep   `yaml:"workflow"`
	LoadFrom             *string          `yaml:"load_from"`
	ResumeFrom           *string          `yaml:"resume_from"`
	DistParams           *Map             `yaml:"dist_params"`
	LogLevel             string           `yaml:"log_level"`
	CudnnBenchmark       bool             `yaml:"cudnn_benchmark"`
	MPStartMethod        string           `yaml:"mp_start_method"`
	OpencvNumThreads     int              `yaml:"opencv_num_threads"`
	PersistentWorkers    bool             `yaml:"persistent_workers"`
	ImgNormCfg           *NormCfg         `yaml:"img_norm_cfg"`
	Prefetch             bool             `yaml:"prefetch"`
	FindUnusedParameters bool             `yaml:"find_unused_parameters"`
	CustomImports        *Map             `yaml:"custom_imports"`
	TrainCfg             *Map             `yaml:"train_cfg"`
	TestCfg              *Map             `yaml:"test_cfg"`
	// Keys tools/train.py sets at run time.
	WorkDir    string `yaml:"work_dir"`
	Seed       *int   `yaml:"seed"`
	GPUIDs     []int  `yaml:"gpu_ids"`
	AutoResume bool   `yaml:"auto_resume"`

	// Extra holds the helper variables, in config order.
	Extra *Map `yaml:",inline"`
}

// helperKeys are top-level helper variables found in MMSelfSup configs (config.md §9.3 and
// the tool dataset configs); they are never reported as misspellings.
var helperKeys = map[string]bool{
	"data_source": true, "dataset_type": true, "train_pipeline": true, "train_pipeline1": true,
	"train_pipeline2": true, "test_pipeline": true, "extract_pipeline": true, "format_pipeline": true,
	"pipeline": true, "num_classes": true, "num_crops": true, "color_distort_strength": true,
	"update_interval": true, "lr": true, "norm_cfg": true, "data_root": true, "split_at": true,
	"split_name": true, "name": true,
}

// Validate implements Validator.
func (s *Spec) Validate() error {
	known := structFields(reflectTypeOfSpec).names
	var extra []string
	if s.Extra != nil {
		extra = s.Extra.Keys()
	}
	for _, k := range extra {
		if helperKeys[k] || len(k) < 4 {
			continue
		}
		// Only edit-distance near-misses: helper names are free-form, so abbreviation
		// matching would flag legitimate variables.
		if sug := closest(k, known); sug != "" {
			return Errorf(k, "unknown key (did you mean %q?)", sug)
		}
	}
	if s.Runner != nil && s.LRConfig != nil && s.LRConfig.WarmupIters > 0 && s.Runner.Type == "IterBasedRunner" && s.LRConfig.WarmupByEpoch {
		return Errorf("lr_config.warmup_by_epoch", "cannot be true with an IterBasedRunner")
	}
	if len(s.Workflow) > 1 {
		return Errorf("workflow", "MMSelfSup supports exactly one workflow entry (validation runs as a hook), got %d", len(s.Workflow))
	}
	seen := map[string]bool{}
	for i, h := range s.CustomHooks {
		if seen[h.Type] && h.Type != "DeepClusterHook" {
			return Errorf(fmt.Sprintf("custom_hooks.%d", i), "hook %s registered twice", h.Type)
		}
		seen[h.Type] = true
	}
	return nil
}

// CheckTrain reports the first key that training needs but the config lacks.
func (s *Spec) CheckTrain() error {
	switch {
	case s.Model == nil:
		return Errorf("model", "required for training")
	case s.Data == nil:
		return Errorf("data", "required for training")
	case s.Data.Train == nil:
		return Errorf("data.train", "required for training")
	case s.Optimizer == nil:
		return Errorf("optimizer", "required for training")
	case s.Runner == nil:
		return Errorf("runner", "required for training")
	case s.LRConfig == nil:
		return Errorf("lr_config", "required for training")
	}
	return nil
}

// HelperKeys returns the names of the Extra keys in order.
func (s *Spec) HelperKeys() []string {
	if s.Extra == nil {
		return nil
	}
	k := s.Extra.Keys()
	sort.Strings(k)
	return k
}

// DecodeSpec decodes a whole resolved config into a Spec.
func DecodeSpec(c *Config) (*Spec, error) {
	if c == nil || c.Tree == nil {
		return nil, errors.New("decode spec: empty config")
	}
	var s Spec
	if err := Decode(c.Tree, "", &s); err != nil {
		return nil, fmt.Errorf("%s: %w", c.Filename, err)
	}
	return &s, nil
}

// NormCfg is img_norm_cfg: per-channel mean and std of the 0..1 image.
type NormCfg struct {
	Mean  []float64 `yaml:"mean" cfg:"required"`
	Std   []float64 `yaml:"std" cfg:"required"`
	ToRGB *bool     `yaml:"to_rgb"`
}

// Validate implements Validator.
func (n *NormCfg) Validate() error {
	if len(n.Mean) != len(n.Std) || len(n.Mean) == 0 {
		return Errorf("std", "mean and std need the same non-zero length, got %d and %d", len(n.Mean), len(n.Std))
	}
	for i, s := range n.Std {
		if s <= 0 {
			return Errorf(fmt.Sprintf("std.%d", i), "must be positive, got %v", s)
		}
	}
	return nil
}

// HookSpec is a custom_hooks or log_config.hooks entry: a registered hook type and its
// arguments; "priority" (a name or 0..100) stays in Args.
type HookSpec struct{ TypedMap }

var hookPriorities = []string{"HIGHEST", "VERY_HIGH", "HIGH", "ABOVE_NORMAL", "NORMAL", "BELOW_NORMAL", "LOW", "VERY_LOW", "LOWEST"}

// Validate implements Validator.
func (h *HookSpec) Validate() error {
	p, ok := h.Args.Get("priority")
	if !ok {
		return nil
	}
	switch x := p.(type) {
	case string:
		if err := oneOf(x, hookPriorities...); err != nil {
			return Errorf("priority", "%v", err)
		}
	case int:
		if x < 0 || x > 100 {
			return Errorf("priority", "must be within 0..100, got %d", x)
		}
	default:
		return Errorf("priority", "expected a priority name or an int, got %s", describe(p))
	}
	return nil
}

// Priority returns the hook's priority as mmcv's number (NORMAL = 50 when unset).
func (h HookSpec) Priority() int {
	levels := map[string]int{"HIGHEST": 0, "VERY_HIGH": 10, "HIGH": 30, "ABOVE_NORMAL": 40, "NORMAL": 50,
		"BELOW_NORMAL": 60, "LOW": 70, "VERY_LOW": 90, "LOWEST": 100}
	switch x, _ := h.Args.Get("priority"); p := x.(type) {
	case string:
		return levels[p]
	case int:
		return p
	}
	return 50
}

// LogConfig is log_config.
type LogConfig struct {
	Interval int        `yaml:"interval" cfg:"required"`
	Hooks    []HookSpec `yaml:"hooks"`
}

// Validate implements Validator.
func (l *LogConfig) Validate() error {
	if l.Interval < 1 {
		return Errorf("interval", "must be at least 1, got %d", l.Interval)
	}
	return nil
}

// RunnerSpec is runner: the loop type and its length.
type RunnerSpec struct {
	Type      string `yaml:"type" cfg:"required"`
	MaxEpochs *int   `yaml:"max_epochs"`
	MaxIters  *int   `yaml:"max_iters"`
}

// Validate implements Validator.
func (r *RunnerSpec) Validate() error {
	if err := oneOf(r.Type, "EpochBasedRunner", "IterBasedRunner"); err != nil {
		return Errorf("type", "%v", err)
	}
	if r.MaxEpochs != nil && r.MaxIters != nil {
		return Errorf("max_iters", "only one of max_epochs and max_iters may be set")
	}
	if r.Type == "EpochBasedRunner" {
		if r.MaxEpochs == nil {
			return Errorf("max_epochs", "required by EpochBasedRunner")
		}
		if *r.MaxEpochs < 1 {
			return Errorf("max_epochs", "must be at least 1, got %d", *r.MaxEpochs)
		}
	} else {
		if r.MaxIters == nil {
			return Errorf("max_iters", "required by IterBasedRunner")
		}
		if *r.MaxIters < 1 {
			return Errorf("max_iters", "must be at least 1, got %d", *r.MaxIters)
		}
	}
	return nil
}

// CheckpointSpec is checkpoint_config (mmcv CheckpointHook).
type CheckpointSpec struct {
	Interval      int    `yaml:"interval"`
	ByEpoch       *bool  `yaml:"by_epoch"`
	MaxKeepCkpts  *int   `yaml:"max_keep_ckpts"`
	OutDir        string `yaml:"out_dir"`
	SaveOptimizer *bool  `yaml:"save_optimizer"`
	SaveLast      *bool  `yaml:"save_last"`
	Meta          *Map   `yaml:"meta"`
}

// Validate implements Validator.
func (c *CheckpointSpec) Validate() error {
	if c.Interval == 0 || c.Interval < -1 {
		return Errorf("interval", "must be positive (or -1 to save only at the end), got %d", c.Interval)
	}
	return nil
}

// EvaluationSpec is evaluation (EvalHook); keys other than interval/by_epoch/topk/
// save_best are passed on to the dataset's evaluate.
type EvaluationSpec struct {
	Interval int     `yaml:"interval"`
	ByEpoch  *bool   `yaml:"by_epoch"`
	TopK     IntList `yaml:"topk"`
	SaveBest *string `yaml:"save_best"`
	Extra    *Map    `yaml:",inline"`
}

// Validate implements Validator.
func (e *EvaluationSpec) Validate() error {
	if e.Interval < 1 {
		return Errorf("interval", "must be at least 1, got %d", e.Interval)
	}
	for i, k := range e.TopK {
		if k < 1 {
			return Errorf(fmt.Sprintf("topk.%d", i), "must be at least 1, got %d", k)
		}
	}
	return nil
}

// FP16Spec is fp16: enabling mixed precision with a loss scale.
type FP16Spec struct {
	LossScale LossScale `yaml:"loss_scale" cfg:"required"`
}
