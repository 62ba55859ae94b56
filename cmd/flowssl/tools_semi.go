package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/model"
)

func init() { extraCommands = append(extraCommands, semiCmd) }

// semiOptions are the semi command's choices.
type semiOptions struct {
	linearOptions
	// LabelFraction > 0 draws a class-balanced subset of data.train;
	// 0 takes the config's label_fraction key, and without it data.train
	// as it is (an ImageNet config whose ann_file is already the 1 % list).
	LabelFraction float64
	// SkipInitial skips evaluating the model before fine-tuning.
	SkipInitial bool
}

// semiResult is WORK_DIR/semi_eval.json.
type semiResult struct {
	linearResult
	LabelFraction float64            `json:"label_fraction"`
	Labelled      int                `json:"labelled_samples"`
	Of            int                `json:"of_samples"`
	List          string             `json:"list,omitempty"`
	Initial       map[string]float64 `json:"initial,omitempty"`
}

func semiCmd() *cobra.Command {
	var o semiOptions
	c := &cobra.Command{
		Use:   "semi CONFIG",
		Short: "Semi-supervised fine-tuning on a 1 % / 10 % label subset (MMSelfSup's imagenet_1percent / 10percent benchmarks)",
		Long: "semi fine-tunes CONFIG's whole Classification model (backbone from --checkpoint, lr and head lr_mult from the\n" +
			"config's optimizer.paramwise_options) on a labelled subset of data.train and reports top-1/top-5 on data.val.\n" +
			"With --label-fraction (or the config's label_fraction) the subset is drawn per class, deterministically from\n" +
			"--seed: round(fraction × class size) samples of each class, at least one; the list goes to\n" +
			"WORK_DIR/meta/train_<pct>.txt (images of in-memory sources are written beside it as PNG). Results, with the\n" +
			"accuracy of the model before fine-tuning, go to WORK_DIR/semi_eval.json.",
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
			res, err := runSemi(ctx, o)
			if err != nil {
				return err
			}
			keys := slices.Sorted(maps.Keys(res.Results))
			fmt.Fprintf(cmd.OutOrStdout(), "%d of %d training samples labelled\n", res.Labelled, res.Of)
			for _, k := range keys {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %.2f (before fine-tuning %.2f)\n", k, res.Results[k], res.Initial[k])
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&o.Checkpoint, "checkpoint", "", "pre-trained weights for the backbone (default: random init)")
	fl.StringVar(&o.WorkDir, "work-dir", "", "where the list, checkpoints, logs and semi_eval.json go (default work_dirs/<config name>/<checkpoint name>)")
	fl.StringArrayVar(&o.Opts, "cfg-options", nil, "override a config key: a.b.c=v (repeatable)")
	fl.Float64Var(&o.LabelFraction, "label-fraction", 0, "fraction of data.train to label, per class (default: the config's label_fraction, else all of data.train)")
	fl.Int64Var(&o.Seed, "seed", 0, "random seed (subset draw, init and training)")
	fl.BoolVar(&o.Deterministic, "deterministic", false, "bit-for-bit repeatable CPU runs (libtorch uses one thread)")
	fl.StringVar(&o.Device, "device", "cpu", "cpu or cuda[:i]")
	fl.IntVar(&o.Workers, "workers", 0, "augment workers (default: data.workers_per_gpu)")
	fl.IntVar(&o.Threads, "threads", 0, "libtorch intra-op threads (default: every core)")
	fl.IntVar(&o.EvalBatch, "eval-batch-size", 0, "images per forward pass in evaluation (default: data.samples_per_gpu)")
	fl.BoolVar(&o.SkipInitial, "skip-initial", false, "do not evaluate the model before fine-tuning")
	return c
}

// balancedSubset picks round(fraction·n_c) (at least 1) samples of each
// class c from labels, by a PCG seeded with (seed, c), and returns them in
// index order. Unlabelled samples (-1) are never picked.
func balancedSubset(labels []int, fraction float64, seed uint64) ([]int, error) {
	if fraction <= 0 || fraction > 1 {
		return nil, fmt.Errorf("label fraction %g outside (0, 1]", fraction)
	}
	byClass := map[int][]int{}
	for i, l := range labels {
		if l >= 0 {
			byClass[l] = append(byClass[l], i)
		}
	}
	if len(byClass) == 0 {
		return nil, fmt.Errorf("data.train has no labelled sample")
	}
	var out []int
	for c, rows := range byClass {
		n := max(1, int(math.Round(fraction*float64(len(rows)))))
		r := rand.New(rand.NewPCG(seed, uint64(c)+0x5e31))
		out = append(out, pickRows(r, rows, n)...)
	}
	sort.Ints(out)
	return out, nil
}

// pick draws n of rows without replacement (partial Fisher–Yates on a copy).
func pickRows(r *rand.Rand, rows []int, n int) []int {
	cp := append([]int(nil), rows...)
	for i := 0; i < n; i++ {
		j := i + r.IntN(len(cp)-i)
		cp[i], cp[j] = cp[j], cp[i]
	}
	return cp[:n]
}

// writeSubsetList writes the subset as an ImageList (MMSelfSup's
// "path label" lines) under dir and returns the data_source dict that
// reads it. File sources list their files' absolute paths; in-memory
// sources (Shapes, CIFAR, MNIST) have their images written as PNG.
func writeSubsetList(src data.Source, srcCfg map[string]any, idx []int, dir, name string) (map[string]any, string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "meta"), 0o755); err != nil {
		return nil, "", err
	}
	list := filepath.Join(dir, "meta", name)
	labels := src.Labels()
	var b strings.Builder
	ds := map[string]any{"_delete_": true, "type": "ImageList", "ann_file": list}
	for _, k := range []string{"color_type", "channel_order"} {
		if v, ok := srcCfg[k]; ok {
			ds[k] = v
		}
	}
	if names := src.ClassNames(); names != nil {
		cls := make([]any, len(names))
		for i, n := range names {
			cls[i] = n
		}
		ds["classes"] = cls
	}
	if files, ok := src.(*data.Files); ok {
		for _, i := range idx {
			p, err := filepath.Abs(files.Path(i))
			if err != nil {
				return nil, "", err
			}
			if strings.ContainsAny(p, " \t\n") {
				return nil, "", fmt.Errorf("%s: a list file cannot hold a path with whitespace", p)
			}
			fmt.Fprintf(&b, "%s %d\n", p, labels[i])
		}
		ds["data_prefix"] = ""
	} else {
		imgDir := filepath.Join(dir, "images")
		if err := os.MkdirAll(imgDir, 0o755); err != nil {
			return nil, "", err
		}
		for _, i := range idx {
			s, err := src.Get(i)
			if err != nil {
				return nil, "", err
			}
			if s.Image == nil {
				return nil, "", fmt.Errorf("sample %d (%s): no pixels and not a file source", i, s.Name)
			}
			if s.Image.C == 1 {
				ds["color_type"] = "grayscale"
			}
			rel := fmt.Sprintf("images/%07d.png", i)
			if err := writePNG(filepath.Join(dir, rel), s.Image.W, s.Image.H, s.Image.C, s.Image.Pix); err != nil {
				return nil, "", fmt.Errorf("sample %d: %w", i, err)
			}
			fmt.Fprintf(&b, "%s %d\n", rel, labels[i])
		}
		ds["data_prefix"] = dir
	}
	if err := os.WriteFile(list, []byte(b.String()), 0o644); err != nil {
		return nil, "", err
	}
	return ds, list, nil
}

// writePNG writes interleaved 8-bit grey (c=1) or RGB (c=3) pixels losslessly.
func writePNG(path string, w, h, c int, pix []byte) error {
	var img image.Image
	switch c {
	case 1:
		img = &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}
	case 3:
		rgba := image.NewNRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < w*h; i++ {
			copy(rgba.Pix[4*i:4*i+3], pix[3*i:3*i+3])
			rgba.Pix[4*i+3] = 255
		}
		img = rgba
	default:
		return fmt.Errorf("%d channels (want 1 or 3)", c)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// runSemi draws the label subset, evaluates the starting model, fine-tunes
// through runLinear's dataflow and writes semi_eval.json.
func runSemi(ctx context.Context, o semiOptions) (*semiResult, error) {
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, err
	}
	cfg, err := loadLinearConfig(o.linearOptions)
	if err != nil {
		return nil, err
	}
	frac := o.LabelFraction
	if frac == 0 {
		if v, err := tree.Lookup(cfg.Tree, "label_fraction"); err == nil {
			switch x := tree.ToPlain(v).(type) {
			case float64:
				frac = x
			case int:
				frac = float64(x)
			default:
				return nil, fmt.Errorf("%s: label_fraction %v: want a number", o.Config, x)
			}
		}
	}
	srcCfg, err := plainAt(cfg, "data.train.data_source")
	if err != nil {
		return nil, err
	}
	src, err := data.Build(srcCfg)
	if err != nil {
		return nil, fmt.Errorf("data.train.data_source: %w", err)
	}
	res := &semiResult{LabelFraction: frac, Of: src.Len(), Labelled: src.Len()}
	if frac > 0 {
		idx, err := balancedSubset(src.Labels(), frac, uint64(o.Seed))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Config, err)
		}
		name := fmt.Sprintf("train_%gpct_seed%d.txt", 100*frac, o.Seed)
		ds, list, err := writeSubsetList(src, srcCfg, idx, filepath.Join(o.WorkDir, "subset"), name)
		if err != nil {
			return nil, fmt.Errorf("label subset: %w", err)
		}
		res.Labelled, res.List = len(idx), list
		o.Extra = append(o.Extra, configs.Override{Key: "data.train.data_source", Value: plainToTree(ds)})
		if cfg, err = loadLinearConfig(o.linearOptions); err != nil {
			return nil, err
		}
	}
	if !o.SkipInitial {
		init := filepath.Join(o.WorkDir, "initial.pth")
		if err := saveInitialModel(cfg, o.Seed, init); err != nil {
			return nil, fmt.Errorf("initial model: %w", err)
		}
		dev, err := parseDevice(o.Device)
		if err != nil {
			return nil, err
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
		if res.Initial, _, err = evaluateClassification(ctx, cfg, init, dev, ks, batch, max(1, o.Workers), o.Seed, o.Bars); err != nil {
			return nil, fmt.Errorf("evaluate the initial model: %w", err)
		}
		os.Remove(init)
	}
	if o.TrainDesc == "" {
		o.TrainDesc = "semi fine-tune"
	}
	lr, err := runLinear(ctx, o.linearOptions)
	if err != nil {
		return nil, err
	}
	res.linearResult = *lr
	ev := o.Logger.Info().Int("labelled", res.Labelled).Int("of", res.Of)
	for k, v := range res.Initial {
		ev = ev.Float64("initial_"+k, v)
	}
	ev.Msg("semi-supervised evaluation")
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return nil, err
	}
	return res, os.WriteFile(filepath.Join(o.WorkDir, "semi_eval.json"), append(b, '\n'), 0o644)
}

// saveInitialModel builds cfg's model as training starts it (seeded as
// actors.Train seeds, pre-trained backbone loaded by its init_cfg) and
// saves its state_dict to path.
func saveInitialModel(cfg *configs.Config, seed int64, path string) error {
	mc, err := plainAt(cfg, "model")
	if err != nil {
		return err
	}
	p := model.NewPinned()
	defer p.Close()
	return p.Do(func() error {
		model.ManualSeed(seed)
		vs := nn.NewVarStore(gotch.CPU)
		if _, err := model.BuildAlgorithm(vs, mc); err != nil {
			return err
		}
		sd, err := model.StateDictToCheckpoint(model.StateDict(vs))
		if err != nil {
			return err
		}
		return (&checkpoint.Checkpoint{StateDict: sd}).Save(path)
	})
}

// plainToTree turns a map of plain values (strings, numbers, bools, []any
// of them) into the config tree's *tree.Map.
func plainToTree(m map[string]any) *tree.Map {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := tree.NewMap()
	for _, k := range keys {
		if sub, ok := m[k].(map[string]any); ok {
			out.Set(k, plainToTree(sub))
		} else {
			out.Set(k, m[k])
		}
	}
	return out
}
