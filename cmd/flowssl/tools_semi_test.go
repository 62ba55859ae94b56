package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/data"
)

// The label subset is class-balanced (round(fraction·n_c), at least one),
// sorted, repeatable for a seed and different for another.
func TestBalancedSubset(t *testing.T) {
	labels := make([]int, 0, 260)
	for i := 0; i < 200; i++ {
		labels = append(labels, i%4) // 50 per class
	}
	for i := 0; i < 60; i++ {
		labels = append(labels, -1) // unlabelled: never picked
	}
	labels = append(labels, 4) // one sample of class 4
	a, err := balancedSubset(labels, 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int]int{}
	for _, i := range a {
		counts[labels[i]]++
	}
	want := map[int]int{0: 5, 1: 5, 2: 5, 3: 5, 4: 1}
	for c, n := range want {
		if counts[c] != n {
			t.Fatalf("class %d: %d picked, want %d (counts %v)", c, counts[c], n, counts)
		}
	}
	if len(a) != 21 || !slices.IsSorted(a) {
		t.Fatalf("subset %v", a)
	}
	b, _ := balancedSubset(labels, 0.1, 1)
	c, _ := balancedSubset(labels, 0.1, 2)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatalf("seed 1 twice: %v / %v; seed 2: %v", a, b, c)
	}
	for _, f := range []float64{0, -1, 1.5} {
		if _, err := balancedSubset(labels, f, 1); err == nil {
			t.Errorf("fraction %g accepted", f)
		}
	}
}

// An in-memory source's subset is written as lossless PNGs and an
// ImageList that reads back the same pixels, labels and class names.
func TestWriteSubsetListRoundTrip(t *testing.T) {
	cfg := map[string]any{"type": "Shapes", "num_samples": 30, "size": 16, "seed": 0}
	src, err := data.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{3, 7, 21}
	dir := t.TempDir()
	ds, list, err := writeSubsetList(src, cfg, idx, dir, "train_10pct.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "images/0000003.png 3\nimages/0000007.png 7\nimages/0000021.png 1\n" {
		t.Fatalf("list:\n%s", got)
	}
	delete(ds, "_delete_")
	back, err := data.Build(ds)
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != 3 || !slices.Equal(back.Labels(), []int{3, 7, 1}) || !slices.Equal(back.ClassNames(), src.ClassNames()) {
		t.Fatalf("read back %d samples, labels %v", back.Len(), back.Labels())
	}
	sub, err := newSubset(src, idx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range idx {
		s, err := sub.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		orig, _ := src.Get(idx[i])
		if s.Index != i || s.Label != orig.Label || !slices.Equal(s.Image.Pix, orig.Image.Pix) {
			t.Fatalf("subset sample %d: index %d label %d", i, s.Index, s.Label)
		}
		f, err := back.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(f.Bytes))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		w := orig.Image.W
		for p := 0; p < w*orig.Image.H; p++ {
			r, g, b, _ := img.At(p%w, p/w).RGBA()
			if got := []uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}; !slices.Equal(got, orig.Image.Pix[3*p:3*p+3]) {
				t.Fatalf("%s pixel %d: %v, want %v", f.Name, p, got, orig.Image.Pix[3*p:3*p+3])
			}
		}
	}
}

func TestSemiConfigErrors(t *testing.T) {
	o := semiOptions{LabelFraction: 2}
	o.Config = "benchmarks/classification/shapes/resnet18_head10_1xb64-steplr1e-2-20e_shapes-32px-10pct.yaml"
	o.WorkDir = t.TempDir()
	if _, err := runSemi(context.Background(), o); err == nil || !strings.Contains(err.Error(), "label fraction 2") {
		t.Fatalf("fraction 2: err = %v", err)
	}
	o.LabelFraction, o.Config = 0.1, "selfsup/simclr/simclr_resnet18_shapes-32px_cpu.yaml"
	if _, err := runSemi(context.Background(), o); err == nil || !strings.Contains(err.Error(), "model.type") {
		t.Fatalf("self-supervised config: err = %v", err)
	}
}
