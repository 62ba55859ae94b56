package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/eval"
	"github.com/flowssl/flowssl/internal/progress"
	"github.com/flowssl/flowssl/model"
)

// layerOptions say which backbone stages to extract and how
// (MMSelfSup's MultiExtractProcess: feat{i+1} is stage i, multi-pooled).
type layerOptions struct {
	Checkpoint, Device, PoolType string
	Layers                       []string // feat1..feat5
	Batch, Workers               int
	Seed                         int64
	// MaxClass > 0 keeps only samples labelled below it (t-SNE's --max-num-class).
	MaxClass int
}

// parseLayers maps "feat1".."feat5" (or "0".."4") to stages 0..4.
func parseLayers(names []string) ([]int, error) {
	var out []int
	seen := map[int]bool{}
	for _, n := range names {
		s := strings.TrimPrefix(n, "feat")
		i, err := strconv.Atoi(s)
		if strings.HasPrefix(n, "feat") {
			i--
		}
		if err != nil || i < 0 || i > 4 {
			return nil, fmt.Errorf("--layers %q: want feat1..feat5", n)
		}
		if seen[i] {
			return nil, fmt.Errorf("--layers %q given twice", n)
		}
		seen[i] = true
		out = append(out, i)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--layers: none given")
	}
	return out, nil
}

// extractLayers builds CONFIG's backbone with out_indices = the layers,
// loads --checkpoint (see loadBackbone) and returns, for each split of
// dsCfg (data.<split>), one Features per layer in layer order.
func extractLayers(ctx context.Context, cfg, dsCfg *configs.Config, splits []string, o layerOptions) (map[string][]eval.Features, []int, error) {
	stages, err := parseLayers(o.Layers)
	if err != nil {
		return nil, nil, err
	}
	mc, err := plainAt(cfg, "model")
	if err != nil {
		return nil, nil, err
	}
	if ws, _ := mc["with_sobel"].(bool); ws {
		return nil, nil, fmt.Errorf("model.with_sobel: layer extraction of Sobel models is not supported")
	}
	bc, ok := mc["backbone"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("model.backbone: missing")
	}
	sorted := append([]int(nil), stages...)
	idx := make([]any, len(sorted))
	for i, s := range sorted {
		idx[i] = s
	}
	bc["out_indices"] = idx
	pre := ""
	if ic, ok := bc["init_cfg"].(map[string]any); ok && ic["type"] == "Pretrained" {
		pre, _ = ic["checkpoint"].(string)
	}
	delete(bc, "init_cfg")
	if o.Checkpoint != "" {
		pre = o.Checkpoint
	}
	dev, err := parseDevice(o.Device)
	if err != nil {
		return nil, nil, err
	}
	p := model.NewPinned()
	defer p.Close()
	var bb model.Backbone
	var order []int // stage of each backbone output
	err = p.Do(func() error {
		model.ManualSeed(o.Seed)
		vs := nn.NewVarStore(dev)
		var err error
		if bb, err = model.BuildBackbone(vs.Root().Sub("backbone"), bc); err != nil {
			return err
		}
		if pre != "" {
			return loadBackbone(vs, pre)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	order = ascendingUnique(stages)
	dims := make([]int, len(order))
	var bar *progress.Bar // the current split's
	feature := func(x *ts.Tensor) (*ts.Tensor, error) {
		var out *ts.Tensor
		if sz, err := x.Size(); err == nil {
			defer bar.Add(int(sz[0]))
		}
		err := model.WithoutGrad(func() error {
			feats, err := bb.Forward(x, false)
			if err != nil {
				return err
			}
			defer func() {
				for _, f := range feats {
					f.MustDrop()
				}
			}()
			if len(feats) != len(order) {
				return fmt.Errorf("backbone returned %d outputs for stages %v", len(feats), order)
			}
			parts := make([]ts.Tensor, len(feats))
			for i, f := range feats {
				pf, err := model.MultiPool(f, order[i], o.PoolType)
				if err != nil {
					return err
				}
				defer pf.MustDrop()
				dims[i] = int(pf.MustSize()[1])
				parts[i] = *pf
			}
			out, err = ts.Cat(parts, 1)
			return err
		})
		return out, err
	}
	res := map[string][]eval.Features{}
	for _, split := range splits {
		ds, err := plainAt(dsCfg, "data."+split)
		if err != nil {
			return nil, nil, err
		}
		srcCfg, _ := ds["data_source"].(map[string]any)
		src, err := data.Build(srcCfg)
		if err != nil {
			return nil, nil, fmt.Errorf("data.%s.data_source: %w", split, err)
		}
		if o.MaxClass > 0 {
			if src, err = newSubset(src, belowClass(src, o.MaxClass)); err != nil {
				return nil, nil, err
			}
			if src.Len() == 0 {
				return nil, nil, fmt.Errorf("data.%s: no sample has a label below %d", split, o.MaxClass)
			}
		}
		bar = progress.New("extract data."+split, src.Len())
		aug, err := buildViews(ds, uint64(o.Seed))
		if err != nil {
			return nil, nil, fmt.Errorf("data.%s: %w", split, err)
		}
		all, err := actors.Extract(ctx, actors.ExtractOptions{Source: src, Augmenter: aug, Features: feature, Pinned: p,
			Device: dev, BatchSize: max(1, o.Batch), Workers: max(1, o.Workers)})
		bar.Finish()
		if err != nil {
			return nil, nil, fmt.Errorf("extract data.%s: %w", split, err)
		}
		byStage := map[int]eval.Features{}
		off := 0
		for i, s := range order {
			f := eval.Features{N: all.N, D: dims[i], Labels: all.Labels, Data: make([]float32, 0, all.N*dims[i])}
			for r := 0; r < all.N; r++ {
				f.Data = append(f.Data, all.Data[r*all.D+off:r*all.D+off+dims[i]]...)
			}
			byStage[s] = f
			off += dims[i]
		}
		for _, s := range stages {
			res[split] = append(res[split], byStage[s])
		}
	}
	return res, stages, nil
}

func ascendingUnique(xs []int) []int {
	seen := map[int]bool{}
	var out []int
	for i := 0; i <= 4; i++ {
		for _, x := range xs {
			if x == i && !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	return out
}
