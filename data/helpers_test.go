package data

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flowssl/flowssl/augment"
)

var (
	augmentImage3x1 = augment.Image{W: 2, H: 1, C: 3, Pix: []byte{1, 2, 3, 4, 5, 6}}
	augmentImage1x1 = augment.Image{W: 1, H: 1, C: 3, Pix: []byte{200, 100, 50}}
)

// writeFiles creates dir/rel for each entry with the given contents.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func mustBuild(t *testing.T, cfg map[string]any) Source {
	t.Helper()
	src, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func mustGet(t *testing.T, src Source, i int) Sample {
	t.Helper()
	s, err := src.Get(i)
	if err != nil {
		t.Fatal(err)
	}
	if s.Index != i {
		t.Fatalf("Get(%d).Index = %d", i, s.Index)
	}
	if (s.Bytes == nil) == (s.Image == nil) {
		t.Fatalf("Get(%d): want exactly one of Bytes and Image", i)
	}
	return s
}
