package augment_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/flowssl/flowssl/augment"
	"github.com/flowssl/flowssl/internal/jpegset"
)

// photoSet writes n jpegset images of size w×h (crops of the installed
// wallpaper photographs, or procedural texture without them) and returns
// their bytes.
func photoSet(t testing.TB, n, w, h int) [][]byte {
	t.Helper()
	dir := t.TempDir()
	opt := jpegset.Options{Seed: 11, Classes: n, Sizes: [][2]int{{w, h}}}
	if err := jpegset.Generate(dir, n, opt); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for i := 0; i < n; i++ {
		b, err := os.ReadFile(filepath.Join(dir, jpegset.FileName(i, n)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// rrcBox draws a torchvision RandomResizedCrop box (scale 0.08–1, ratio
// 3/4–4/3, centre fallback).
func rrcBox(rng *rand.Rand, w, h int) (x, y, cw, ch int) {
	area := float64(w * h)
	for range 10 {
		target := area * (0.08 + 0.92*rng.Float64())
		aspect := math.Exp(math.Log(3.0/4) + (math.Log(4.0/3)-math.Log(3.0/4))*rng.Float64())
		cw = int(math.Round(math.Sqrt(target * aspect)))
		ch = int(math.Round(math.Sqrt(target / aspect)))
		if cw > 0 && ch > 0 && cw <= w && ch <= h {
			return rng.IntN(w - cw + 1), rng.IntN(h - ch + 1), cw, ch
		}
	}
	return 0, 0, w, h
}

// TestDecodeCropMatchesDecodeCropResize compares DecodeCrop with the slow
// path it replaces — Decode the whole image, cut the crop, resize it with
// PIL's resampling (augment.ResizeImage) — on photographic JPEGs, for
// RandomResizedCrop boxes at 224 px (ImageNet views) and 96 px (SwAV's small
// views), and large crops of 1600×1200 images down to 224 and 96 px.
//
// Stated tolerances, per crop, over all samples:
//   - no shrink-on-load, every interpolation, enlarging or reducing:
//     identical. Both decode the same rows with libjpeg and resample the
//     same crop with the same Go code.
//   - JPEG shrink-on-load (crop >= 4× the output): mean |diff| <= 1.5, max <=
//     32 (measured on the mate-backgrounds photographs: at most about 0.8
//     and 10; before the box was resampled exactly it was 2.6 and 35).
//     libjpeg's scaled IDCT low-passes differently from the antialiasing
//     kernel; the crop box itself is exact (resampled with fractional
//     edges); the maxima are isolated high-contrast edges, the means are
//     what training sees.
func TestDecodeCropMatchesDecodeCropResize(t *testing.T) {
	type tol struct {
		mean float64
		max  int
	}
	exact := tol{0, 0}
	shrunk := tol{1.5, 32}
	cases := []struct {
		name       string
		w, h, n    int
		out, crops int
		minScale   float64 // crops cover at least this fraction of the width
	}{
		{"imagenet 224", 500, 375, 3, 224, 6, 0},
		{"swav 96", 500, 375, 3, 96, 6, 0},
		{"large 224", 1600, 1200, 2, 224, 4, 0.6},
		{"large 96", 1600, 1200, 2, 96, 4, 0.6},
	}
	rng := rand.New(rand.NewPCG(3, 4))
	shrinks := map[int]int{}
	enlarged := 0
	worst := map[int]tol{} // by shrink factor, filtering interpolations only
	for _, c := range cases {
		for _, buf := range photoSet(t, c.n, c.w, c.h) {
			full, err := augment.Decode(buf, augment.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for range c.crops {
				x, y, cw, ch := rrcBox(rng, full.W, full.H)
				if float64(cw) < c.minScale*float64(full.W) {
					cw = int(c.minScale * float64(full.W))
					ch = min(full.H, cw*3/4)
					x, y = rng.IntN(full.W-cw+1), rng.IntN(full.H-ch+1)
				}
				for _, in := range []augment.Interp{augment.InterpNearest, augment.InterpBilinear, augment.InterpBicubic, augment.InterpLanczos} {
					got, shrink, err := augment.DecodeCropShrink(buf, x, y, cw, ch, c.out, c.out, in, augment.DecodeOptions{})
					if err != nil {
						t.Fatal(err)
					}
					ref, err := augment.ResizeImage(augment.CropImage(full, x, y, cw, ch), c.out, c.out, in)
					if err != nil {
						t.Fatal(err)
					}
					shrinks[shrink]++
					if cw < c.out && ch < c.out {
						enlarged++
					}
					want := exact
					if shrink > 1 {
						want = shrunk
					}
					mean, maxd := augment.DiffStats(got, ref)
					if in != augment.InterpNearest {
						w := worst[shrink]
						worst[shrink] = tol{max(w.mean, mean), max(w.max, maxd)}
					}
					if mean > want.mean || maxd > want.max {
						t.Errorf("%s: crop %d,%d %dx%d -> %d, %v, shrink %d: mean %.3f (tolerance %.2f), max %d (tolerance %d)",
							c.name, x, y, cw, ch, c.out, in, shrink, mean, want.mean, maxd, want.max)
					}
				}
			}
		}
	}
	if shrinks[1] == 0 || shrinks[2] == 0 || shrinks[4] == 0 {
		t.Errorf("crops by shrink factor %v: want both plain and shrink-on-load decodes", shrinks)
	}
	if enlarged == 0 {
		t.Error("no crop was enlarged on both axes")
	}
	t.Logf("crops by shrink-on-load factor: %v (%d enlarged); worst mean/max by factor: %v", shrinks, enlarged, worst)
}
