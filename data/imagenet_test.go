package data

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestImageNetFolders(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"n02/b.JPEG":        "n02-b",
		"n02/a.png":         "n02-a",
		"n02/sub/c.Tif":     "n02-sub-c",
		"n02/z.jpg":         "n02-z",
		"n02/notes.txt":     "ignored",
		"n01/x.JPG":         "n01-x",
		"n01/y.webp":        "ignored: not an MMSelfSup extension",
		"n03/deep/er/q.pgm": "n03-q",
		"n03/p.ppm":         "n03-p",
		"n03/r.bmp":         "n03-r",
		"n03/s.jpeg":        "n03-s",
		"README":            "a file at the root is not a class",
	})
	src := mustBuild(t, map[string]any{"type": "ImageNet", "data_prefix": root})
	// Classes by sorted folder name; within a class, directories in sorted
	// path order (Python's sorted(os.walk)), files sorted within each.
	want := []struct {
		rel   string
		label int
	}{
		{"n01/x.JPG", 0},
		{"n02/a.png", 1}, {"n02/b.JPEG", 1}, {"n02/z.jpg", 1}, {"n02/sub/c.Tif", 1},
		{"n03/p.ppm", 2}, {"n03/r.bmp", 2}, {"n03/s.jpeg", 2}, {"n03/deep/er/q.pgm", 2},
	}
	if src.Len() != len(want) {
		t.Fatalf("Len %d, want %d", src.Len(), len(want))
	}
	if got := src.ClassNames(); !reflect.DeepEqual(got, []string{"n01", "n02", "n03"}) {
		t.Errorf("ClassNames %v", got)
	}
	if d := src.(Decoder).Decoding(); d != (Decoding{}) {
		t.Errorf("default decoding %v", d)
	}
	for i, w := range want {
		s := mustGet(t, src, i)
		path := filepath.Join(root, w.rel)
		if s.Name != path || s.Label != w.label || src.Labels()[i] != w.label {
			t.Errorf("sample %d: %s label %d, want %s label %d", i, s.Name, s.Label, path, w.label)
		}
		if content, _ := os.ReadFile(path); string(s.Bytes) != string(content) {
			t.Errorf("sample %d: bytes %q", i, s.Bytes)
		}
	}
}

func TestImageNetAnnFile(t *testing.T) {
	root := t.TempDir()
	abs := filepath.Join(root, "elsewhere", "abs.jpg")
	writeFiles(t, root, map[string]string{
		"train/n01/a.JPEG":     "a",
		"train/my pic 1.jpg":   "spaces",
		"elsewhere/abs.jpg":    "absolute",
		"meta/train.txt":       "n01/a.JPEG 0\n\nmy pic 1.jpg 7\r\n" + abs + " 3\n",
		"meta/names.txt":       "c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\n",
		"meta/unlabelled.txt":  "n01/a.JPEG -1\n",
		"meta/few_classes.txt": "zero\n",
	})
	src := mustBuild(t, map[string]any{
		"type": "ImageNet", "data_prefix": filepath.Join(root, "train"),
		"ann_file": filepath.Join(root, "meta/train.txt"), "classes": filepath.Join(root, "meta/names.txt"),
		"color_type": "grayscale", "channel_order": "bgr", "test_mode": true, "file_client_args": map[string]any{"backend": "disk"},
	})
	if got := src.Labels(); !reflect.DeepEqual(got, []int{0, 7, 3}) {
		t.Fatalf("labels %v", got)
	}
	if len(src.ClassNames()) != 8 || src.ClassNames()[7] != "c7" {
		t.Errorf("class names %v", src.ClassNames())
	}
	if d := src.(Decoder).Decoding(); d != (Decoding{Grayscale: true, BGR: true}) {
		t.Errorf("decoding %v", d)
	}
	for i, w := range []string{"a", "spaces", "absolute"} {
		if s := mustGet(t, src, i); string(s.Bytes) != w {
			t.Errorf("sample %d (%s): %q, want %q", i, s.Name, s.Bytes, w)
		}
	}
	src = mustBuild(t, map[string]any{"type": "ImageNet", "data_prefix": filepath.Join(root, "train"), "ann_file": filepath.Join(root, "meta/unlabelled.txt")})
	if src.Labels()[0] != -1 || src.ClassNames() != nil {
		t.Errorf("unlabelled list: labels %v, classes %v", src.Labels(), src.ClassNames())
	}
	_, err := Build(map[string]any{"type": "ImageNet", "data_prefix": root, "ann_file": filepath.Join(root, "meta/train.txt"), "classes": []any{"only"}})
	if err == nil || !strings.Contains(err.Error(), "label 7 but only 1 class names") {
		t.Errorf("labels beyond classes: %v", err)
	}
}

func TestImageNetErrors(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"ok/n01/a.jpg":              "a",
		"emptyclass/n01/a.jpg":      "a",
		"emptyclass/n02/readme.txt": "no image",
		"flat/a.jpg":                "no class folders",
		"lists/nolabel.txt":         "n01/a.jpg 0\nn01/b.jpg\n",
		"lists/badlabel.txt":        "n01/a.jpg 0\nn01/b.jpg x1\n",
		"lists/neglabel.txt":        "n01/a.jpg -2\n",
		"lists/empty.txt":           "\n\n",
		"lists/missing.txt":         "n01/a.jpg 0\nn01/gone.jpg 1\n",
	})
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want []string
	}{
		{"missing folder", map[string]any{"data_prefix": filepath.Join(root, "nope")}, []string{filepath.Join(root, "nope"), "no such file"}},
		{"empty class folder", map[string]any{"data_prefix": filepath.Join(root, "emptyclass")}, []string{"class folder " + filepath.Join(root, "emptyclass/n02"), "no images", ".jpg .jpeg"}},
		{"no class folders", map[string]any{"data_prefix": filepath.Join(root, "flat")}, []string{filepath.Join(root, "flat"), "no class sub-folders"}},
		{"missing ann_file", map[string]any{"ann_file": filepath.Join(root, "lists/none.txt")}, []string{"lists/none.txt", "no such file"}},
		{"line without label", map[string]any{"ann_file": filepath.Join(root, "lists/nolabel.txt")}, []string{"nolabel.txt:2", `"n01/b.jpg"`}},
		{"bad label", map[string]any{"ann_file": filepath.Join(root, "lists/badlabel.txt")}, []string{"badlabel.txt:2", "integer label"}},
		{"label below -1", map[string]any{"ann_file": filepath.Join(root, "lists/neglabel.txt")}, []string{"neglabel.txt:1"}},
		{"empty list", map[string]any{"ann_file": filepath.Join(root, "lists/empty.txt")}, []string{"empty.txt", "no samples"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg["type"] = "ImageNet"
			_, err := Build(tc.cfg)
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

	src := mustBuild(t, map[string]any{"type": "ImageNet", "data_prefix": filepath.Join(root, "ok"), "ann_file": filepath.Join(root, "lists/missing.txt")})
	if s := mustGet(t, src, 0); string(s.Bytes) != "a" {
		t.Errorf("sample 0: %q", s.Bytes)
	}
	_, err := src.Get(1)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "ok/n01/gone.jpg")) || !strings.Contains(err.Error(), "sample 1") {
		t.Errorf("missing listed file: %v", err)
	}
	if _, err := src.Get(2); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("Get(2) of 2: %v", err)
	}
}
