package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// RandomAug is MMSelfSup's wrapper of timm's create_transform(is_training)
// used by the fine-tuning benchmarks: RandomResizedCrop(input_size, scale
// (0.08, 1), bicubic or the given interpolation) → RandomHorizontalFlip →
// RandAugment (when auto_augment is set; else ColorJitter(color_jitter) if
// given) → ToTensor → Normalize(mean, std) → RandomErasing(re_prob,
// 'pixel', up to re_count boxes). It turns an image into a tensor, so in a
// pipeline it takes the place of ToTensor.
//
// RandAugment follows timm 0.5's "rand-mM-mstdS-inc1" policy: NumOps ops
// drawn with replacement from the increasing op set, each applied with
// probability ½ at magnitude clip(N(M, S²), 0, 10). Colour ops reuse the
// PIL-exact blends of ColorJitter; the geometric ops (Rotate, Shear,
// Translate) use a bicubic affine sampler close to, but not bit-identical
// with, Pillow's.
type RandomAug struct {
	crop         RandomResizedCrop
	jitter       *ColorJitter // only without auto_augment
	NumOps       int
	Magnitude    float64
	MagnitudeStd float64
	fill         []uint8
	lut          tensorLUT
	mean, std    []float64
	ReProb       float64
	ReCount      int
	randAug      bool
}

func init() {
	register("RandomAug", buildRandomAug)
}

func buildRandomAug(p *params) (Transform, error) {
	size := p.int("input_size", 224)
	interp := p.str("interpolation", "bicubic")
	policy := p.str("auto_augment", "")
	cj := p.float("color_jitter", 0)
	mean := p.floats("mean", 3, []float64{0.485, 0.456, 0.406})
	std := p.floats("std", 3, []float64{0.229, 0.224, 0.225})
	t := &RandomAug{ReProb: p.prob("re_prob", 0), ReCount: p.int("re_count", 1), mean: mean, std: std}
	if mode := p.str("re_mode", "const"); mode != "pixel" && t.ReProb > 0 {
		p.fail("re_mode", "only 'pixel' random erasing is supported, got %q", mode)
	}
	p.get("scale") // timm's default (0.08, 1) unless given
	scale := [2]float64{0.08, 1}
	if p.has("scale") {
		scale = p.pair("scale", scale)
	}
	if p.err != nil {
		return nil, p.err
	}
	in, ok := interpByName(interp)
	if !ok {
		return nil, fmt.Errorf("parameter %q: unsupported interpolation %q", "interpolation", interp)
	}
	if size < 1 || t.ReCount < 1 {
		return nil, fmt.Errorf("input_size %d and re_count %d must be positive", size, t.ReCount)
	}
	t.crop = RandomResizedCrop{Height: size, Width: size, Scale: scale, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, Interp: in}
	for _, m := range mean {
		t.fill = append(t.fill, uint8(math.RoundToEven(255*m)))
	}
	t.lut = newTensorLUT(3, mean, std)
	if policy != "" {
		if err := t.parsePolicy(policy); err != nil {
			return nil, fmt.Errorf("parameter %q: %w", "auto_augment", err)
		}
	} else if cj > 0 {
		r := [2]float64{max(0, 1-cj), 1 + cj}
		b, c, s := r, r, r
		t.jitter = &ColorJitter{Brightness: &b, Contrast: &c, Saturation: &s}
	}
	return t, nil
}

// parsePolicy reads timm's "rand-m9-mstd0.5-inc1[-nN]" string.
func (t *RandomAug) parsePolicy(s string) error {
	parts := strings.Split(s, "-")
	if parts[0] != "rand" {
		return fmt.Errorf("policy %q: only RandAugment ('rand-…') is supported", s)
	}
	t.randAug, t.NumOps, t.Magnitude = true, 2, 10
	inc := false
	for _, part := range parts[1:] {
		var err error
		switch {
		case strings.HasPrefix(part, "mstd"):
			t.MagnitudeStd, err = strconv.ParseFloat(part[4:], 64)
		case strings.HasPrefix(part, "m"):
			t.Magnitude, err = strconv.ParseFloat(part[1:], 64)
		case strings.HasPrefix(part, "n"):
			t.NumOps, err = strconv.Atoi(part[1:])
		case strings.HasPrefix(part, "inc"):
			inc = part == "inc1"
		default:
			err = fmt.Errorf("unknown field %q", part)
		}
		if err != nil {
			return fmt.Errorf("policy %q: %v", s, err)
		}
	}
	if !inc {
		return fmt.Errorf("policy %q: only the increasing op set (inc1) is supported", s)
	}
	return nil
}

// Name implements Transform.
func (*RandomAug) Name() string { return "RandomAug" }

// Convert runs the whole train transform on img.
func (t *RandomAug) Convert(img *Image, rng *rand.Rand) (*Tensor, error) {
	if img.C != 3 {
		return nil, fmt.Errorf("RandomAug: needs an RGB image, got %d channels", img.C)
	}
	img, _ = t.crop.apply(img, rng, false)
	if rng.Float64() < 0.5 {
		hflipInPlace(img)
	}
	if t.randAug {
		for range t.NumOps {
			op := rng.IntN(len(randAugOps))
			if rng.Float64() > 0.5 {
				continue
			}
			m := t.Magnitude
			if t.MagnitudeStd > 0 {
				m = m + t.MagnitudeStd*rng.NormFloat64()
			}
			img = t.applyOp(img, randAugOps[op], min(max(m, 0), 10)/10, rng)
		}
	} else if t.jitter != nil {
		img, _ = t.jitter.apply(img, rng, true)
	}
	x := toTensor(img, t.lut)
	if t.ReProb > 0 {
		t.erase(x, rng)
	}
	return x, nil
}

var randAugOps = []string{"AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing", "SolarizeIncreasing",
	"SolarizeAdd", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
	"ShearX", "ShearY", "TranslateXRel", "TranslateYRel"}

// applyOp applies one op at level fraction f ∈ [0, 1] (timm's
// magnitude/10), with timm's level-to-argument functions.
func (t *RandomAug) applyOp(img *Image, op string, f float64, rng *rand.Rand) *Image {
	switch op {
	case "AutoContrast":
		return autoContrast(img)
	case "Equalize":
		return equalize(img)
	case "Invert":
		return lutImage(img, func(v int) int { return 255 - v })
	case "Rotate":
		return rotateBicubic(img, randomSign(rng, 30*f), t.fill)
	case "PosterizeIncreasing":
		bits := 4 - int(4*f)
		if bits >= 8 {
			return img
		}
		mask := ^(1<<(8-bits) - 1)
		return lutImage(img, func(v int) int { return v & mask })
	case "SolarizeIncreasing":
		th := 256 - int(256*f)
		return lutImage(img, func(v int) int {
			if v < th {
				return v
			}
			return 255 - v
		})
	case "SolarizeAdd":
		add := int(110 * f)
		return lutImage(img, func(v int) int {
			if v < 128 {
				return min(255, v+add)
			}
			return v
		})
	case "ColorIncreasing":
		return adjustSaturation(img, 1+randomSign(rng, 0.9*f), false)
	case "ContrastIncreasing":
		return adjustContrast(img, 1+randomSign(rng, 0.9*f), false)
	case "BrightnessIncreasing":
		return adjustBrightness(img, 1+randomSign(rng, 0.9*f), false)
	case "SharpnessIncreasing":
		return sharpness(img, 1+randomSign(rng, 0.9*f))
	case "ShearX":
		return affineBicubic(img, [6]float64{1, randomSign(rng, 0.3*f), 0, 0, 1, 0}, t.fill)
	case "ShearY":
		return affineBicubic(img, [6]float64{1, 0, 0, randomSign(rng, 0.3*f), 1, 0}, t.fill)
	case "TranslateXRel":
		return affineBicubic(img, [6]float64{1, 0, randomSign(rng, 0.45*f) * float64(img.W), 0, 1, 0}, t.fill)
	}
	return affineBicubic(img, [6]float64{1, 0, 0, 0, 1, randomSign(rng, 0.45*f) * float64(img.H)}, t.fill)
}

// erase is timm's RandomErasing in 'pixel' mode on the normalised tensor:
// with probability ReProb, 1..ReCount boxes, each up to 10 attempts at
// area U(0.02, 1/3)·HW/count and aspect exp(U(ln 0.3, ln 1/0.3)), filled
// with N(0, 1) noise.
func (t *RandomAug) erase(x *Tensor, rng *rand.Rand) {
	if rng.Float64() > t.ReProb {
		return
	}
	count := randInt(rng, 1, t.ReCount)
	area := float64(x.H * x.W)
	lo, hi := math.Log(0.3), math.Log(1/0.3)
	for range count {
		for range 10 {
			target := uniform(rng, 0.02, 1.0/3) * area / float64(count)
			aspect := math.Exp(uniform(rng, lo, hi))
			h := roundEven(math.Sqrt(target * aspect))
			w := roundEven(math.Sqrt(target / aspect))
			if w < x.W && h < x.H {
				top, left := randInt(rng, 0, x.H-h), randInt(rng, 0, x.W-w)
				for c := range x.C {
					for y := top; y < top+h; y++ {
						row := x.Data[(c*x.H+y)*x.W+left : (c*x.H+y)*x.W+left+w]
						for i := range row {
							row[i] = float32(rng.NormFloat64())
						}
					}
				}
				break
			}
		}
	}
}
