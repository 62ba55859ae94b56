package configs

import (
	"math"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs/tree"
)

// Expected values follow mmcv 1.5 DictAction._parse_iterable (config.md §6).
func TestParseOptionValue(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"1", 1}, {"-3", -3}, {"1_000", 1000}, {"0.5", 0.5}, {"1e-4", 1e-4}, {"5.", 5.0}, {".5", 0.5},
		{"abc", "abc"}, {"True", true}, {"false", false}, {"TRUE", true}, {"None", nil}, {"none", "none"},
		{"'quoted'", "quoted"}, {`"a b"`, "ab"}, {"", ""},
		{"1,2,3", []any{1, 2, 3}}, {"[1,2]", []any{1, 2}}, {"(1,2)", []any{1, 2}}, {"[]", []any{}},
		{"[1]", []any{1}}, {"(3,)", []any{3}}, {"a,b", []any{"a", "b"}},
		{"[(train,1),(val,1)]", []any{[]any{"train", 1}, []any{"val", 1}}},
		{"\"[(train, 1), (val, 1)]\"", []any{[]any{"train", 1}, []any{"val", 1}}},
		{"[[1,2],[3,[4,5]]]", []any{[]any{1, 2}, []any{3, []any{4, 5}}}},
		{"0x10", "0x10"}, {"1.2.3", "1.2.3"}, {"inf", math.Inf(1)},
		// mmcv recurses forever on these; flowssl reads dict(...) as a mapping.
		{"[dict(type='EMAHook',momentum=0.1,warm_up=1)]", []any{dictOf("type", "EMAHook", "momentum", 0.1, "warm_up", 1)}},
		{"dict(a=[1,2],b=dict(c=None))", dictOf("a", []any{1, 2}, "b", dictOf("c", nil))},
		{"f(1,2)", "f(1,2)"},
	}
	for _, c := range cases {
		got := ParseOptionValue(c.in)
		if !tree.Equal(got, c.want) {
			t.Errorf("ParseOptionValue(%q) = %s, want %s", c.in, tree.Repr(got), tree.Repr(c.want))
		}
	}
}

func TestApplyOverrides(t *testing.T) {
	base := func() *tree.Map {
		return mustParse(t, "model:\n  backbone: {depth: 50, norm_cfg: {type: BN}}\n"+
			"data:\n  train:\n    pipeline: [{type: RandomResizedCrop, size: 224}, {type: RandomGrayscale, p: 0.2}]\n"+
			"workflow: [[train, 1]]\nlr: 0.1\n")
	}
	cases := []struct {
		name  string
		items []string
		check map[string]any
	}{
		{"nested scalar", []string{"model.backbone.depth=18"}, map[string]any{"model.backbone.depth": 18, "model.backbone.norm_cfg.type": "BN"}},
		{"list index into a mapping", []string{"data.train.pipeline.1.p=0.0"}, map[string]any{"data.train.pipeline.1.p": 0.0, "data.train.pipeline.1.type": "RandomGrayscale", "data.train.pipeline.0.size": 224}},
		{"list index replaced whole", []string{"data.train.pipeline.0=x"}, map[string]any{"data.train.pipeline.0": "x"}},
		{"missing keys are created", []string{"model.backbone.init_cfg.type=Pretrained", "model.backbone.init_cfg.checkpoint=w.pth"},
			map[string]any{"model.backbone.init_cfg": tree.FromPairs("type", "Pretrained", "checkpoint", "w.pth")}},
		{"tuple list value", []string{"workflow=[(train,1),(val,1)]"}, map[string]any{"workflow": []any{[]any{"train", 1}, []any{"val", 1}}}},
		{"list value replaces list", []string{"lr=[1,2]"}, map[string]any{"lr": []any{1, 2}}},
		{"last of a repeated key wins", []string{"lr=1", "lr=2"}, map[string]any{"lr": 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ov, err := ParseCfgOptions(c.items)
			if err != nil {
				t.Fatal(err)
			}
			m := base()
			if err := ApplyOverrides(m, ov); err != nil {
				t.Fatal(err)
			}
			for p, w := range c.check {
				got, err := tree.Lookup(m, p)
				if err != nil || !tree.Equal(got, w) {
					t.Errorf("%s = %s (%v), want %s", p, tree.Repr(got), err, tree.Repr(w))
				}
			}
		})
	}
	errCases := []struct{ item, want string }{
		{"data.train.pipeline.5.p=1", "data.train.pipeline: index 5 exceeds the length of the list (2)"},
		{"data.train.pipeline.x=1", `data.train.pipeline: is a list; "x" is not an index`},
		{"lr.x=1", "lr: the base value is a float"},
	}
	for _, c := range errCases {
		ov, err := ParseCfgOptions([]string{c.item})
		if err != nil {
			t.Fatal(err)
		}
		if err := ApplyOverrides(base(), ov); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.item, err, c.want)
		}
	}
	for _, bad := range []string{"novalue", "=1", "a..b=1", ".a=1"} {
		if _, err := ParseCfgOptions([]string{bad}); err == nil {
			t.Errorf("ParseCfgOptions(%q) accepted", bad)
		}
	}
}

func TestLoadWithOverrides(t *testing.T) {
	ov, err := ParseCfgOptions([]string{"data.samples_per_gpu=8", "optimizer.lr=0.5", "model.backbone.out_indices=[3,4]"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load("configs/selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml", LoadOptions{Overrides: ov, NoDisk: true})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := DecodeSpec(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Data.SamplesPerGPU != 8 || spec.Optimizer.LR != 0.5 || *spec.Optimizer.Momentum != 0.9 {
		t.Errorf("overrides not applied: %d %v", spec.Data.SamplesPerGPU, spec.Optimizer.LR)
	}
	if v, _ := tree.Lookup(cfg.Tree, "model.backbone.out_indices"); !tree.Equal(v, []any{3, 4}) {
		t.Errorf("out_indices %s", tree.Repr(v))
	}
	ov, _ = ParseCfgOptions([]string{"data.train.pipelines.0.9.p=1"})
	if _, err := Load("selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml", LoadOptions{Overrides: ov, NoDisk: true}); err == nil ||
		!strings.Contains(err.Error(), "--cfg-options: data.train.pipelines.0: index 9 exceeds") {
		t.Errorf("out-of-range override: %v", err)
	}
}

func dictOf(kv ...any) *tree.Map {
	m := tree.NewMap()
	for i := 0; i < len(kv); i += 2 {
		m.Set(kv[i].(string), kv[i+1])
	}
	return m
}
