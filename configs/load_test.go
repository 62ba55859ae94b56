package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs/tree"
)

// writeFiles creates files (slash paths relative to a temp dir) and returns the dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustParse(t *testing.T, yamlText string) *tree.Map {
	t.Helper()
	m, err := LoadTree("want.yaml", "yaml", []byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadSemantics(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		load  string
		want  string // YAML of the expected tree
	}{
		{
			name: "deep merge of maps, lists replaced whole, new keys appended",
			files: map[string]string{
				"base.yaml":  "model:\n  type: MoCo\n  neck: {in: 2048, out: 128}\n  list: [1, 2, 3]\nlr: 0.1\n",
				"child.yaml": "_base_: base.yaml\nmodel:\n  neck: {out: 256}\n  list: [9]\n  extra: true\nnew: x\n",
			},
			load: "child.yaml",
			want: "model:\n  type: MoCo\n  neck: {in: 2048, out: 256}\n  list: [9]\n  extra: true\nlr: 0.1\nnew: x\n",
		},
		{
			name: "_delete_ replaces the base mapping and is removed",
			files: map[string]string{
				"base.yaml":  "lr_config: {policy: step, warmup: linear, warmup_iters: 5, step: [30]}\n",
				"child.yaml": "_base_: base.yaml\nlr_config: {_delete_: true, policy: CosineAnnealing, min_lr: 0.0006}\n",
			},
			load: "child.yaml",
			want: "lr_config: {policy: CosineAnnealing, min_lr: 0.0006}\n",
		},
		{
			name: "_delete_ on a key new to the base is stripped",
			files: map[string]string{
				"base.yaml":  "a: 1\n",
				"child.yaml": "_base_: base.yaml\nb: {_delete_: true, c: {_delete_: false, d: 1}}\n",
			},
			load: "child.yaml",
			want: "a: 1\nb: {c: {d: 1}}\n",
		},
		{
			name: "list of bases relative to each file, nested three deep",
			files: map[string]string{
				"_base_/models/m.yaml": "model: {type: A, depth: 50}\n",
				"_base_/data/d.yaml":   "data: {samples_per_gpu: 32}\nnum_classes: 10\n",
				"algo/primitive.yaml":  "_base_: [../_base_/models/m.yaml, ../_base_/data/d.yaml]\nmodel: {depth: 18}\n",
				"algo/variant/v.yaml":  "_base_: ../primitive.yaml\ndata: {samples_per_gpu: 8}\n",
			},
			load: "algo/variant/v.yaml",
			want: "model: {type: A, depth: 18}\ndata: {samples_per_gpu: 8}\nnum_classes: 10\n",
		},
		{
			name: "{{_base_}} references: whole values of any kind and inside strings",
			files: map[string]string{
				"base.yaml": "num_crops: [2, 6]\ndata: {samples_per_gpu: 32}\nroot: data/x\nnorm: {mean: [0.5]}\n",
				"child.yaml": "_base_: base.yaml\n" +
					"model: {num_crops: {{_base_.num_crops}}, quoted: '{{ _base_.data.samples_per_gpu }}'}\n" +
					"hooks: [{batch_size: {{_base_.data.samples_per_gpu}}, norm: {{_base_.norm}}}]\n" +
					"path: \"{{_base_.root}}/train-{{_base_.data.samples_per_gpu}}\"\n",
			},
			load: "child.yaml",
			want: "num_crops: [2, 6]\ndata: {samples_per_gpu: 32}\nroot: data/x\nnorm: {mean: [0.5]}\n" +
				"model: {num_crops: [2, 6], quoted: 32}\nhooks: [{batch_size: 32, norm: {mean: [0.5]}}]\npath: data/x/train-32\n",
		},
		{
			name: "a .py file with a .yaml base and {{_base_}} outside and inside strings",
			files: map[string]string{
				"base.yaml": "num_classes: 10000\ndata_root: data/VOC/\n",
				"child.py": "_base_ = 'base.yaml'\nmodel = dict(head=dict(num_classes={{_base_.num_classes}}))\n" +
					"ann = '{{_base_.data_root}}train.txt'\n",
			},
			load: "child.py",
			want: "num_classes: 10000\ndata_root: data/VOC/\nmodel: {head: {num_classes: 10000}}\nann: data/VOC/train.txt\n",
		},
		{
			name: "a .yaml file with a .py base",
			files: map[string]string{
				"base.py":    "img_norm_cfg = dict(mean=[0.485], std=[0.229])\npipe = [dict(type='Normalize', **img_norm_cfg)]\n",
				"child.yaml": "_base_: base.py\npipe: [{type: ToTensor}]\n",
			},
			load: "child.yaml",
			want: "img_norm_cfg: {mean: [0.485], std: [0.229]}\npipe: [{type: ToTensor}]\n",
		},
		{
			name: "predefined variables",
			files: map[string]string{
				"sub/my.cfg.yaml": "dir: '{{ fileDirname }}'\nbase: '{{fileBasename}}'\nstem: '{{ fileBasenameNoExtension }}'\next: '{{fileExtname}}'\n",
			},
			load: "sub/my.cfg.yaml",
			want: "dir: DIR/sub\nbase: my.cfg.yaml\nstem: my.cfg\next: .yaml\n",
		},
		{
			name: "YAML anchors, aliases and merge keys",
			files: map[string]string{
				"a.yaml": "norm: &n {mean: [1], std: [2]}\npipe: [{type: Normalize, <<: *n}, {<<: *n, std: [3]}]\nagain: *n\n",
			},
			load: "a.yaml",
			want: "norm: {mean: [1], std: [2]}\npipe: [{type: Normalize, mean: [1], std: [2]}, {std: [3], mean: [1]}]\nagain: {mean: [1], std: [2]}\n",
		},
		{
			name: "_deprecation_ is dropped",
			files: map[string]string{
				"a.yaml": "_deprecation_: {expected: b.yaml, reference: url}\nx: 1\n",
			},
			load: "a.yaml",
			want: "x: 1\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			cfg, err := Load(filepath.Join(dir, c.load), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := mustParse(t, strings.ReplaceAll(c.want, "DIR", filepath.ToSlash(dir)))
			if d := tree.Diff("", want, cfg.Tree); d != "" {
				t.Errorf("want vs got: %s\ngot: %s", d, tree.Repr(cfg.Tree))
			}
			if strings.Join(want.Keys(), ",") != strings.Join(cfg.Tree.Keys(), ",") {
				t.Errorf("key order: want %v, got %v", want.Keys(), cfg.Tree.Keys())
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		load  string
		want  []string // substrings of the error
	}{
		{"missing base", map[string]string{"a.yaml": "_base_: ../nope.yaml\n"}, "a.yaml",
			[]string{"a.yaml", `_base_ "../nope.yaml"`, "nope.yaml not found"}},
		{"duplicate key among bases", map[string]string{
			"b1.yaml": "model: {a: 1}\n", "b2.yaml": "x: 1\nmodel: {b: 2}\n", "c.yaml": "_base_: [b1.yaml, b2.yaml]\n"},
			"c.yaml", []string{`duplicate key "model" among bases`, "b1.yaml", "b2.yaml"}},
		{"mapping over a scalar without _delete_", map[string]string{
			"b.yaml": "lr: 0.1\n", "c.yaml": "_base_: b.yaml\nlr: {x: 1}\n"},
			"c.yaml", []string{"lr: the base value is a float", "_delete_: true"}},
		{"mapping over a list", map[string]string{
			"b.yaml": "p: [1]\n", "c.yaml": "_base_: b.yaml\np: {0: 1}\n"},
			"c.yaml", []string{"p: the base value is a list"}},
		{"reference to a missing base key", map[string]string{
			"b.yaml": "data: {}\n", "c.yaml": "_base_: b.yaml\nx: {{_base_.data.samples_per_gpu}}\n"},
			"c.yaml", []string{"x: {{_base_.data.samples_per_gpu}}", `"data.samples_per_gpu" not found`}},
		{"reference without a base", map[string]string{"c.yaml": "x: {{_base_.a}}\n"},
			"c.yaml", []string{"{{_base_.a}} used in a file without _base_"}},
		{"mapping embedded in a string", map[string]string{
			"b.yaml": "m: {a: 1}\n", "c.yaml": "_base_: b.yaml\nx: 'pre-{{_base_.m}}'\n"},
			"c.yaml", []string{"x: {{_base_.m}} is a map and cannot be embedded"}},
		{"cyclic bases", map[string]string{"a.yaml": "_base_: b.yaml\n", "b.yaml": "_base_: a.yaml\n"},
			"a.yaml", []string{"cyclic _base_", "a.yaml -> ", "b.yaml -> "}},
		{"reserved key", map[string]string{"a.yaml": "filename: x\n"}, "a.yaml", []string{`"filename" is a reserved key`}},
		{"bad _base_ type", map[string]string{"a.yaml": "_base_: {x: 1}\n"}, "a.yaml", []string{"_base_ must be a file name"}},
		{"duplicate YAML key", map[string]string{"a.yaml": "a: 1\nb: 2\na: 3\n"}, "a.yaml", []string{"a.yaml:3", `key "a" already defined at line 1`}},
		{"python syntax error names file and line", map[string]string{"a.py": "x = 1\ny = dict(a=1,\n  b=)\n"},
			"a.py", []string{"a.py:3", "unexpected"}},
		{"python import refused", map[string]string{"a.py": "import os\n"}, "a.py", []string{"a.py:1", `"import" statements are not supported`}},
		{"unsupported extension", map[string]string{"a.toml": "x = 1\n"}, "a.toml", []string{"only .py, .yaml, .yml and .json"}},
		{"top level not a mapping", map[string]string{"a.yaml": "- 1\n"}, "a.yaml", []string{"top level must be a mapping"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			_, err := Load(filepath.Join(dir, c.load), LoadOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := Load("selfsup/nope.yaml", LoadOptions{}); err == nil || !strings.Contains(err.Error(), "neither a file on disk nor in the embedded tree") {
		t.Errorf("unknown name: %v", err)
	}
}

func TestLoadNamesAndText(t *testing.T) {
	const rel = "selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml"
	var first *Config
	for _, name := range []string{rel, "configs/" + rel, "./configs/" + rel} {
		cfg, err := Load(name, LoadOptions{NoDisk: true})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.Filename != "configs/"+rel {
			t.Errorf("%s: Filename %q", name, cfg.Filename)
		}
		if first == nil {
			first = cfg
		} else if !tree.Equal(first.Tree, cfg.Tree) {
			t.Errorf("%s resolves differently", name)
		}
	}
	// Text: the four bases in _base_ order, then the file, each after its name.
	var order []int
	for _, f := range []string{"_base_/models/mocov2.yaml", "_base_/datasets/imagenet_mocov2.yaml",
		"_base_/schedules/sgd_coslr-200e_in1k.yaml", "_base_/default_runtime.yaml", "configs/" + rel} {
		i := strings.Index(first.Text, f+"\n")
		if i < 0 {
			t.Fatalf("Text lacks %s", f)
		}
		order = append(order, i)
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Errorf("Text order wrong: %v", order)
		}
	}
	// A file on disk wins over the embedded tree; NoDisk ignores it.
	dir := writeFiles(t, map[string]string{rel: "x: 1\n"})
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	disk, err := Load(rel, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := disk.Tree.Get("x"); v != 1 || !filepath.IsAbs(disk.Filename) {
		t.Errorf("disk file not preferred: %v %s", tree.Repr(disk.Tree), disk.Filename)
	}
	emb, err := Load(rel, LoadOptions{NoDisk: true})
	if err != nil || emb.Tree.Has("x") {
		t.Errorf("NoDisk: %v", err)
	}
}

func TestDeprecationWarning(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": "_deprecation_: {expected: b.yaml, reference: http://x}\nx: 1\n"})
	cfg, err := Load(filepath.Join(dir, "a.yaml"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "please use b.yaml instead (see http://x)") {
		t.Errorf("warnings %q", cfg.Warnings)
	}
}
