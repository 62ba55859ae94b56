package jpegset

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/flowssl/flowssl/augment"
)

// readSet returns the files under dir keyed by relative path.
func readSet(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerate(t *testing.T) {
	sizes := [][2]int{{500, 375}, {375, 500}, {500, 333}, {500, 400}}
	for _, tc := range []struct {
		name       string
		procedural bool
		n, classes int
	}{{"photographs", false, 12, 4}, {"procedural", true, 6, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.procedural {
				if p, _ := FindPhotographs(DefaultSourceDirs()); len(p) == 0 {
					t.Skip("no wallpaper photographs installed (apt-get install mate-backgrounds); the procedural case covers Generate")
				}
			}
			n, classes := tc.n, tc.classes
			dir := t.TempDir()
			opt := Options{Seed: 7, Classes: classes, Procedural: tc.procedural}
			if err := Generate(dir, n, opt); err != nil {
				t.Fatal(err)
			}
			files := readSet(t, dir)
			if len(files) != n {
				t.Fatalf("%d files, want %d", len(files), n)
			}
			shapes := map[[2]int]bool{}
			var grad float64
			for i := 0; i < n; i++ {
				buf, ok := files[FileName(i, classes)]
				if !ok {
					t.Fatalf("missing %s", FileName(i, classes))
				}
				im, err := augment.Decode(buf, augment.DecodeOptions{})
				if err != nil {
					t.Fatalf("%s: %v", FileName(i, classes), err)
				}
				shape := [2]int{im.W, im.H}
				if !slices.Contains(sizes, shape) {
					t.Errorf("%s is %dx%d, not an ImageNet shape", FileName(i, classes), im.W, im.H)
				}
				shapes[shape] = true
				// Photographic texture: neighbouring pixels differ
				// (not flat), yet are correlated (not white noise).
				g := meanAbsGradient(im)
				if g < 0.5 || g > 40 {
					t.Errorf("%s: mean |horizontal gradient| %.2f, want textured (0.5..40)", FileName(i, classes), g)
				}
				grad += g / float64(n)
				if q := len(buf) * 8 / (im.W * im.H); q < 1 {
					t.Errorf("%s: %d bits/pixel, too smooth for quality 90", FileName(i, classes), q)
				}
			}
			if grad < 2 {
				t.Errorf("set's mean |horizontal gradient| %.2f, want >= 2 (photographs at this size are 2..15)", grad)
			}
			if len(shapes) < 2 {
				t.Errorf("only shapes %v drawn in %d images", shapes, n)
			}
			// Determinism: same (seed, n) gives the same bytes, and the
			// first k of n equal a set of k.
			dir2 := t.TempDir()
			if err := Generate(dir2, n/2, opt); err != nil {
				t.Fatal(err)
			}
			for rel, b := range readSet(t, dir2) {
				if !bytes.Equal(b, files[rel]) {
					t.Errorf("%s differs between runs", rel)
				}
			}
			// Another seed gives other images.
			dir3 := t.TempDir()
			opt.Seed = 8
			if err := Generate(dir3, 1, opt); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(readSet(t, dir3)[FileName(0, classes)], files[FileName(0, classes)]) {
				t.Error("seed 8 reproduced seed 7's image 0")
			}
		})
	}
}

func TestFindPhotographsDedupes(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a/Elephants.jpg", "a/Elephants_3840x2160.jpg", "b/Dune.JPG", "b/art.png"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := FindPhotographs([]string{dir, filepath.Join(dir, "missing")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a/Elephants.jpg"), filepath.Join(dir, "b/Dune.JPG")}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{{Quality: 101}, {Classes: -1}, {Sizes: [][2]int{{0, 10}}}} {
		if err := Generate(t.TempDir(), 1, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
