package data

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// cifarPixel is the value a test record stores for channel ch of pixel p.
func cifarPixel(rec, ch, p int) byte { return byte(rec*31 + ch*85 + p*7) }

// cifarRecords builds records whose first bytes are the given labels
// (one byte each for CIFAR-10, coarse and fine for CIFAR-100) and whose
// pixels are channel-planar cifarPixel values; rec0 numbers the records.
func cifarRecords(rec0 int, labels ...[]byte) []byte {
	var out []byte
	for k, l := range labels {
		out = append(out, l...)
		for ch := range 3 {
			for p := range 1024 {
				out = append(out, cifarPixel(rec0+k, ch, p))
			}
		}
	}
	return out
}

func writeBin(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkCIFARPixels(t *testing.T, s Sample, rec int) {
	t.Helper()
	im := s.Image
	if im.W != 32 || im.H != 32 || im.C != 3 {
		t.Fatalf("%s: %dx%dx%d", s.Name, im.W, im.H, im.C)
	}
	for _, xy := range [][2]int{{0, 0}, {31, 0}, {5, 17}, {31, 31}} {
		p := xy[1]*32 + xy[0]
		for ch := range 3 {
			if got, want := im.At(xy[0], xy[1], ch), cifarPixel(rec, ch, p); got != want {
				t.Fatalf("%s: pixel (%d,%d) channel %d = %d, want %d", s.Name, xy[0], xy[1], ch, got, want)
			}
		}
	}
}

func TestCIFAR10(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cifar-10-batches-bin")
	// Batches of 2, 1, 3, 1, 2 records; records numbered 0..8 across them.
	sizes := []int{2, 1, 3, 1, 2}
	var wantLabels []int
	rec := 0
	for b, n := range sizes {
		var labels [][]byte
		for range n {
			labels = append(labels, []byte{byte(rec % 10)})
			wantLabels = append(wantLabels, rec%10)
			rec++
		}
		writeBin(t, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", b+1)), cifarRecords(rec-n, labels...))
	}
	writeBin(t, filepath.Join(dir, "test_batch.bin"), cifarRecords(100, []byte{9}, []byte{4}))
	names := "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
	writeBin(t, filepath.Join(dir, "batches.meta.txt"), []byte(names))

	src := mustBuild(t, map[string]any{"type": "CIFAR10", "data_prefix": root})
	if !reflect.DeepEqual(src.Labels(), wantLabels) {
		t.Fatalf("labels %v, want %v", src.Labels(), wantLabels)
	}
	if got := src.ClassNames(); len(got) != 10 || got[9] != "truck" {
		t.Errorf("class names %v", got)
	}
	for i := range src.Len() {
		s := mustGet(t, src, i)
		checkCIFARPixels(t, s, i)
	}
	if s := mustGet(t, src, 3); s.Name != "cifar-10-batches-bin/data_batch_3.bin#0" || s.Label != 3 {
		t.Errorf("sample 3: %s label %d", s.Name, s.Label)
	}
	if s := mustGet(t, src, 5); s.Name != "cifar-10-batches-bin/data_batch_3.bin#2" {
		t.Errorf("sample 5: %s", s.Name)
	}
	// Get returns a copy: changing it does not change the source.
	s0 := mustGet(t, src, 0)
	s0.Image.Pix[0] ^= 0xff
	checkCIFARPixels(t, mustGet(t, src, 0), 0)

	test := mustBuild(t, map[string]any{"type": "CIFAR10", "data_prefix": dir, "test_mode": true})
	if !reflect.DeepEqual(test.Labels(), []int{9, 4}) {
		t.Fatalf("test labels %v", test.Labels())
	}
	checkCIFARPixels(t, mustGet(t, test, 1), 101)
	if s := mustGet(t, test, 1); s.Name != "cifar-10-batches-bin/test_batch.bin#1" {
		t.Errorf("test sample 1: %s", s.Name)
	}

	bgr := mustBuild(t, map[string]any{"type": "CIFAR10", "data_prefix": root, "channel_order": "bgr"})
	im := mustGet(t, bgr, 2).Image
	if im.At(5, 3, 0) != cifarPixel(2, 2, 3*32+5) || im.At(5, 3, 2) != cifarPixel(2, 0, 3*32+5) {
		t.Errorf("bgr: channels not swapped")
	}
	grey := mustBuild(t, map[string]any{"type": "CIFAR10", "data_prefix": root, "color_type": "grayscale"})
	g := mustGet(t, grey, 2).Image
	r, gg, b := uint32(cifarPixel(2, 0, 40)), uint32(cifarPixel(2, 1, 40)), uint32(cifarPixel(2, 2, 40))
	if g.C != 1 || g.Pix[40] != uint8((r*19595+gg*38470+b*7471+0x8000)>>16) {
		t.Errorf("grayscale pixel 40 = %d (C %d)", g.Pix[40], g.C)
	}

	// Without the meta file the standard names are used.
	if err := os.Remove(filepath.Join(dir, "batches.meta.txt")); err != nil {
		t.Fatal(err)
	}
	if got := mustBuild(t, map[string]any{"type": "CIFAR10", "data_prefix": root}).ClassNames(); len(got) != 10 || got[0] != "airplane" {
		t.Errorf("default class names %v", got)
	}
}

func TestCIFAR100(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "cifar-100-binary")
	// (coarse, fine) pairs: the fine label is the one used.
	writeBin(t, filepath.Join(dir, "train.bin"), cifarRecords(0, []byte{19, 99}, []byte{4, 0}, []byte{0, 57}))
	writeBin(t, filepath.Join(dir, "test.bin"), cifarRecords(50, []byte{1, 42}))
	src := mustBuild(t, map[string]any{"type": "CIFAR100", "data_prefix": root})
	if !reflect.DeepEqual(src.Labels(), []int{99, 0, 57}) {
		t.Fatalf("labels %v", src.Labels())
	}
	if src.ClassNames() != nil {
		t.Errorf("class names without fine_label_names.txt: %v", src.ClassNames())
	}
	for i := range 3 {
		checkCIFARPixels(t, mustGet(t, src, i), i)
	}
	if s := mustGet(t, src, 2); s.Name != "cifar-100-binary/train.bin#2" {
		t.Errorf("name %s", s.Name)
	}
	test := mustBuild(t, map[string]any{"type": "CIFAR100", "data_prefix": root, "test_mode": true})
	if !reflect.DeepEqual(test.Labels(), []int{42}) {
		t.Fatalf("test labels %v", test.Labels())
	}
	checkCIFARPixels(t, mustGet(t, test, 0), 50)

	var names strings.Builder
	for i := range 100 {
		fmt.Fprintf(&names, "class%d\n", i)
	}
	writeBin(t, filepath.Join(dir, "fine_label_names.txt"), []byte(names.String()))
	if got := mustBuild(t, map[string]any{"type": "CIFAR100", "data_prefix": root}).ClassNames(); len(got) != 100 || got[57] != "class57" {
		t.Errorf("class names %v", got)
	}
}

func TestCIFARErrors(t *testing.T) {
	root := t.TempDir()
	good := cifarRecords(0, []byte{1})
	mk := func(name string, files map[string][]byte) string {
		d := filepath.Join(root, name)
		for f, b := range files {
			writeBin(t, filepath.Join(d, "cifar-10-batches-bin", f), b)
		}
		return d
	}
	allTrain := func(override map[string][]byte) map[string][]byte {
		m := map[string][]byte{}
		for i := 1; i <= 5; i++ {
			m[fmt.Sprintf("data_batch_%d.bin", i)] = good
		}
		for k, v := range override {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		prefix string
		typ    string
		want   []string
	}{
		{"no folder", filepath.Join(root, "none"), "CIFAR10", []string{"no cifar-10-batches-bin folder"}},
		{"truncated batch", mk("trunc", allTrain(map[string][]byte{"data_batch_3.bin": good[:len(good)-1]})), "CIFAR10",
			[]string{"data_batch_3.bin", "3072 bytes is not a whole number of 3073-byte records"}},
		{"empty batch", mk("empty", allTrain(map[string][]byte{"data_batch_2.bin": {}})), "CIFAR10", []string{"data_batch_2.bin", "0 bytes"}},
		{"missing batch", mk("missing", map[string][]byte{"data_batch_1.bin": good}), "CIFAR10", []string{"data_batch_2.bin", "no such file"}},
		{"label out of range", mk("label", allTrain(map[string][]byte{"data_batch_5.bin": cifarRecords(0, []byte{3}, []byte{10})})), "CIFAR10",
			[]string{"data_batch_5.bin", "record 1 has label 10"}},
		{"bad meta", mk("meta", allTrain(map[string][]byte{"batches.meta.txt": []byte("a\nb\n")})), "CIFAR10", []string{"batches.meta.txt", "2 class names, want 10"}},
		{"CIFAR-10 files for CIFAR-100", mk("wrongtype", allTrain(nil)), "CIFAR100", []string{"no cifar-100-binary folder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(map[string]any{"type": tc.typ, "data_prefix": tc.prefix})
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
}
