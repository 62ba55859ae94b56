package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/eval"
	"github.com/flowssl/flowssl/internal/progress"
)

func init() { extraCommands = append(extraCommands, tsneCmd) }

// tsneOptions are the tsne command's choices (visualize_tsne.py's arguments).
type tsneOptions struct {
	layerOptions
	Config, DatasetConfig, WorkDir string
	Opts                           []string
	LayerInd                       string
	TSNE                           eval.TSNEOptions
	// Stamp names the output folder tsne_<Stamp>; default the start time.
	Stamp string
}

// tsneLayer is one layer's entry in tsne.json.
type tsneLayer struct {
	Layer    string  `json:"layer"`
	Features string  `json:"features"`
	Picture  string  `json:"picture"`
	Samples  int     `json:"samples"`
	Dim      int     `json:"dim"`
	KL       float64 `json:"kl_divergence"`
	Iters    int     `json:"n_iter"`
}

// tsneResult is WORK_DIR/tsne_<stamp>/tsne.json.
type tsneResult struct {
	Config        string           `json:"config"`
	Checkpoint    string           `json:"checkpoint"`
	DatasetConfig string           `json:"dataset_config"`
	Dir           string           `json:"dir"`
	TSNE          eval.TSNEOptions `json:"tsne"`
	Layers        []tsneLayer      `json:"layers"`
}

func tsneCmd() *cobra.Command {
	o := tsneOptions{TSNE: eval.DefaultTSNEOptions()}
	c := &cobra.Command{
		Use:   "tsne CONFIG",
		Short: "t-SNE scatter plots of backbone features per layer (MMSelfSup's visualize_tsne.py)",
		Long: "tsne extracts multi-pooled features of --layer-ind from CONFIG's backbone (weights from --checkpoint) on\n" +
			"--dataset-config's data.extract split, keeping samples labelled below --max-num-class, embeds each layer\n" +
			"with t-SNE (scikit-learn's exact algorithm and defaults), normalises each axis to [0, 1] and draws a\n" +
			"scatter plot coloured by class with a legend. Output in WORK_DIR/tsne_<time>/: features/<name>_feat<i>.npy,\n" +
			"saved_pictures/feat<i>.png (10 inch square at 96 dpi: 960×960 px) and tsne.json.",
		Args: configArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Config = args[0]
			o.Opts = overrides(o.Opts, args)
			if o.WorkDir == "" {
				o.WorkDir = defaultWorkDir(o.Config)
			}
			res, err := runTSNE(context.Background(), o)
			if err != nil {
				return err
			}
			for _, l := range res.Layers {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d×%d features, KL %.4f after %d iterations → %s\n", l.Layer, l.Samples, l.Dim, l.KL, l.Iters, l.Picture)
			}
			return nil
		},
	}
	fl := c.Flags()
	// visualize_tsne.py still accepts the underscore spellings.
	fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
	})
	fl.StringVar(&o.Checkpoint, "checkpoint", "", "weights (full checkpoint or backbone only; default random init)")
	fl.StringVar(&o.DatasetConfig, "dataset-config", "benchmarks/classification/tsne_imagenet.yaml", "config with data.extract (and name)")
	fl.StringVar(&o.WorkDir, "work-dir", "", "parent of the tsne_<time> output folder (default work_dirs/<config name>)")
	fl.StringArrayVar(&o.Opts, "cfg-options", nil, "override a key of CONFIG")
	fl.StringVar(&o.LayerInd, "layer-ind", "0,1,2,3,4", "backbone stages to embed: 0 (stem) … 4 (layer4)")
	fl.StringVar(&o.PoolType, "pool-type", "specified", "multi-pooling: specified (ResNet-50 at 224 px) or adaptive")
	fl.IntVar(&o.MaxClass, "max-num-class", 20, "keep samples whose label is below this")
	fl.IntVar(&o.Batch, "batch-size", 0, "images per forward pass (default data.samples_per_gpu)")
	fl.IntVar(&o.Workers, "workers", 2, "augment workers")
	fl.Int64Var(&o.Seed, "seed", 0, "seed of the random init and of t-SNE")
	fl.StringVar(&o.Device, "device", "cpu", "cpu or cuda[:i]")
	fl.IntVar(&o.TSNE.Components, "n-components", o.TSNE.Components, "t-SNE output dimensions (the plot shows the first two)")
	fl.Float64Var(&o.TSNE.Perplexity, "perplexity", o.TSNE.Perplexity, "t-SNE perplexity")
	fl.Float64Var(&o.TSNE.EarlyExaggeration, "early-exaggeration", o.TSNE.EarlyExaggeration, "t-SNE early exaggeration")
	fl.Float64Var(&o.TSNE.LearningRate, "learning-rate", o.TSNE.LearningRate, "t-SNE learning rate")
	fl.IntVar(&o.TSNE.Iters, "n-iter", o.TSNE.Iters, "t-SNE iterations (at least 250)")
	fl.IntVar(&o.TSNE.ItersWithoutProgress, "n-iter-without-progress", o.TSNE.ItersWithoutProgress, "stop after this many iterations without progress")
	fl.StringVar(&o.TSNE.Init, "init", o.TSNE.Init, "t-SNE initialisation: random or pca")
	return c
}

// runTSNE extracts, embeds, plots and writes tsne.json.
func runTSNE(ctx context.Context, o tsneOptions) (*tsneResult, error) {
	cfg, err := loadConfig(o.Config, o.Opts)
	if err != nil {
		return nil, err
	}
	dsCfg, err := loadConfig(o.DatasetConfig, nil)
	if err != nil {
		return nil, err
	}
	for _, s := range strings.Split(o.LayerInd, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || i < 0 || i > 4 {
			return nil, fmt.Errorf("--layer-ind %q: want stage numbers 0..4", o.LayerInd)
		}
		o.Layers = append(o.Layers, fmt.Sprintf("feat%d", i+1))
	}
	if o.TSNE.Components < 2 {
		return nil, fmt.Errorf("--n-components %d: the plot needs at least 2", o.TSNE.Components)
	}
	if o.Batch <= 0 {
		o.Batch = 64
		if spec, err := configs.DecodeSpec(dsCfg); err == nil && spec.Data.BatchSize() > 0 {
			o.Batch = spec.Data.BatchSize()
		}
	}
	name := "features"
	if v, err := tree.Lookup(dsCfg.Tree, "name"); err == nil {
		if s, ok := tree.ToPlain(v).(string); ok && s != "" {
			name = s
		}
	}
	var classes []string
	if ds, err := plainAt(dsCfg, "data.extract.data_source"); err == nil {
		if src, err := data.Build(ds); err == nil {
			classes = src.ClassNames()
		}
	}
	feats, stages, err := extractLayers(ctx, cfg, dsCfg, []string{"extract"}, o.layerOptions)
	if err != nil {
		return nil, err
	}
	if o.Stamp == "" {
		o.Stamp = time.Now().Format("20060102_150405")
	}
	dir := filepath.Join(o.WorkDir, "tsne_"+o.Stamp)
	if err := os.MkdirAll(filepath.Join(dir, "features"), 0o755); err != nil {
		return nil, err
	}
	res := &tsneResult{Config: o.Config, Checkpoint: o.Checkpoint, DatasetConfig: o.DatasetConfig, Dir: dir, TSNE: o.TSNE}
	res.TSNE.Progress = nil
	for i, s := range stages {
		layer := fmt.Sprintf("feat%d", s+1)
		f := feats["extract"][i]
		l := tsneLayer{Layer: layer, Samples: f.N, Dim: f.D,
			Features: filepath.Join(dir, "features", name+"_"+layer+".npy"),
			Picture:  filepath.Join(dir, "saved_pictures", layer+".png")}
		if err := eval.WriteFeaturesNPY(l.Features, f); err != nil {
			return nil, err
		}
		to := o.TSNE
		to.Seed = uint64(o.Seed)
		bar := progress.New("t-SNE "+layer, to.Iters)
		to.Progress = func(done, _ int) { bar.Set(done) }
		emb, err := eval.TSNE(f, to)
		bar.Finish()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", layer, err)
		}
		l.KL, l.Iters = emb.KL, emb.Iters
		xy := make([]float64, 0, 2*emb.N)
		for r := 0; r < emb.N; r++ {
			xy = append(xy, emb.Y[r*emb.Components], emb.Y[r*emb.Components+1])
		}
		eval.MinMaxNormalize(xy, emb.N, 2)
		if err := eval.ScatterPNG(l.Picture, xy, f.Labels, eval.ScatterOptions{Title: layer, ClassNames: classes}); err != nil {
			return nil, err
		}
		res.Layers = append(res.Layers, l)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, os.WriteFile(filepath.Join(dir, "tsne.json"), append(b, '\n'), 0o644)
}
