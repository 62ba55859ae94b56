package model

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// namedParams makes one tiny tensor per name (requires_grad unless the
// name is in frozen).
func namedParams(t *testing.T, names []string, frozen ...string) []Param {
	t.Helper()
	ps := make([]Param, len(names))
	for i, n := range names {
		x, err := ts.Zeros([]int64{1}, gotch.Float, gotch.CPU)
		if err != nil {
			t.Fatal(err)
		}
		req := true
		for _, f := range frozen {
			req = req && f != n
		}
		y, err := x.SetRequiresGrad(req, true)
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = Param{Name: n, T: y}
	}
	return ps
}

var resnetNames = []string{
	"backbone.conv1.weight",
	"backbone.bn1.weight",
	"backbone.bn1.bias",
	"backbone.layer1.0.conv1.weight",
	"backbone.layer1.0.bn3.weight",
	"backbone.layer1.0.bn3.bias",
	"backbone.layer1.0.downsample.0.weight",
	"backbone.layer1.0.downsample.1.weight",
	"backbone.layer1.0.downsample.1.bias",
	"backbone.layer4.2.bn2.weight",
	"neck.fc0.weight",
	"neck.bn0.weight",
	"neck.fc1.weight",
	"neck.bn1.bias",
	"head.predictor.fc0.weight",
	"head.predictor.fc0.bias",
	"head.fc_cls.weight",
	"head.fc_cls.bias",
}

// TestParamwiseResNet checks the groups built from shipped configs
// (algorithms.md §§5, 9, 11, 13) over ResNet-style names, including the
// spec's quirks: SimCLR/BYOL keep decay and LARS on downsample.1.weight.
func TestParamwiseResNet(t *testing.T) {
	lockThread(t)
	ps := namedParams(t, resnetNames, "backbone.conv1.weight")
	defer dropParams(ps)
	type want struct {
		lr, wd, mom float64
		excl, fix   bool
	}
	bnExcl := map[string]any{"weight_decay": 0.0, "lars_exclude": true}
	tests := []struct {
		name string
		cfg  map[string]any
		want map[string]want // unlisted names: the defaults (first entry "")
	}{
		{"simclr", map[string]any{"type": "LARS", "lr": 0.3, "momentum": 0.9, "weight_decay": 1e-6,
			"paramwise_options": map[string]any{`(bn|gn)(\d+)?.(weight|bias)`: bnExcl, "bias": bnExcl}},
			map[string]want{
				"":                                      {0.3, 1e-6, 0.9, false, false},
				"backbone.bn1.weight":                   {0.3, 0, 0.9, true, false},
				"backbone.bn1.bias":                     {0.3, 0, 0.9, true, false},
				"backbone.layer1.0.bn3.weight":          {0.3, 0, 0.9, true, false},
				"backbone.layer1.0.bn3.bias":            {0.3, 0, 0.9, true, false},
				"backbone.layer1.0.downsample.1.bias":   {0.3, 0, 0.9, true, false},
				"backbone.layer4.2.bn2.weight":          {0.3, 0, 0.9, true, false},
				"neck.bn0.weight":                       {0.3, 0, 0.9, true, false},
				"neck.bn1.bias":                         {0.3, 0, 0.9, true, false},
				"head.predictor.fc0.bias":               {0.3, 0, 0.9, true, false},
				"head.fc_cls.bias":                      {0.3, 0, 0.9, true, false},
				"backbone.layer1.0.downsample.1.weight": {0.3, 1e-6, 0.9, false, false}, // quirk §19.1
			}},
		{"barlowtwins", map[string]any{"type": "LARS", "lr": 1.6, "momentum": 0.9, "weight_decay": 1e-6,
			"paramwise_options": []PatternOptions{
				{`(bn|gn)(\d+)?.(weight|bias)`, map[string]any{"weight_decay": 0.0, "lr_mult": 0.024, "lars_exclude": true}},
				{"bias", map[string]any{"weight_decay": 0, "lr_mult": 0.024, "lars_exclude": true}},
				{"downsample.1", map[string]any{"weight_decay": 0, "lr_mult": 0.024, "lars_exclude": true}}}},
			map[string]want{
				"":                                      {1.6, 1e-6, 0.9, false, false},
				"backbone.bn1.weight":                   {1.6 * 0.024, 0, 0.9, true, false},
				"backbone.layer1.0.downsample.1.weight": {1.6 * 0.024, 0, 0.9, true, false},
				"backbone.layer1.0.downsample.1.bias":   {1.6 * 0.024, 0, 0.9, true, false},
				"backbone.bn1.bias":                     {1.6 * 0.024, 0, 0.9, true, false},
				"backbone.layer1.0.bn3.weight":          {1.6 * 0.024, 0, 0.9, true, false},
				"backbone.layer1.0.bn3.bias":            {1.6 * 0.024, 0, 0.9, true, false},
				"neck.bn0.weight":                       {1.6 * 0.024, 0, 0.9, true, false},
				"neck.bn1.bias":                         {1.6 * 0.024, 0, 0.9, true, false},
				"head.predictor.fc0.bias":               {1.6 * 0.024, 0, 0.9, true, false},
				"head.fc_cls.bias":                      {1.6 * 0.024, 0, 0.9, true, false},
				"backbone.layer4.2.bn2.weight":          {1.6 * 0.024, 0, 0.9, true, false},
			}},
		{"odc head momentum 0", map[string]any{"type": "SGD", "lr": 0.06, "momentum": 0.9, "weight_decay": 1e-5,
			"paramwise_options": map[string]any{`\Ahead.`: map[string]any{"momentum": 0.0}}},
			map[string]want{
				"":                          {0.06, 1e-5, 0.9, false, false},
				"head.predictor.fc0.weight": {0.06, 1e-5, 0, false, false},
				"head.predictor.fc0.bias":   {0.06, 1e-5, 0, false, false},
				"head.fc_cls.weight":        {0.06, 1e-5, 0, false, false},
				"head.fc_cls.bias":          {0.06, 1e-5, 0, false, false},
			}},
		{"simsiam fix_lr", map[string]any{"type": "SGD", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-4,
			"paramwise_options": map[string]any{"predictor": map[string]any{"fix_lr": true}}},
			map[string]want{
				"":                          {0.05, 1e-4, 0.9, false, false},
				"head.predictor.fc0.weight": {0.05, 1e-4, 0.9, false, true},
				"head.predictor.fc0.bias":   {0.05, 1e-4, 0.9, false, true},
			}},
		{"semi-supervised head lr_mult, momentum_mult", map[string]any{"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4,
			"paramwise_options": map[string]any{`\Ahead.`: map[string]any{"lr_mult": 100, "momentum_mult": 0.5}, "norm_decay_mult": 0.0}},
			map[string]want{
				"":                          {0.01, 5e-4, 0.9, false, false},
				"head.predictor.fc0.weight": {1, 5e-4, 0.45, false, false},
				"head.predictor.fc0.bias":   {1, 5e-4, 0.45, false, false},
				"head.fc_cls.weight":        {1, 5e-4, 0.45, false, false},
				"head.fc_cls.bias":          {1, 5e-4, 0.45, false, false},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt, err := BuildOptimizer(ps, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer opt.Close()
			if len(opt.Groups()) != len(ps) {
				t.Fatalf("%d groups, want one per parameter (%d)", len(opt.Groups()), len(ps))
			}
			for i, g := range opt.Groups() {
				name := ps[i].Name
				w, ok := tc.want[name]
				if !ok || name == "backbone.conv1.weight" { // frozen: defaults, no options
					w = tc.want[""]
				}
				if g.Params[0] != i || !relClose(g.LR, w.lr, 1e-12) || !relClose(g.WeightDecay, w.wd, 1e-12) && g.WeightDecay != w.wd ||
					g.Momentum != w.mom && !relClose(g.Momentum, w.mom, 1e-12) || g.LarsExclude != w.excl || g.FixLR != w.fix || g.InitialLR != g.LR {
					t.Errorf("%s: group %+v, want %+v", name, *g, w)
				}
			}
		})
	}
}

// TestParamwiseMAE: norm/bias/pos_embed/mask_token/cls_token → wd 0, and
// the spec's quirk that ViT LayerNorms named ln1/ln2 keep their decay.
func TestParamwiseMAE(t *testing.T) {
	lockThread(t)
	names := []string{"backbone.cls_token", "backbone.pos_embed", "backbone.patch_embed.projection.weight",
		"backbone.layers.0.ln1.weight", "backbone.layers.0.ln1.bias", "backbone.layers.0.attn.qkv.weight",
		"backbone.ln1.weight", "neck.mask_token", "neck.decoder_norm.weight", "neck.decoder_pred.weight"}
	ps := namedParams(t, names, "backbone.pos_embed")
	defer dropParams(ps)
	zero := map[string]any{"weight_decay": 0.0}
	opt, err := BuildOptimizer(ps, map[string]any{"type": "AdamW", "lr": 2.4e-3, "betas": []any{0.9, 0.95}, "weight_decay": 0.05,
		"paramwise_options": map[string]any{"norm": zero, "bias": zero, "pos_embed": zero, "mask_token": zero, "cls_token": zero}})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	wantWD := map[string]float64{"backbone.cls_token": 0, "backbone.pos_embed": 0.05 /* frozen: defaults */, "backbone.patch_embed.projection.weight": 0.05,
		"backbone.layers.0.ln1.weight": 0.05, "backbone.layers.0.ln1.bias": 0, "backbone.layers.0.attn.qkv.weight": 0.05,
		"backbone.ln1.weight": 0.05, "neck.mask_token": 0, "neck.decoder_norm.weight": 0, "neck.decoder_pred.weight": 0.05}
	for i, g := range opt.Groups() {
		if g.WeightDecay != wantWD[names[i]] || g.Betas != [2]float64{0.9, 0.95} || g.Eps != 1e-8 || g.LR != 2.4e-3 {
			t.Errorf("%s: %+v, want wd %v betas (0.9,0.95) eps 1e-8", names[i], *g, wantWD[names[i]])
		}
	}
}

// TestLayerDecayViT: ViT-B fine-tune, layer_decay 0.65 over 12 blocks:
// embeddings 0.65^13, block i 0.65^(12−i), the rest ×1 (components.md §7.2).
func TestLayerDecayViT(t *testing.T) {
	lockThread(t)
	names := []string{"backbone.cls_token", "backbone.pos_embed", "backbone.patch_embed.projection.weight",
		"backbone.patch_embed.projection.bias"}
	for i := 0; i < 12; i++ {
		names = append(names, "backbone.layers."+itoa(i)+".attn.qkv.weight", "backbone.layers."+itoa(i)+".ln1.bias")
	}
	names = append(names, "backbone.fc_norm.weight", "head.head.weight", "head.head.bias")
	ps := namedParams(t, names)
	defer dropParams(ps)
	zero := map[string]any{"weight_decay": 0.0}
	opt, err := BuildOptimizer(ps, map[string]any{"type": "AdamW", "lr": 4e-3, "betas": []any{0.9, 0.999}, "weight_decay": 0.05,
		"constructor": "TransformerFinetuneConstructor", "model_type": "vit", "layer_decay": 0.65,
		"paramwise_options": map[string]any{"norm": zero, "bias": zero, "pos_embed": zero, "cls_token": zero}})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	for i, g := range opt.Groups() {
		n := names[i]
		scale := 1.0
		switch {
		case strings.Contains(n, "cls_token"), strings.Contains(n, "pos_embed"), strings.Contains(n, "patch_embed"):
			scale = math.Pow(0.65, 13)
		case strings.HasPrefix(n, "backbone.layers."):
			scale = math.Pow(0.65, float64(12-atoiPrefix(strings.TrimPrefix(n, "backbone.layers."))))
		}
		wd := 0.05
		if strings.Contains(n, "norm") || strings.Contains(n, "bias") || strings.Contains(n, "pos_embed") || strings.Contains(n, "cls_token") {
			wd = 0
		}
		if !relClose(g.LR, 4e-3*scale, 1e-12) || g.WeightDecay != wd {
			t.Errorf("%s: lr %.6g wd %v, want lr %.6g wd %v", n, g.LR, g.WeightDecay, 4e-3*scale, wd)
		}
	}
}

// TestLayerDecaySwin: Swin with depths [2,2,6,2] (L = 14), decay 0.9:
// id 0 for patch_embed/mask_token, Σdepths[:s]+b+1 for blocks,
// Σdepths[:s+1] for downsample, L−1 otherwise; scale 0.9^(L−1−id).
func TestLayerDecaySwin(t *testing.T) {
	lockThread(t)
	depths := []int{2, 2, 6, 2}
	names := []string{"backbone.patch_embed.projection.weight", "backbone.mask_token"}
	for s, d := range depths {
		for b := 0; b < d; b++ {
			names = append(names, "backbone.stages."+itoa(s)+".blocks."+itoa(b)+".attn.w_msa.qkv.weight")
		}
		if s < 3 {
			names = append(names, "backbone.stages."+itoa(s)+".downsample.reduction.weight", "backbone.stages."+itoa(s)+".downsample.norm.weight")
		}
	}
	names = append(names, "backbone.norm3.weight", "head.fc.weight")
	ps := namedParams(t, names)
	defer dropParams(ps)
	opt, err := BuildOptimizer(ps, map[string]any{"type": "AdamW", "lr": 5e-3, "weight_decay": 0.05,
		"constructor": "TransformerFinetuneConstructor", "model_type": "swin", "layer_decay": 0.9})
	if err != nil {
		t.Fatal(err)
	}
	defer opt.Close()
	want := map[string]int{"backbone.patch_embed.projection.weight": 0, "backbone.mask_token": 0,
		"backbone.stages.0.blocks.1.attn.w_msa.qkv.weight": 2, "backbone.stages.0.downsample.norm.weight": 2,
		"backbone.stages.2.blocks.0.attn.w_msa.qkv.weight": 5, "backbone.stages.2.blocks.5.attn.w_msa.qkv.weight": 10,
		"backbone.stages.2.downsample.reduction.weight": 10, "backbone.stages.3.blocks.1.attn.w_msa.qkv.weight": 12,
		"backbone.norm3.weight": 13, "head.fc.weight": 13}
	for i, g := range opt.Groups() {
		id, ok := want[names[i]]
		if !ok {
			continue
		}
		if w := 5e-3 * math.Pow(0.9, float64(13-id)); !relClose(g.LR, w, 1e-12) {
			t.Errorf("%s: lr %.6g, want %.6g (layer id %d)", names[i], g.LR, w, id)
		}
	}
}

// TestPatternsMatchPythonRe runs every pattern used by the shipped configs
// (plus anchors and \Z) through Python's re.search and compares.
func TestPatternsMatchPythonRe(t *testing.T) {
	patterns := []string{`(bn|gn)(\d+)?.(weight|bias)`, "bias", "downsample.1", `\Ahead.`, `\Aneck.`, "predictor",
		"norm", "pos_embed", "mask_token", "cls_token", "gamma", "absolute_pos_embed", "relative_position_bias_table",
		`backbone\.layers\.1\.`, `weight\Z`, `^backbone\.layer(1|2)\.\d+\.bn\d`, "prototypes"}
	names := append(append([]string{}, resnetNames...), "backbone.layers.1.ln1.weight", "backbone.layers.10.ln1.weight",
		"backbone.stages.0.blocks.0.attn.w_msa.relative_position_bias_table", "backbone.absolute_pos_embed",
		"neck.norm_regressor.weight", "backbone.layers.0.gamma_1", "head.prototypes.weight", "xhead.fc.weight", "sgn1.bias")
	in, _ := json.Marshal(map[string]any{"patterns": patterns, "names": names})
	var ref [][]bool
	if err := json.Unmarshal(runRef(t, "ref_re.py", false, in), &ref); err != nil {
		t.Fatal(err)
	}
	for pi, p := range patterns {
		re, err := compilePython(p)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		for ni, n := range names {
			if got := re.MatchString(n); got != ref[pi][ni] {
				t.Errorf("re.search(%q, %q): Go %v, Python %v", p, n, got, ref[pi][ni])
			}
		}
	}
}

func TestBuildOptimizerErrors(t *testing.T) {
	lockThread(t)
	ps := namedParams(t, resnetNames)
	defer dropParams(ps)
	bn := `(bn|gn)(\d+)?.(weight|bias)`
	tests := []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"type": "LARS", "lr": 0.3, "paramwise_options": map[string]any{bn: map[string]any{"lr_mul": 0.1}}},
			`optimizer.paramwise_options["(bn|gn)(\\d+)?.(weight|bias)"].lr_mul: unknown key`},
		{map[string]any{"type": "SGD", "lr": 0.3, "paramwise_options": map[string]any{"bias": map[string]any{"momentum_mult": 0.1}}},
			`optimizer.paramwise_options["bias"].momentum_mult: optimizer.momentum is not set`},
		{map[string]any{"type": "SGD", "lr": 0.3, "paramwise_options": map[string]any{"(?=bias)": map[string]any{"weight_decay": 0}}},
			`optimizer.paramwise_options["(?=bias)"]: error parsing regexp`},
		{map[string]any{"type": "SGD", "lr": 0.3, "paramwise_options": map[string]any{"bias": map[string]any{"lars_exclude": "yes"}}},
			`optimizer.paramwise_options["bias"].lars_exclude: want a bool`},
		{map[string]any{"type": "SDG", "lr": 0.3}, `optimizer.type: "SDG" not registered`},
		{map[string]any{"lr": 0.3}, "optimizer.type: missing"},
		{map[string]any{"type": "SGD"}, "optimizer.lr: required for SGD"},
		{map[string]any{"type": "SGD", "lr": 0.3, "betas": []any{0.9, 0.99}}, "optimizer.betas: unknown key for SGD"},
		{map[string]any{"type": "AdamW", "lr": 0.3, "layer_decay": 0.65}, "optimizer.layer_decay: unknown key for AdamW with DefaultOptimizerConstructor"},
		{map[string]any{"type": "AdamW", "lr": 0.3, "constructor": "LearningRateDecayOptimizerConstructor"}, `optimizer.constructor: "LearningRateDecayOptimizerConstructor" not registered`},
		{map[string]any{"type": "AdamW", "lr": 0.3, "constructor": "TransformerFinetuneConstructor", "layer_decay": 0.65, "model_type": "vit"}, "no parameter is named backbone.layers"},
		{map[string]any{"type": "AdamW", "lr": 0.3, "constructor": "TransformerFinetuneConstructor", "layer_decay": 0.65, "model_type": "convnext"}, `optimizer.model_type: layer-wise lr decay supports vit and swin, got "convnext"`},
		{map[string]any{"type": "SGD", "lr": 0.3, "momentum": 0.0, "nesterov": true}, "nesterov momentum requires a momentum and zero dampening"},
		{map[string]any{"type": "Adam", "lr": 0.3, "betas": []any{0.9, 1.0}}, "invalid beta parameter at index 1"},
		{map[string]any{"type": "SGD", "lr": -1}, "invalid learning rate -1"},
		{map[string]any{"type": "SGD", "lr": "0.1"}, "optimizer.lr: want a number"},
	}
	for _, tc := range tests {
		_, err := BuildOptimizer(ps, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cfg %v:\n error %v\n want it to contain %s", tc.cfg, err, tc.want)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func atoiPrefix(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
