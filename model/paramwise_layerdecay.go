package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// layerDecayEntries extends entries as MMSelfSup's
// TransformerFinetuneConstructor does (transformer_finetune_constructor.py)
// when layer_decay > 0. The network depth is read off the parameter names
// instead of the module: ViT blocks are backbone.layers.<i>.…, Swin blocks
// backbone.stages.<s>.blocks.<b>.…
func layerDecayEntries(entries []paramwiseEntry, names []string, modelType string, decay float64) ([]paramwiseEntry, error) {
	switch modelType {
	case "vit":
		return vitLayerDecay(entries, names, decay)
	case "swin":
		return swinLayerDecay(entries, names, decay)
	}
	return nil, fmt.Errorf("optimizer.model_type: layer-wise lr decay supports vit and swin, got %q", modelType)
}

// setEntry sets (merge=false) or updates (merge=true) the entry for
// pattern, keeping its position if present, else appends, like assigning
// to / updating a Python dict.
func setEntry(entries []paramwiseEntry, pattern string, opts map[string]any, merge bool) ([]paramwiseEntry, error) {
	for i := range entries {
		if entries[i].pattern != pattern {
			continue
		}
		if merge && entries[i].opts != nil {
			m := make(map[string]any, len(entries[i].opts)+len(opts))
			for k, v := range entries[i].opts {
				m[k] = v
			}
			for k, v := range opts {
				m[k] = v
			}
			opts = m
		}
		entries[i].opts = opts
		return entries, nil
	}
	re, err := compilePython(pattern)
	if err != nil {
		return nil, fmt.Errorf("optimizer: layer-decay pattern %q: %w", pattern, err)
	}
	return append(entries, paramwiseEntry{pattern: pattern, re: re, opts: opts}), nil
}

// vitLayerDecay: L = #blocks + 1, s_i = decay^(L−i); embeddings get s_0,
// block i gets s_{i+1}, everything else keeps 1.
func vitLayerDecay(entries []paramwiseEntry, names []string, decay float64) ([]paramwiseEntry, error) {
	blocks := 0
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, "backbone.layers."); ok {
			if i, err := strconv.Atoi(strings.SplitN(rest, ".", 2)[0]); err == nil && i+1 > blocks {
				blocks = i + 1
			}
		}
	}
	if blocks == 0 {
		return nil, fmt.Errorf("optimizer.layer_decay: model_type vit but no parameter is named backbone.layers.<i>.*")
	}
	L := blocks + 1
	scale := func(i int) float64 { return math.Pow(decay, float64(L-i)) }
	var err error
	for _, p := range []string{"pos_embed", "cls_token", "patch_embed"} {
		if entries, err = setEntry(entries, p, map[string]any{"lr_mult": scale(0)}, true); err != nil {
			return nil, err
		}
	}
	for i := 0; i < L-1; i++ {
		p := fmt.Sprintf(`backbone\.layers\.%d\.`, i)
		if entries, err = setEntry(entries, p, map[string]any{"lr_mult": scale(i + 1)}, false); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// swinLayerDecay: L = Σdepths + 2, s_j = decay^(L−1−j); every parameter
// name becomes its own pattern (used verbatim as a regex, as upstream).
func swinLayerDecay(entries []paramwiseEntry, names []string, decay float64) ([]paramwiseEntry, error) {
	var depths []int
	for _, n := range names {
		parts := strings.Split(n, ".")
		if len(parts) > 4 && parts[0] == "backbone" && parts[1] == "stages" && parts[3] == "blocks" {
			s, err1 := strconv.Atoi(parts[2])
			b, err2 := strconv.Atoi(parts[4])
			if err1 != nil || err2 != nil {
				continue
			}
			for len(depths) <= s {
				depths = append(depths, 0)
			}
			if b+1 > depths[s] {
				depths[s] = b + 1
			}
		}
	}
	if len(depths) == 0 {
		return nil, fmt.Errorf("optimizer.layer_decay: model_type swin but no parameter is named backbone.stages.<s>.blocks.<b>.*")
	}
	L := 2
	for _, d := range depths {
		L += d
	}
	var err error
	for _, n := range names {
		id, lerr := swinLayerID(n, L, depths)
		if lerr != nil {
			return nil, lerr
		}
		s := math.Pow(decay, float64(L-1-id))
		if entries, err = setEntry(entries, n, map[string]any{"lr_mult": s}, false); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

func swinLayerID(name string, L int, depths []int) (int, error) {
	sum := func(k int) int {
		t := 0
		for i := 0; i < k && i < len(depths); i++ {
			t += depths[i]
		}
		return t
	}
	switch {
	case strings.Contains(name, "mask_token"), strings.Contains(name, "patch_embed"):
		return 0, nil
	case strings.HasPrefix(name, "backbone.stages"):
		parts := strings.Split(name, ".")
		if len(parts) < 5 {
			return 0, fmt.Errorf("optimizer.layer_decay: cannot place swin parameter %q", name)
		}
		stage, err := strconv.Atoi(parts[2])
		if err != nil {
			return 0, fmt.Errorf("optimizer.layer_decay: cannot place swin parameter %q", name)
		}
		if parts[4] == "reduction" || parts[4] == "norm" {
			return sum(stage + 1), nil
		}
		b, err := strconv.Atoi(parts[4])
		if err != nil {
			return 0, fmt.Errorf("optimizer.layer_decay: cannot place swin parameter %q", name)
		}
		return sum(stage) + b + 1, nil
	}
	return L - 1, nil
}
