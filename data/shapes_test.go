package data

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"testing"
)

func TestShapesDeterministic(t *testing.T) {
	for _, tc := range []struct{ size, channels int }{{8, 3}, {32, 1}, {64, 3}, {117, 3}, {224, 3}} {
		t.Run(fmt.Sprintf("%dx%d", tc.size, tc.channels), func(t *testing.T) {
			for _, idx := range []int{0, 7, 12345} {
				a, la := DrawShape(42, idx, tc.size, tc.channels)
				b, lb := DrawShape(42, idx, tc.size, tc.channels)
				if err := a.Validate(); err != nil {
					t.Fatal(err)
				}
				if a.W != tc.size || a.H != tc.size || a.C != tc.channels {
					t.Fatalf("got %dx%dx%d", a.W, a.H, a.C)
				}
				if la != lb || la != idx%10 || !bytes.Equal(a.Pix, b.Pix) {
					t.Fatalf("index %d: two draws differ", idx)
				}
				c, _ := DrawShape(43, idx, tc.size, tc.channels)
				if bytes.Equal(a.Pix, c.Pix) {
					t.Errorf("index %d: seeds 42 and 43 give the same image", idx)
				}
				d, _ := DrawShape(42, idx+10, tc.size, tc.channels)
				if bytes.Equal(a.Pix, d.Pix) {
					t.Errorf("indices %d and %d (same class) give the same image", idx, idx+10)
				}
			}
		})
	}
}

// TestShapesGolden pins the bytes of a few images. The renderer is integer
// arithmetic after PCG draws, so these hashes (recorded on linux/amd64)
// must hold on every architecture; a change here means images changed.
func TestShapesGolden(t *testing.T) {
	h := fnv.New64a()
	for _, tc := range []struct {
		seed          uint64
		idx, size, ch int
	}{{0, 0, 64, 3}, {1, 19, 32, 1}, {7, 1003, 96, 3}, {123456789, 5, 224, 3}} {
		im, _ := DrawShape(tc.seed, tc.idx, tc.size, tc.ch)
		h.Write(im.Pix)
	}
	const want = 0xc1f0cd720e3bd338
	if got := h.Sum64(); got != want {
		t.Errorf("FNV-64a of the golden images %#x, want %#x", got, uint64(want))
	}
}

func TestShapesSource(t *testing.T) {
	src, err := Build(map[string]any{"type": "Shapes", "num_samples": 25, "size": 16, "seed": 3, "offset": 40})
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 25 || len(src.Labels()) != 25 || len(src.ClassNames()) != 10 {
		t.Fatalf("len %d, labels %d, classes %d", src.Len(), len(src.Labels()), len(src.ClassNames()))
	}
	for i, l := range src.Labels() {
		if l != (40+i)%10 {
			t.Fatalf("label %d = %d, want %d", i, l, (40+i)%10)
		}
	}
	// offset shifts the index: sample 0 of this source is sample 40 of a
	// source without offset.
	base, err := NewShapes(ShapesConfig{NumSamples: 50, Size: 16, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	s0, err := src.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	s40, err := base.Get(40)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s0.Image.Pix, s40.Image.Pix) || s0.Label != s40.Label || s0.Bytes != nil || s0.Index != 0 {
		t.Fatalf("offset sample differs: %+v vs %+v", s0, s40)
	}
	if s0.Name != "shapes/seed=3/size=16#40" {
		t.Errorf("name %q", s0.Name)
	}
	if _, err := src.Get(25); err == nil {
		t.Error("Get(25) of 25 samples: no error")
	}

	// Concurrent Gets return what sequential ones do.
	want := make([][]byte, src.Len())
	for i := range want {
		s, _ := src.Get(i)
		want[i] = s.Image.Pix
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 50 {
				i := (w*7 + k) % src.Len()
				s, err := src.Get(i)
				if err != nil || !bytes.Equal(s.Image.Pix, want[i]) {
					errs <- fmt.Errorf("concurrent Get(%d) differs (err %v)", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestShapesGreyIsLuma: channels 1 is PIL's convert('L') of the colour image.
func TestShapesGreyIsLuma(t *testing.T) {
	for idx := range 20 {
		c, _ := DrawShape(5, idx, 24, 3)
		g, _ := DrawShape(5, idx, 24, 1)
		want := Decoding{Grayscale: true}.convert(c)
		if !bytes.Equal(g.Pix, want.Pix) {
			t.Fatalf("index %d: grey image is not the luma of the colour one", idx)
		}
	}
}

// TestShapeAreas checks the outlines' proportions: every class covers
// about 2r² (so that mean brightness does not give the class away), by
// counting quarter-pixel grid points inside each outline at r = 64 px.
func TestShapeAreas(t *testing.T) {
	const rpx = 64
	r := int64(rpx * q8)
	for class := range numShapeClasses {
		g := newGeom(class, r)
		inside := 0
		for y := -2 * r; y <= 2*r; y += q8 / 4 {
			for x := -2 * r; x <= 2*r; x += q8 / 4 {
				if g.dist(x, y) < 0 {
					inside++
					if x*x+y*y >= g.bound {
						t.Fatalf("%s: point (%d, %d) inside but beyond the bound", shapeClassNames[class], x, y)
					}
				}
			}
		}
		area := float64(inside) / 16 / (rpx * rpx)
		if math.Abs(area-2) > 0.06 {
			t.Errorf("%s: area %.3f r², want 2 ± 0.06", shapeClassNames[class], area)
		}
	}
}

// TestShapeDistanceIsMetric: near the outline the estimate changes by
// about one pixel per pixel of movement, which the anti-aliasing needs.
func TestShapeDistanceIsMetric(t *testing.T) {
	r := int64(40 * q8)
	for class := range numShapeClasses {
		g := newGeom(class, r)
		n, sum := 0, 0.0
		for y := -2 * r; y <= 2*r; y += q8 / 2 {
			for x := -2 * r; x <= 2*r; x += q8 / 2 {
				d := g.dist(x, y)
				if abs64(d) > q8 {
					continue
				}
				gx := float64(g.dist(x+q8/4, y)-g.dist(x-q8/4, y)) / (q8 / 2)
				gy := float64(g.dist(x, y+q8/4)-g.dist(x, y-q8/4)) / (q8 / 2)
				sum += math.Hypot(gx, gy)
				n++
			}
		}
		if n == 0 {
			t.Fatalf("%s: no edge points", shapeClassNames[class])
		}
		if mean := sum / float64(n); mean < 0.85 || mean > 1.2 {
			t.Errorf("%s: mean gradient of the distance at the edge %.3f, want about 1", shapeClassNames[class], mean)
		}
	}
}

func TestSinTableMargin(t *testing.T) {
	for d := range 360 {
		v := math.Sin(float64(d)*math.Pi/180) * q14
		if f := v - math.Floor(v); math.Abs(f-0.5) < 1e-6 {
			t.Errorf("sin(%d°)·16384 = %v is within 1e-6 of a rounding boundary", d, v)
		}
		if got := float64(sinQ14[d]); math.Abs(got-v) > 0.5 {
			t.Errorf("sinQ14[%d] = %v, want %v", d, got, v)
		}
		if c := float64(cosDeg(d)); math.Abs(c-math.Cos(float64(d)*math.Pi/180)*q14) > 0.5 {
			t.Errorf("cosDeg(%d) = %v", d, c)
		}
	}
}

func TestIsqrt(t *testing.T) {
	for _, n := range []int64{0, 1, 2, 3, 4, 15, 16, 17, 1 << 52, 1<<52 + 1, 1<<62 - 1, 2147483647 * 2147483647, 2147483647*2147483647 - 1} {
		r := isqrt(n)
		if r*r > n || (r+1)*(r+1) <= n {
			t.Errorf("isqrt(%d) = %d", n, r)
		}
	}
}

// shapeFeatures draws perClass samples of each class (grey, 32×32) from a
// Shapes set and returns two descriptors per image: the image downscaled
// to 8×8 (raw pixels), and its radially averaged log power spectrum
// (invariant to the shape's position and rotation; mean removed, power
// normalised).
func shapeFeatures(t *testing.T, seed, offset, perClass int) (pixels, spectra [][]float64, labels []int) {
	t.Helper()
	const n = 32
	src, err := NewShapes(ShapesConfig{NumSamples: perClass * 10, Size: n, Seed: seed, Offset: offset, Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	var cosT, sinT [n]float64
	for k := range n {
		cosT[k], sinT[k] = math.Cos(2*math.Pi*float64(k)/n), math.Sin(2*math.Pi*float64(k)/n)
	}
	for i := range src.Len() {
		s, err := src.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		px := make([]float64, 64)
		mean := 0.0
		for k, p := range s.Image.Pix {
			px[(k/n/4)*8+(k%n)/4] += float64(p) / 16
			mean += float64(p) / (n * n)
		}
		// Separable DFT: rows, then columns.
		var re1, im1, re2, im2 [n][n]float64
		for y := range n {
			for u := range n {
				for x := range n {
					v := float64(s.Image.Pix[y*n+x]) - mean
					re1[y][u] += v * cosT[(u*x)%n]
					im1[y][u] -= v * sinT[(u*x)%n]
				}
			}
		}
		for v := range n {
			for u := range n {
				for y := range n {
					c, si := cosT[(v*y)%n], sinT[(v*y)%n]
					re2[v][u] += re1[y][u]*c + im1[y][u]*si
					im2[v][u] += im1[y][u]*c - re1[y][u]*si
				}
			}
		}
		var pow, cnt [n/2 + 1]float64
		total := 0.0
		for v := range n {
			for u := range n {
				fu, fv := min(u, n-u), min(v, n-v)
				r := int(math.Round(math.Hypot(float64(fu), float64(fv))))
				if r > n/2 {
					continue
				}
				p := re2[v][u]*re2[v][u] + im2[v][u]*im2[v][u]
				pow[r] += p
				cnt[r]++
				total += p
			}
		}
		spec := make([]float64, 0, n/2)
		for r := 1; r <= n/2; r++ {
			spec = append(spec, math.Log(pow[r]/cnt[r]/total+1e-12))
		}
		pixels = append(pixels, px)
		spectra = append(spectra, spec)
		labels = append(labels, s.Label)
	}
	return pixels, spectra, labels
}

// nearestClassMean fits class means on train and returns the accuracy on
// test.
func nearestClassMean(train [][]float64, trainY []int, test [][]float64, testY []int) float64 {
	d := len(train[0])
	means := make([][]float64, numShapeClasses)
	counts := make([]float64, numShapeClasses)
	for c := range means {
		means[c] = make([]float64, d)
	}
	for i, v := range train {
		counts[trainY[i]]++
		for k := range v {
			means[trainY[i]][k] += v[k]
		}
	}
	for c := range means {
		for k := range means[c] {
			means[c][k] /= counts[c]
		}
	}
	correct := 0
	for i, v := range test {
		best, bestD := -1, math.Inf(1)
		for c := range means {
			dist := 0.0
			for k := range v {
				dist += (v[k] - means[c][k]) * (v[k] - means[c][k])
			}
			if dist < bestD {
				best, bestD = c, dist
			}
		}
		if best == testY[i] {
			correct++
		}
	}
	return float64(correct) / float64(len(test))
}

// TestShapesLearnable checks that the classes differ measurably but not
// trivially. A nearest-class-mean classifier on a position- and
// rotation-invariant descriptor (radial power spectrum) beats chance
// (10 %) clearly and stays far from perfect; on raw 8×8 pixels it is near
// chance, because position, rotation and colour vary and all outlines
// have the same area; and the classes' mean colours are alike.
// Accuracies at 150 training images per class (seed 11): about 0.32 on
// spectra and 0.09 on pixels.
func TestShapesLearnable(t *testing.T) {
	perClass := 150
	if testing.Short() {
		perClass = 60
	}
	trainPx, trainSp, trainY := shapeFeatures(t, 11, 0, perClass)
	testPx, testSp, testY := shapeFeatures(t, 11, 1_000_000, perClass)

	var counts [numShapeClasses]int
	for _, l := range trainY {
		counts[l]++
	}
	for c, n := range counts {
		if n != perClass {
			t.Errorf("class %d has %d samples, want %d", c, n, perClass)
		}
	}

	accSp := nearestClassMean(trainSp, trainY, testSp, testY)
	accPx := nearestClassMean(trainPx, trainY, testPx, testY)
	t.Logf("nearest class mean: radial spectrum %.3f, 8×8 pixels %.3f (chance 0.100)", accSp, accPx)
	if accSp < 0.18 || accSp > 0.7 {
		t.Errorf("nearest-class-mean accuracy on spectra %.3f, want in [0.18, 0.7]", accSp)
	}
	if accPx > 0.25 {
		t.Errorf("nearest-class-mean accuracy on raw pixels %.3f, want <= 0.25 (classes too easy)", accPx)
	}
}

// TestShapesClassMeanColours: the mean colour of every class is within a
// small fraction of the per-image spread of the overall mean, so colour
// says nothing about the class. (With 2000 images per class the class
// means span about 3 levels; here sampling noise adds about 8.)
func TestShapesClassMeanColours(t *testing.T) {
	perClass := 300
	src, err := NewShapes(ShapesConfig{NumSamples: perClass * numShapeClasses, Size: 16, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var mean, sq [numShapeClasses][3]float64
	for i := range src.Len() {
		s, err := src.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		var m [3]float64
		for k, p := range s.Image.Pix {
			m[k%3] += float64(p) / 256
		}
		for ch := range 3 {
			mean[s.Label][ch] += m[ch] / float64(perClass)
			sq[s.Label][ch] += m[ch] * m[ch] / float64(perClass)
		}
	}
	for ch := range 3 {
		lo, hi, sd := math.Inf(1), math.Inf(-1), 0.0
		for c := range numShapeClasses {
			lo, hi = min(lo, mean[c][ch]), max(hi, mean[c][ch])
			sd += math.Sqrt(sq[c][ch]-mean[c][ch]*mean[c][ch]) / numShapeClasses
		}
		t.Logf("channel %d: class means in [%.1f, %.1f], per-image sd %.1f", ch, lo, hi, sd)
		if hi-lo > 15 || hi-lo > 0.35*sd {
			t.Errorf("channel %d: class-mean colours span %.1f levels (per-image sd %.1f), want <= 15 and <= 0.35 sd", ch, hi-lo, sd)
		}
	}
}
