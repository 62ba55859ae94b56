package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/eval"
	"github.com/flowssl/flowssl/internal/logx"
	"github.com/flowssl/flowssl/model"
)

func init() { extraCommands = append(extraCommands, linearCmd) }

// linearOptions are the linear command's choices.
type linearOptions struct {
	Config, Checkpoint, WorkDir, Device string
	Opts                                []string
	Seed                                int64
	Deterministic                       bool
	Workers, Threads, EvalBatch         int
	Logger                              zerolog.Logger
	// Extra overrides apply after Opts (semi's label-subset data source).
	Extra []configs.Override
	// Bars makes the training and evaluation progress bars (nil: stderr
	// when it is a terminal).
	Bars barFunc
	// TrainDesc names the training bar (default "linear train").
	TrainDesc string
}

// linearResult is what linear writes as JSON.
type linearResult struct {
	Config     string             `json:"config"`
	Pretrained string             `json:"pretrained"`
	Trained    string             `json:"trained_checkpoint"`
	Epochs     int                `json:"epochs"`
	Iters      int                `json:"iters"`
	ValSamples int                `json:"val_samples"`
	Results    map[string]float64 `json:"results"`
}

func linearCmd() *cobra.Command {
	var o linearOptions
	c := &cobra.Command{
		Use:   "linear CONFIG",
		Short: "Linear (or multi-head) evaluation of a frozen backbone (MMSelfSup's Classification benchmarks)",
		Long: "linear trains CONFIG (a benchmark config with model.type Classification, e.g.\n" +
			"benchmarks/classification/shapes/resnet18_linear-1xb64-steplr-10e_shapes-64px.yaml) with the backbone\n" +
			"initialised from --checkpoint (model.backbone.init_cfg = Pretrained: a full flowssl/MMSelfSup checkpoint\n" +
			"or extracted backbone weights; random init without it), then reports top-1/top-5 of every head on\n" +
			"data.val as MMSelfSup's head{i}_top{k} keys and writes them to WORK_DIR/linear_eval.json.",
		Args: configArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Config = args[0]
			o.Opts = overrides(o.Opts, args)
			lg, err := openEvalRun(&o.WorkDir, o.Config, o.Checkpoint)
			if err != nil {
				return err
			}
			defer lg.Close()
			o.Logger = lg.Logger
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := runLinear(ctx, o)
			if err != nil {
				return err
			}
			keys := slices.Sorted(maps.Keys(res.Results))
			for _, k := range keys {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %.2f\n", k, res.Results[k])
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Checkpoint, "checkpoint", "", "pre-trained weights for the backbone (default: random init)")
	fl.StringVar(&o.WorkDir, "work-dir", "", "where checkpoints, logs and linear_eval.json go (default work_dirs/<config name>/<checkpoint name>)")
	fl.StringArrayVar(&o.Opts, "cfg-options", nil, "override a config key: a.b.c=v (repeatable)")
	fl.Int64Var(&o.Seed, "seed", 0, "random seed (MMSelfSup's launcher uses 0)")
	fl.BoolVar(&o.Deterministic, "deterministic", false, "bit-for-bit repeatable CPU runs (libtorch uses one thread)")
	fl.StringVar(&o.Device, "device", "cpu", "cpu or cuda[:i]")
	fl.IntVar(&o.Workers, "workers", 0, "augment workers (default: data.workers_per_gpu)")
	fl.IntVar(&o.Threads, "threads", 0, "libtorch intra-op threads (default: every core)")
	fl.IntVar(&o.EvalBatch, "eval-batch-size", 0, "images per forward pass in evaluation (default: data.samples_per_gpu)")
	return c
}

// loadLinearConfig loads the benchmark config with the Pretrained backbone
// init injected (as the benchmark scripts' --cfg-options do) and checks
// that it describes a Classification model.
func loadLinearConfig(o linearOptions) (*configs.Config, error) {
	ov, err := configs.ParseCfgOptions(o.Opts)
	if err != nil {
		return nil, fmt.Errorf("--cfg-options: %w", err)
	}
	if o.Checkpoint != "" {
		abs, err := filepath.Abs(o.Checkpoint)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("--checkpoint: %w", err)
		}
		// Set as values, not parsed option strings, so any path survives.
		ov = append(ov, configs.Override{Key: "model.backbone.init_cfg.type", Value: "Pretrained"},
			configs.Override{Key: "model.backbone.init_cfg.checkpoint", Value: abs})
	}
	ov = append(ov, o.Extra...)
	cfg, err := configs.Load(o.Config, configs.LoadOptions{Overrides: ov})
	if err != nil {
		return nil, err
	}
	if _, err := configs.DecodeSpec(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Config, err)
	}
	mt, err := tree.Lookup(cfg.Tree, "model.type")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Config, err)
	}
	if s, _ := tree.ToPlain(mt).(string); s != "Classification" && s != "MMClsImageClassifierWrapper" {
		return nil, fmt.Errorf("%s: model.type is %v; linear needs a benchmark config with model.type Classification (or MMClsImageClassifierWrapper)", o.Config, tree.ToPlain(mt))
	}
	return cfg, nil
}

// runLinear trains the head(s) through the actor dataflow and evaluates
// the final checkpoint on data.val.
func runLinear(ctx context.Context, o linearOptions) (*linearResult, error) {
	cfg, err := loadLinearConfig(o)
	if err != nil {
		return nil, err
	}
	dev, err := parseDevice(o.Device)
	if err != nil {
		return nil, err
	}
	threads := o.Threads
	if o.Deterministic {
		threads = 1
	} else if threads == 0 {
		threads = splitCores(o.Workers)
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(o.WorkDir, filepath.Base(strings.TrimSuffix(o.Config, filepath.Ext(o.Config)))+".yaml"), []byte(cfg.Text), 0o644); err != nil {
		return nil, err
	}
	desc := o.TrainDesc
	if desc == "" {
		desc = "linear train"
	}
	bar := &trainBar{desc: desc, bars: o.Bars}
	tr, err := actors.Train(ctx, cfg, actors.Setup{
		WorkDir: o.WorkDir, Seed: o.Seed, Deterministic: o.Deterministic, Device: dev, Workers: o.Workers, Threads: threads,
		SkipBad: true, Version: version, Logger: o.Logger, Views: buildViews, Hooks: []actors.Hook{bar},
	})
	bar.finish()
	if err != nil {
		return nil, err
	}
	if tr.Checkpoint == "" {
		return nil, fmt.Errorf("linear: training wrote no checkpoint under %s", o.WorkDir)
	}
	spec, err := configs.DecodeSpec(cfg)
	if err != nil {
		return nil, err
	}
	ks := []int{1, 5}
	if spec.Evaluation != nil && len(spec.Evaluation.TopK) > 0 {
		ks = spec.Evaluation.TopK
	}
	batch := o.EvalBatch
	if batch <= 0 {
		batch = spec.Data.BatchSize()
	}
	acc, n, err := evaluateClassification(ctx, cfg, tr.Checkpoint, dev, ks, batch, max(1, o.Workers), o.Seed, o.Bars)
	if err != nil {
		return nil, err
	}
	res := &linearResult{Config: o.Config, Pretrained: o.Checkpoint, Trained: tr.Checkpoint, Epochs: tr.Epochs, Iters: tr.Iters,
		ValSamples: n, Results: acc}
	ev := o.Logger.Info()
	for k, v := range acc {
		ev = ev.Float64(k, v)
	}
	ev.Msg("linear evaluation")
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, os.WriteFile(filepath.Join(o.WorkDir, "linear_eval.json"), append(b, '\n'), 0o644)
}

// evaluateClassification rebuilds cfg's Classification model, loads every
// key of ckptPath strictly and returns top-k per head on data.val (MMSelfSup's
// head{i}_top{k}) and the number of val samples. bars makes its progress
// bar (nil: stderr when a terminal).
func evaluateClassification(ctx context.Context, cfg *configs.Config, ckptPath string, dev gotch.Device, ks []int, batch, workers int, seed int64, bars barFunc) (map[string]float64, int, error) {
	mc, err := plainAt(cfg, "model")
	if err != nil {
		return nil, 0, err
	}
	// The trained checkpoint holds the backbone already: skip re-loading
	// the Pretrained file.
	if bc, ok := mc["backbone"].(map[string]any); ok {
		delete(bc, "init_cfg")
	}
	ck, err := checkpoint.Load(ckptPath)
	if err != nil {
		return nil, 0, err
	}
	p := model.NewPinned()
	defer p.Close()
	var cls *model.Classification
	err = p.Do(func() error {
		vs := nn.NewVarStore(dev)
		algo, err := model.BuildAlgorithm(vs, mc)
		if err != nil {
			return err
		}
		c, ok := algo.(*model.Classification)
		if !ok {
			return fmt.Errorf("model.type %s: want Classification or MMClsImageClassifierWrapper", algo.Type())
		}
		cls = c
		named, err := model.NamedFromCheckpoint(ck.StateDict)
		if err != nil {
			return fmt.Errorf("%s: %w", ckptPath, err)
		}
		defer model.DropNamed(named)
		if _, _, err := model.LoadStateDict(vs, named, true); err != nil {
			return fmt.Errorf("%s: %w", ckptPath, err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	ds, err := plainAt(cfg, "data.val")
	if err != nil {
		return nil, 0, err
	}
	srcCfg, _ := ds["data_source"].(map[string]any)
	src, err := data.Build(srcCfg)
	if err != nil {
		return nil, 0, fmt.Errorf("data.val.data_source: %w", err)
	}
	aug, err := buildViews(ds, uint64(seed))
	if err != nil {
		return nil, 0, fmt.Errorf("data.val: %w", err)
	}
	heads := cls.HeadNames()
	bar := bars.newBar("evaluate data.val", src.Len())
	defer bar.Finish()
	logits := func(x *ts.Tensor) (*ts.Tensor, error) {
		if sz, err := x.Size(); err == nil {
			defer bar.Add(int(sz[0]))
		}
		names, scores, err := cls.Logits(x)
		if err != nil {
			return nil, err
		}
		defer func() {
			for _, s := range scores {
				s.MustDrop()
			}
		}()
		heads = names
		parts := make([]ts.Tensor, len(scores))
		for i, s := range scores {
			parts[i] = *s
		}
		return ts.Cat(parts, 1)
	}
	f, err := actors.Extract(ctx, actors.ExtractOptions{Source: src, Augmenter: aug, Features: logits, Pinned: p, Device: dev,
		BatchSize: batch, Workers: workers})
	if err != nil {
		return nil, 0, fmt.Errorf("evaluate on data.val: %w", err)
	}
	acc, err := eval.HeadsAccuracy(f, heads, ks)
	return acc, f.N, err
}

// plainAt returns the config's dict at a dotted path as plain Go values.
func plainAt(cfg *configs.Config, path string) (map[string]any, error) {
	v, err := tree.Lookup(cfg.Tree, path)
	if err != nil {
		return nil, err
	}
	m, ok := tree.ToPlain(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a dict", path)
	}
	return m, nil
}

// openEvalRun settles an evaluation command's work dir (default: the
// config's, then the checkpoint's file stem, so runs on different
// checkpoints keep their results apart), creates it and opens its logger.
func openEvalRun(workDir *string, config, ckpt string) (*logx.Logger, error) {
	if *workDir == "" {
		*workDir = defaultWorkDir(config)
		if ckpt != "" {
			*workDir = filepath.Join(*workDir, strings.TrimSuffix(filepath.Base(ckpt), filepath.Ext(ckpt)))
		}
	}
	if err := os.MkdirAll(*workDir, 0o755); err != nil {
		return nil, err
	}
	return logx.New(logx.Options{JSONDir: *workDir, Console: evalConsole()})
}
