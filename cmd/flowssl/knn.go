package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/eval"
	"github.com/flowssl/flowssl/internal/progress"
	"github.com/flowssl/flowssl/model"
)

func init() { extraCommands = append(extraCommands, knnCmd) }

func knnCmd() *cobra.Command {
	var ckpt, dsConfig, workDir, device string
	var opts []string
	var ks []int
	var temp float64
	var workers, batch int
	var seed int64
	c := &cobra.Command{
		Use:   "knn CONFIG",
		Short: "Weighted k-NN classification on frozen backbone features (MMSelfSup's kNN benchmark)",
		Long: "knn builds CONFIG's model (a self-supervised config), loads --checkpoint (a full flowssl/MMSelfSup\n" +
			"checkpoint or extracted backbone weights; random init without it), extracts L2-normalised features of\n" +
			"--dataset-config's train and val splits, and reports top-1/top-5 for each k (T = --temperature).",
		Args: configArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(args[0], overrides(opts, args))
			if err != nil {
				return err
			}
			dsCfg, err := loadConfig(dsConfig, nil)
			if err != nil {
				return err
			}
			if workDir == "" {
				workDir = defaultWorkDir(args[0])
			}
			res, err := runKNN(cfg, dsCfg, ckpt, device, ks, temp, workers, batch, seed)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, r := range res {
				fmt.Fprintf(out, "%d-NN classifier result: Top1: %.2f, Top5: %.2f\n", r.K, r.Top1, r.Top5)
			}
			if err := os.MkdirAll(workDir, 0o755); err != nil {
				return err
			}
			path := filepath.Join(workDir, "knn_"+time.Now().Format("20060102_150405")+".json")
			b, _ := json.MarshalIndent(map[string]any{"config": args[0], "checkpoint": ckpt, "dataset_config": dsConfig,
				"temperature": temp, "results": res}, "", "  ")
			return os.WriteFile(path, b, 0o644)
		},
	}
	fl := c.Flags()
	fl.StringVar(&ckpt, "checkpoint", "", "checkpoint to evaluate (default: random init)")
	fl.StringVar(&dsConfig, "dataset-config", "benchmarks/classification/knn_imagenet.yaml", "config with data.train and data.val")
	fl.StringVar(&workDir, "work-dir", "", "where the JSON result goes (default work_dirs/<config name>)")
	fl.StringArrayVar(&opts, "cfg-options", nil, "override a key of CONFIG")
	fl.IntSliceVar(&ks, "num-knn", []int{10, 20, 100, 200}, "values of k")
	fl.Float64Var(&temp, "temperature", 0.07, "vote temperature")
	fl.IntVar(&workers, "workers", 2, "augment workers")
	fl.IntVar(&batch, "batch-size", 64, "images per forward pass")
	fl.Int64Var(&seed, "seed", 0, "seed of the random init when no checkpoint is given")
	fl.StringVar(&device, "device", "cpu", "cpu or cuda[:i]")
	return c
}

func runKNN(cfg, dsCfg *configs.Config, ckptPath, deviceName string, ks []int, temp float64, workers, batch int, seed int64) ([]eval.KNNResult, error) {
	dev, err := parseDevice(deviceName)
	if err != nil {
		return nil, err
	}
	mv, err := tree.Lookup(cfg.Tree, "model")
	if err != nil {
		return nil, err
	}
	modelCfg, _ := tree.ToPlain(mv).(map[string]any)
	p := model.NewPinned()
	defer p.Close()
	var algo model.Algorithm
	err = p.Do(func() error {
		model.ManualSeed(seed)
		vs := nn.NewVarStore(dev)
		var err error
		if algo, err = model.BuildAlgorithm(vs, modelCfg); err != nil {
			return err
		}
		if ckptPath == "" {
			return nil
		}
		return loadBackbone(vs, ckptPath)
	})
	if err != nil {
		return nil, err
	}
	split := func(name string) (eval.Features, error) {
		dv, err := tree.Lookup(dsCfg.Tree, "data."+name)
		if err != nil {
			return eval.Features{}, err
		}
		ds, _ := tree.ToPlain(dv).(map[string]any)
		srcCfg, _ := ds["data_source"].(map[string]any)
		src, err := data.Build(srcCfg)
		if err != nil {
			return eval.Features{}, fmt.Errorf("data.%s.data_source: %w", name, err)
		}
		aug, err := buildViews(ds, uint64(seed))
		if err != nil {
			return eval.Features{}, fmt.Errorf("data.%s: %w", name, err)
		}
		bar := progress.New("kNN extract data."+name, src.Len())
		defer bar.Finish()
		features := func(x *ts.Tensor) (*ts.Tensor, error) {
			if sz, err := x.Size(); err == nil && len(sz) > 0 {
				defer bar.Add(int(sz[0]))
			}
			return algo.Features(x)
		}
		return actors.Extract(context.Background(), actors.ExtractOptions{Source: src, Augmenter: aug, Features: features,
			Pinned: p, Device: dev, BatchSize: batch, Workers: workers})
	}
	train, err := split("train")
	if err != nil {
		return nil, err
	}
	val, err := split("val")
	if err != nil {
		return nil, err
	}
	classes := 0
	for _, l := range append(append([]int(nil), train.Labels...), val.Labels...) {
		classes = max(classes, l+1)
	}
	var res []eval.KNNResult
	err = p.Do(func() error {
		var err error
		res, err = eval.KNN(train, val, ks, temp, classes)
		return err
	})
	return res, err
}

// loadBackbone loads a checkpoint's backbone into vs: a full checkpoint
// (keys "backbone.*", which MoCo and BYOL checkpoints carry as aliases) or extracted backbone
// weights (no prefix), non-strictly; it fails if no backbone key matched.
func loadBackbone(vs *nn.VarStore, path string) error {
	ck, err := checkpoint.Load(path)
	if err != nil {
		return err
	}
	named, err := model.NamedFromCheckpoint(ck.StateDict)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer model.DropNamed(named)
	full := false
	for _, e := range named {
		if strings.HasPrefix(e.Name, "backbone.") {
			full = true
			break
		}
	}
	if !full {
		for i := range named {
			named[i].Name = "backbone." + named[i].Name
		}
	}
	var own []model.Named
	for _, e := range named {
		if strings.HasPrefix(e.Name, "backbone.") {
			own = append(own, e)
		}
	}
	missing, _, err := model.LoadStateDict(vs, own, false)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, m := range missing {
		if strings.HasPrefix(m, "backbone.") {
			return fmt.Errorf("%s: backbone key %s missing", path, m)
		}
	}
	if len(own) == 0 {
		return fmt.Errorf("%s: no backbone weights", path)
	}
	return nil
}
