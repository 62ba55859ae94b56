package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/eval"
)

func init() { extraCommands = append(extraCommands, extractCmd) }

func extractCmd() *cobra.Command {
	var o layerOptions
	var dsConfig, workDir string
	var splits, opts []string
	c := &cobra.Command{
		Use:   "extract CONFIG",
		Short: "Write multi-pooled backbone features of a dataset to .npy files (MMSelfSup's extract.py)",
		Long: "extract builds CONFIG's backbone with out_indices = --layers, loads --checkpoint and writes, for each\n" +
			"--splits entry of --dataset-config, WORK_DIR/features/<split>_feat<i>.npy (N×D float32) and\n" +
			"<split>_feat<i>_labels.npy (int64), in dataset order.",
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
			paths, err := runExtract(context.Background(), cfg, dsCfg, splits, workDir, o)
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), p)
			}
			return err
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Checkpoint, "checkpoint", "", "weights (full checkpoint or backbone only; default random init)")
	fl.StringVar(&dsConfig, "dataset-config", "benchmarks/classification/knn_shapes-64px.yaml", "config with the data splits")
	fl.StringSliceVar(&splits, "splits", []string{"train", "val"}, "data.<split> entries to extract")
	fl.StringVar(&workDir, "work-dir", "", "output folder (default work_dirs/<config name>)")
	fl.StringArrayVar(&opts, "cfg-options", nil, "override a key of CONFIG")
	fl.StringSliceVar(&o.Layers, "layers", []string{"feat5"}, "backbone stages: feat1 (stem) … feat5 (layer4)")
	fl.StringVar(&o.PoolType, "pool-type", "adaptive", "multi-pooling: specified (ResNet-50 at 224 px) or adaptive")
	fl.IntVar(&o.Batch, "batch-size", 64, "images per forward pass")
	fl.IntVar(&o.Workers, "workers", 2, "augment workers")
	fl.Int64Var(&o.Seed, "seed", 0, "seed of the random init when no checkpoint is given")
	fl.StringVar(&o.Device, "device", "cpu", "cpu or cuda[:i]")
	return c
}

// runExtract extracts and writes the .npy files; it returns their paths.
func runExtract(ctx context.Context, cfg, dsCfg *configs.Config, splits []string, workDir string, o layerOptions) ([]string, error) {
	feats, stages, err := extractLayers(ctx, cfg, dsCfg, splits, o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(workDir, "features"), 0o755); err != nil {
		return nil, err
	}
	var paths []string
	type entry struct {
		Split    string `json:"split"`
		Layer    string `json:"layer"`
		Path     string `json:"path"`
		Samples  int    `json:"samples"`
		Dim      int    `json:"dim"`
		PoolType string `json:"pool_type"`
	}
	var summary []entry
	for _, split := range splits {
		for i, s := range stages {
			p := layerFileName(workDir, split, s)
			f := feats[split][i]
			if err := eval.WriteFeaturesNPY(p, f); err != nil {
				return paths, err
			}
			paths = append(paths, p)
			summary = append(summary, entry{Split: split, Layer: fmt.Sprintf("feat%d", s+1), Path: p, Samples: f.N, Dim: f.D, PoolType: o.PoolType})
		}
	}
	b, err := json.MarshalIndent(map[string]any{"checkpoint": o.Checkpoint, "features": summary}, "", "  ")
	if err != nil {
		return paths, err
	}
	return paths, os.WriteFile(filepath.Join(workDir, "features", "extract.json"), append(b, '\n'), 0o644)
}
