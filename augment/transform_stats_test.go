package augment

import (
	"math"
	"slices"
	"testing"
)

const tfDraws = 4000

// tfRate checks that k of n Bernoulli draws fit probability p within 5
// standard deviations (false-failure odds below 1e-6).
func tfRate(t *testing.T, what string, k, n int, p float64) {
	t.Helper()
	sd := math.Sqrt(float64(n) * p * (1 - p))
	if d := math.Abs(float64(k) - p*float64(n)); d > 5*sd+1e-9 {
		t.Errorf("%s: %d of %d, expected %.0f ± %.1f (5σ)", what, k, n, p*float64(n), 5*sd)
	}
}

func TestRandomResizedCropBoxes(t *testing.T) {
	cases := []struct {
		W, H         int
		scale, ratio [2]float64
	}{
		{500, 375, [2]float64{0.2, 1}, [2]float64{3.0 / 4, 4.0 / 3}},
		{500, 375, [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}},
		{500, 375, [2]float64{0.05, 0.14}, [2]float64{3.0 / 4, 4.0 / 3}},
		{32, 32, [2]float64{0.67, 1}, [2]float64{3.0 / 4, 4.0 / 3}},
	}
	for _, c := range cases {
		rng := NewRNG(5, 0, 0, 0)
		minA, maxA := 1.0, 0.0
		for range tfDraws {
			i, j, h, w := rrcParams(c.W, c.H, c.scale, c.ratio, rng)
			if i < 0 || j < 0 || i+h > c.H || j+w > c.W || h < 1 || w < 1 {
				t.Fatalf("%v: box (%d,%d,%d,%d) outside %dx%d", c, i, j, h, w, c.W, c.H)
			}
			// w and h are rounded from √(area·aspect) and √(area/aspect),
			// so the area and ratio carry up to half a pixel of error.
			a := float64(w*h) / float64(c.W*c.H)
			slack := (float64(w+h)/2 + 0.25) / float64(c.W*c.H)
			fallback := w == c.W || h == c.H
			if !fallback && (a < c.scale[0]-slack || a > c.scale[1]+slack) {
				t.Fatalf("%v: area fraction %.4f outside %v", c, a, c.scale)
			}
			r := float64(w) / float64(h)
			rs := 0.5/float64(h)*r + 0.5/float64(h)*2
			if r < c.ratio[0]-rs || r > c.ratio[1]+rs {
				t.Fatalf("%v: aspect %.4f outside %v", c, r, c.ratio)
			}
			minA, maxA = min(minA, a), max(maxA, a)
		}
		span := c.scale[1] - c.scale[0]
		if minA > c.scale[0]+0.05*span || maxA < c.scale[1]-0.1*span {
			t.Errorf("%v: areas only cover [%.3f, %.3f]", c, minA, maxA)
		}
	}
	// An image too elongated for any in-ratio box falls back to the centre.
	i, j, h, w := rrcParams(1000, 10, [2]float64{0.9, 1}, [2]float64{3.0 / 4, 4.0 / 3}, NewRNG(1, 1, 1, 1))
	if h != 10 || w != 13 || i != 0 || j != (1000-13)/2 {
		t.Fatalf("fallback box (%d,%d,%d,%d), want (0,493,10,13)", i, j, h, w)
	}
}

// tfChanged runs op on img n times and counts outputs that differ from
// the input.
func tfChanged(t *testing.T, op ImageTransform, img *Image, n int) int {
	t.Helper()
	rng := NewRNG(11, 0, 0, 0)
	k := 0
	for range n {
		out, err := op.Apply(img, rng)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out.Pix, img.Pix) {
			k++
		}
	}
	return k
}

func TestRandomApplicationRates(t *testing.T) {
	img := tfImage(24, 16, 8)
	for _, c := range []struct {
		name string
		op   ImageTransform
		p    float64
	}{
		{"flip 0.5", &RandomHorizontalFlip{P: 0.5}, 0.5},
		{"flip 0", &RandomHorizontalFlip{P: 0}, 0},
		{"grayscale 0.2", &RandomGrayscale{P: 0.2}, 0.2},
		{"grayscale 0.66", &RandomGrayscale{P: 0.66}, 0.66},
		{"blur 0.5", &GaussianBlur{SigmaMin: 0.5, SigmaMax: 2, P: 0.5}, 0.5},
		{"blur 0.1", &GaussianBlur{SigmaMin: 0.5, SigmaMax: 2, P: 0.1}, 0.1},
		{"blur 1", &GaussianBlur{SigmaMin: 0.5, SigmaMax: 2, P: 1}, 1},
		{"solarize 0.2", &Solarization{Threshold: 128, P: 0.2}, 0.2},
		{"solarize 0", &Solarization{Threshold: 128, P: 0}, 0},
		{"applied 0.8", &RandomAppliedTrans{P: 0.8, Transforms: []ImageTransform{&RandomGrayscale{P: 1}}}, 0.8},
	} {
		t.Run(c.name, func(t *testing.T) {
			k := tfChanged(t, c.op, img, tfDraws)
			tfRate(t, c.name, k, tfDraws, c.p)
			if img.Pix[0] != tfImage(24, 16, 8).Pix[0] || !slices.Equal(img.Pix, tfImage(24, 16, 8).Pix) {
				t.Fatal("Apply modified its input")
			}
		})
	}
}

func TestColorJitterFactors(t *testing.T) {
	cj := &ColorJitter{Brightness: &[2]float64{0.6, 1.4}, Contrast: &[2]float64{0.2, 1.8}, Saturation: &[2]float64{0, 2}, Hue: &[2]float64{-0.1, 0.1}}
	rng := NewRNG(3, 0, 0, 0)
	first := [4]int{}
	ranges := []*[2]float64{cj.Brightness, cj.Contrast, cj.Saturation, cj.Hue}
	var sum [4]float64
	for range tfDraws {
		order, f := cj.Factors(rng)
		o := order[:]
		if s := slices.Sorted(slices.Values(o)); !slices.Equal(s, []int{0, 1, 2, 3}) {
			t.Fatalf("order %v is not a permutation", order)
		}
		first[order[0]]++
		for k, r := range ranges {
			if f[k] < r[0] || f[k] >= r[1] {
				t.Fatalf("factor %d = %g outside %v", k, f[k], *r)
			}
			sum[k] += f[k]
		}
	}
	for k, r := range ranges {
		// Uniform mean within 5 standard errors.
		mean, se := (r[0]+r[1])/2, (r[1]-r[0])/math.Sqrt(12*tfDraws)
		if m := sum[k] / tfDraws; math.Abs(m-mean) > 5*se {
			t.Errorf("factor %d mean %.4f, want %.4f ± %.4f", k, m, mean, 5*se)
		}
		tfRate(t, "op first", first[k], tfDraws, 0.25)
	}
	// Disabled ops draw nothing and leave NaN.
	_, f := (&ColorJitter{Hue: &[2]float64{-0.2, 0.2}}).Factors(rng)
	if !math.IsNaN(f[0]) || !math.IsNaN(f[1]) || !math.IsNaN(f[2]) || math.IsNaN(f[3]) {
		t.Fatalf("factors %v", f)
	}
}

func TestColorJitterRangesFromConfig(t *testing.T) {
	tr, err := BuildTransform(map[string]any{"type": "ColorJitter", "brightness": 0.4, "contrast": 1.5, "saturation": []any{0.5, 0.9}, "hue": 0.1})
	if err != nil {
		t.Fatal(err)
	}
	cj := tr.(*ColorJitter)
	if *cj.Brightness != [2]float64{0.6, 1.4} || *cj.Contrast != [2]float64{0, 2.5} || *cj.Saturation != [2]float64{0.5, 0.9} || *cj.Hue != [2]float64{-0.1, 0.1} {
		t.Fatalf("ranges %v %v %v %v", *cj.Brightness, *cj.Contrast, *cj.Saturation, *cj.Hue)
	}
	tr, _ = BuildTransform(map[string]any{"type": "ColorJitter", "brightness": 0})
	if tr.(*ColorJitter).Brightness != nil {
		t.Fatal("brightness 0 should disable the op")
	}
}

func TestLightingShift(t *testing.T) {
	l := &Lighting{AlphaStd: 0.1}
	rng := NewRNG(4, 0, 0, 0)
	var sq [3]float64
	for range tfDraws {
		s := l.Shift(rng)
		for c := range 3 {
			sq[c] += float64(s[c]) * float64(s[c])
		}
	}
	for c := range 3 {
		// Var(rgb_c) = Σ_j (eigvec[c][j]·eigval_j·alphastd)².
		want := 0.0
		for j := range 3 {
			v := float64(lightingEigvec[c][j]) * float64(lightingEigval[j]) * 0.1
			want += v * v
		}
		got := sq[c] / tfDraws
		if math.Abs(got-want) > 0.15*want {
			t.Errorf("channel %d variance %.3g, want %.3g ± 15%%", c, got, want)
		}
	}
	x := NewTensor(3, 2, 2)
	y, _ := (&Lighting{}).ApplyTensor(x, rng)
	if y != x {
		t.Fatal("alphastd 0 must be the identity")
	}
}

func TestMaskGenerators(t *testing.T) {
	sm := &SimMIMMaskGenerator{InputSize: 192, MaskPatch: 32, ModelPatch: 4, Ratio: 0.6}
	be, err := BuildTransform(map[string]any{"type": "BEiTMaskGenerator", "input_size": []any{14, 14}, "num_masking_patches": 75, "min_num_patches": 16})
	if err != nil {
		t.Fatal(err)
	}
	rng := NewRNG(2, 0, 0, 0)
	hits := make([]int, 48*48)
	for range 500 {
		m := sm.Generate(rng)
		if m.Count() != 22*64 {
			t.Fatalf("SimMIM mask has %d ones, want %d", m.Count(), 22*64)
		}
		// Constant on every 8×8 block (one 32-px mask patch).
		for y := range 48 {
			for x := range 48 {
				if m.Data[y*48+x] != m.Data[(y/8*8)*48+x/8*8] {
					t.Fatal("mask not constant within a block")
				}
				hits[y*48+x] += int(m.Data[y*48+x])
			}
		}
		bm, err := be.(*BEiTMaskGenerator).Generate(rng)
		if err != nil {
			t.Fatal(err)
		}
		if bm.H != 14 || bm.W != 14 || bm.Count() != 75 {
			t.Fatalf("BEiT mask %dx%d with %d ones, want 14x14 with 75", bm.H, bm.W, bm.Count())
		}
	}
	// Every block is chosen with probability 22/36.
	for b := range 36 {
		k := hits[(b/6*8)*48+b%6*8]
		tfRate(t, "SimMIM block", k, 500, 22.0/36)
	}
}
