package data

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTypes(t *testing.T) {
	got := strings.Join(Types(), ",")
	want := "CIFAR10,CIFAR100,FashionMNIST,ImageList,ImageNet,MNIST,Shapes"
	if got != want {
		t.Fatalf("Types() = %s, want %s", got, want)
	}
}

// TestBuildErrors: config mistakes name the type or key at fault, and are
// found before any file is read (data_prefix points nowhere in most rows).
func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	classes := filepath.Join(dir, "classes.txt")
	if err := os.WriteFile(classes, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want []string // substrings of the error
	}{
		{"no type", map[string]any{"data_prefix": "x"}, []string{`missing key "type"`, "ImageNet", "Shapes"}},
		{"type not a string", map[string]any{"type": 3}, []string{`key "type"`, "want a string"}},
		{"unknown type", map[string]any{"type": "ImageNet21k"}, []string{`"ImageNet21k" not registered`, "CIFAR10, CIFAR100, FashionMNIST, ImageList, ImageNet, MNIST, Shapes"}},
		{"unknown key", map[string]any{"type": "CIFAR10", "data_prefix": "/nowhere", "ann_flie": "a"}, []string{"CIFAR10", `key "ann_flie"`, "unknown key", "data_prefix"}},
		{"ann_file for CIFAR", map[string]any{"type": "CIFAR10", "data_prefix": "/nowhere", "ann_file": "a"}, []string{`key "ann_file"`, "unknown key"}},
		{"string not bool", map[string]any{"type": "CIFAR100", "data_prefix": "/nowhere", "test_mode": "yes"}, []string{`key "test_mode"`, "want true or false", "string yes"}},
		{"int not string", map[string]any{"type": "ImageNet", "data_prefix": 5}, []string{`key "data_prefix"`, "want a string", "int 5"}},
		{"float not int", map[string]any{"type": "Shapes", "num_samples": 10.5}, []string{`key "num_samples"`, "want an integer", "10.5"}},
		{"string not int", map[string]any{"type": "Shapes", "num_samples": 10, "size": "64"}, []string{`key "size"`, "want an integer"}},
		{"list element", map[string]any{"type": "ImageList", "ann_file": []any{"a.txt", 3}}, []string{`key "ann_file"`, "element 1"}},
		{"ann_file map", map[string]any{"type": "ImageList", "ann_file": map[string]any{"a": 1}}, []string{`key "ann_file"`, "string or a list of strings"}},
		{"no ann_file", map[string]any{"type": "ImageList", "data_prefix": "x"}, []string{`key "ann_file"`, "required"}},
		{"no data_prefix", map[string]any{"type": "ImageNet"}, []string{`key "data_prefix"`, "required"}},
		{"bad color_type", map[string]any{"type": "MNIST", "data_prefix": "/nowhere", "color_type": "unchanged"}, []string{`key "color_type"`, `"unchanged"`}},
		{"bad channel_order", map[string]any{"type": "ImageNet", "data_prefix": "x", "channel_order": "grb"}, []string{`key "channel_order"`, `"grb"`}},
		{"bad backend", map[string]any{"type": "ImageNet", "data_prefix": "x", "file_client_args": map[string]any{"backend": "petrel"}}, []string{`key "file_client_args"`, "petrel"}},
		{"classes not list", map[string]any{"type": "ImageNet", "data_prefix": "x", "classes": 7}, []string{`key "classes"`}},
		{"empty classes file", map[string]any{"type": "ImageNet", "data_prefix": "x", "classes": classes}, []string{`key "classes"`, "no class names"}},
		{"shapes size", map[string]any{"type": "Shapes", "num_samples": 10, "size": 4}, []string{`key "size"`, "want 8..4096"}},
		{"shapes channels", map[string]any{"type": "Shapes", "num_samples": 10, "channels": 2}, []string{`key "channels"`, "want 1 or 3"}},
		{"shapes count", map[string]any{"type": "Shapes"}, []string{`key "num_samples"`, "positive"}},
		{"shapes offset", map[string]any{"type": "Shapes", "num_samples": 10, "offset": -1}, []string{`key "offset"`}},
		{"typo before required", map[string]any{"type": "Shapes", "num_sample": 10}, []string{`key "num_sample"`, "unknown key"}},
		{"shapes unknown key", map[string]any{"type": "Shapes", "num_samples": 10, "data_prefix": "x"}, []string{`key "data_prefix"`, "unknown key", "channels, num_samples, offset, seed, size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Build(tc.cfg)
			if err == nil {
				t.Fatalf("no error, got a source of %d samples", src.Len())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestBuildNumbers: YAML and JSON spell integers differently; both work,
// and null means "not given".
func TestBuildNumbers(t *testing.T) {
	for _, cfg := range []map[string]any{
		{"type": "Shapes", "num_samples": 20, "size": 16},
		{"type": "Shapes", "num_samples": int64(20), "size": uint8(16)},
		{"type": "Shapes", "num_samples": 20.0, "size": float32(16), "seed": nil},
	} {
		src, err := Build(cfg)
		if err != nil {
			t.Fatalf("%v: %v", cfg, err)
		}
		s, err := src.Get(3)
		if err != nil {
			t.Fatal(err)
		}
		if src.Len() != 20 || s.Image.W != 16 || s.Label != 3 {
			t.Errorf("%v: len %d, width %d, label %d", cfg, src.Len(), s.Image.W, s.Label)
		}
	}
}

func TestDecodingApply(t *testing.T) {
	im := &augmentImage3x1
	c := im.Clone()
	Decoding{BGR: true}.Apply(c)
	if got := c.Pix; string(got) != string([]byte{3, 2, 1, 6, 5, 4}) {
		t.Errorf("BGR swap gave %v", got)
	}
	c = im.Clone()
	Decoding{}.Apply(c)
	if string(c.Pix) != string(im.Pix) {
		t.Errorf("RGB changed pixels: %v", c.Pix)
	}
	if o := (Decoding{Grayscale: true}).Options(); o.Channels != 1 {
		t.Errorf("grayscale options %+v", o)
	}
	if o := (Decoding{}).Options(); o.Channels != 3 {
		t.Errorf("color options %+v", o)
	}
	// PIL convert('L') of (200, 100, 50): (200·19595 + 100·38470 + 50·7471 + 32768) >> 16 = 124.
	g := Decoding{Grayscale: true}.convert(&augmentImage1x1)
	if g.C != 1 || g.Pix[0] != 124 {
		t.Errorf("luma of (200,100,50) = %v, want [124]", g.Pix)
	}
}
