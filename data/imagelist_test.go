package data

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestImageList(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"img/000005.jpg":   "5",
		"img/000007.jpg":   "7",
		"img/a/b.png":      "b",
		"voc.txt":          "000005.jpg\n000007.jpg\n",
		"labelled.txt":     "a/b.png 4\n000005.jpg\t2\n\n",
		"names.txt":        "zero\none\ntwo\nthree\nfour\n",
		"mixed_label.txt":  "000005.jpg\n000007.jpg 1\n",
		"mixed_nolabe.txt": "000005.jpg 1\n000007.jpg\n",
		"three.txt":        "000005.jpg 1 extra\n",
		"bad_label.txt":    "000005.jpg 1\n000007.jpg one\n",
		"missing.txt":      "000005.jpg\nnot_there.jpg\n",
		"empty.txt":        "",
	})
	list := func(n string) string { return filepath.Join(root, n) }
	prefix := filepath.Join(root, "img")

	t.Run("unlabelled", func(t *testing.T) {
		src := mustBuild(t, map[string]any{"type": "ImageList", "data_prefix": prefix, "ann_file": list("voc.txt")})
		if !reflect.DeepEqual(src.Labels(), []int{-1, -1}) || src.ClassNames() != nil {
			t.Fatalf("labels %v classes %v", src.Labels(), src.ClassNames())
		}
		s := mustGet(t, src, 1)
		if s.Name != filepath.Join(prefix, "000007.jpg") || string(s.Bytes) != "7" || s.Label != -1 {
			t.Errorf("sample 1: %+v", s)
		}
	})
	t.Run("several files, labelled and not", func(t *testing.T) {
		src := mustBuild(t, map[string]any{"type": "ImageList", "data_prefix": prefix,
			"ann_file": []any{list("labelled.txt"), list("voc.txt")}, "classes": list("names.txt")})
		if !reflect.DeepEqual(src.Labels(), []int{4, 2, -1, -1}) {
			t.Fatalf("labels %v", src.Labels())
		}
		if got := src.ClassNames(); len(got) != 5 || got[4] != "four" {
			t.Errorf("classes %v", got)
		}
		for i, w := range []string{"b", "5", "5", "7"} {
			if s := mustGet(t, src, i); string(s.Bytes) != w {
				t.Errorf("sample %d: %q want %q", i, s.Bytes, w)
			}
		}
	})
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"label after unlabelled first line", "mixed_label.txt", []string{"mixed_label.txt:2", "path alone (the first line has no label)"}},
		{"no label after labelled first line", "mixed_nolabe.txt", []string{"mixed_nolabe.txt:2", `want "path label"`}},
		{"three fields", "three.txt", []string{"three.txt:1", `want "path" or "path label"`}},
		{"bad label", "bad_label.txt", []string{"bad_label.txt:2", "bad label", `"000007.jpg one"`}},
		{"empty list", "empty.txt", []string{"empty.txt", "no samples"}},
		{"missing list", "none.txt", []string{"none.txt", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(map[string]any{"type": "ImageList", "data_prefix": prefix, "ann_file": list(tc.file)})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	t.Run("missing image at Get", func(t *testing.T) {
		src := mustBuild(t, map[string]any{"type": "ImageList", "data_prefix": prefix, "ann_file": list("missing.txt")})
		_, err := src.Get(1)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(prefix, "not_there.jpg")) {
			t.Errorf("error %v does not name the missing file", err)
		}
	})
}
