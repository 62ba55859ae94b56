package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowssl/flowssl/eval"
	"github.com/flowssl/flowssl/internal/progress"
)

func init() { extraCommands = append(extraCommands, svmCmd) }

// svmOptions are the svm command's choices.
type svmOptions struct {
	layerOptions
	Config, DatasetConfig, WorkDir string
	Opts                           []string
	LowShot                        bool
	Ks                             []int
	Samples                        int
	Costs                          []float64
}

// svmLayerResult is one layer's entry in svm.json.
type svmLayerResult struct {
	Layer   string               `json:"layer"`
	Full    *eval.SVMReport      `json:"svm,omitempty"`
	LowShot []eval.LowShotResult `json:"low_shot,omitempty"`
}

func svmCmd() *cobra.Command {
	var o svmOptions
	c := &cobra.Command{
		Use:   "svm CONFIG",
		Short: "SVM and low-shot SVM classification on frozen backbone features (MMSelfSup's VOC07 SVM protocol)",
		Long: "svm extracts multi-pooled features of --layers from CONFIG's backbone (weights from --checkpoint) on\n" +
			"--dataset-config's train and val splits, trains one-vs-rest linear SVMs over MMSelfSup's cost grid\n" +
			"(3-fold CV AP picks the cost per class) and reports test mAP and arg-max top-1; --low-shot runs the\n" +
			"low-shot variant (k samples per class, --samples draws). Results go to WORK_DIR/svm.json.",
		Args: configArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Config = args[0]
			o.Opts = overrides(o.Opts, args)
			if o.WorkDir == "" {
				o.WorkDir = defaultWorkDir(o.Config)
			}
			res, err := runSVM(context.Background(), o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, r := range res {
				if r.Full != nil {
					fmt.Fprintf(out, "%s: SVM mAP %.2f, top-1 %.2f\n", r.Layer, r.Full.MeanAP, r.Full.Top1)
				}
				for _, l := range r.LowShot {
					fmt.Fprintf(out, "%s: k=%d low-shot mAP %.2f (min %.2f, max %.2f, std %.2f) at cost %g\n", r.Layer, l.K, l.Mean, l.Min, l.Max, l.Std, l.Cost)
				}
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Checkpoint, "checkpoint", "", "weights (full checkpoint or backbone only; default random init)")
	fl.StringVar(&o.DatasetConfig, "dataset-config", "benchmarks/classification/knn_shapes-64px.yaml", "config with data.train and data.val")
	fl.StringVar(&o.WorkDir, "work-dir", "", "where svm.json goes (default work_dirs/<config name>)")
	fl.StringArrayVar(&o.Opts, "cfg-options", nil, "override a key of CONFIG")
	fl.StringSliceVar(&o.Layers, "layers", []string{"feat5"}, "backbone stages: feat1 (stem) … feat5 (layer4)")
	fl.StringVar(&o.PoolType, "pool-type", "adaptive", "multi-pooling: specified (ResNet-50 at 224 px) or adaptive")
	fl.BoolVar(&o.LowShot, "low-shot", false, "run the low-shot protocol instead of the full one")
	fl.IntSliceVar(&o.Ks, "k", []int{1, 2, 4, 8, 16, 32, 64, 96}, "low-shot samples per class")
	fl.IntVar(&o.Samples, "samples", 5, "low-shot draws per k")
	fl.Float64SliceVar(&o.Costs, "costs", nil, "SVM costs (default MMSelfSup's 19)")
	fl.IntVar(&o.Batch, "batch-size", 64, "images per forward pass")
	fl.IntVar(&o.Workers, "workers", 2, "augment workers (and parallel SVM fits)")
	fl.Int64Var(&o.Seed, "seed", 0, "seed of the random init and the low-shot draws")
	fl.StringVar(&o.Device, "device", "cpu", "cpu or cuda[:i]")
	return c
}

func runSVM(ctx context.Context, o svmOptions) ([]svmLayerResult, error) {
	cfg, err := loadConfig(o.Config, o.Opts)
	if err != nil {
		return nil, err
	}
	dsCfg, err := loadConfig(o.DatasetConfig, nil)
	if err != nil {
		return nil, err
	}
	feats, stages, err := extractLayers(ctx, cfg, dsCfg, []string{"train", "val"}, o.layerOptions)
	if err != nil {
		return nil, err
	}
	opts := eval.SVMOptions{Costs: o.Costs, Seed: uint64(o.Seed), Workers: max(1, o.Workers)}
	var out []svmLayerResult
	for i, s := range stages {
		r := svmLayerResult{Layer: fmt.Sprintf("feat%d", s+1)}
		tr, te := feats["train"][i], feats["val"][i]
		classes := 0
		for _, l := range append(append([]int(nil), tr.Labels...), te.Labels...) {
			classes = max(classes, l+1)
		}
		jobs := classes
		if o.LowShot {
			jobs *= len(o.Ks) * o.Samples
		}
		bar := progress.New("SVM "+r.Layer, jobs)
		opts.Progress = func() { bar.Add(1) }
		if o.LowShot {
			r.LowShot, err = eval.LowShotSVM(tr, te, o.Ks, o.Samples, opts)
		} else {
			r.Full, err = eval.SVMEvaluate(tr, te, opts)
		}
		bar.Finish()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Layer, err)
		}
		out = append(out, r)
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, err
	}
	name := "svm.json"
	if o.LowShot {
		name = "svm_lowshot.json"
	}
	b, err := json.MarshalIndent(map[string]any{"config": o.Config, "checkpoint": o.Checkpoint,
		"dataset_config": o.DatasetConfig, "pool_type": o.PoolType, "results": out}, "", "  ")
	if err != nil {
		return nil, err
	}
	return out, os.WriteFile(filepath.Join(o.WorkDir, name), append(b, '\n'), 0o644)
}

// layerFileName is features/<split>_<feat>.npy.
func layerFileName(dir, split string, stage int) string {
	return filepath.Join(dir, "features", strings.ReplaceAll(split, "/", "_")+fmt.Sprintf("_feat%d.npy", stage+1))
}
