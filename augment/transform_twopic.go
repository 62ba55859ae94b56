package augment

import (
	"math"
	"math/rand/v2"
	"strings"
)

// interpHamming is PIL's HAMMING filter (code 5). It is only reachable
// through RandomResizedCropAndInterpolationWithTwoPic, which resizes in Go;
// DecodeCrop does not take it.
const interpHamming Interp = 5

func hammingFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x *= math.Pi
	return math.Sin(x) / x * (0.54 + 0.46*math.Cos(x))
}

// twoPicInterp is timm/BEiT's _pil_interp plus 'random'.
type twoPicInterp struct {
	interp Interp
	random bool // bilinear or bicubic, drawn per call
}

func parseTwoPicInterp(s string) twoPicInterp {
	switch strings.ToLower(s) {
	case "random":
		return twoPicInterp{random: true}
	case "bicubic":
		return twoPicInterp{interp: InterpBicubic}
	case "lanczos":
		return twoPicInterp{interp: InterpLanczos}
	case "hamming":
		return twoPicInterp{interp: interpHamming}
	}
	return twoPicInterp{interp: InterpBilinear}
}

func (t twoPicInterp) pick(rng *rand.Rand) Interp {
	if !t.random {
		return t.interp
	}
	if rng.IntN(2) == 0 {
		return InterpBilinear
	}
	return InterpBicubic
}

// RandomResizedCropAndInterpolationWithTwoPic is BEiT's (used by CAE): one
// RandomResizedCrop box, resized to Size with Interp and, when SecondSize
// is set, also to SecondSize with SecondInterp. The pipeline carries both
// images on; only ToTensor and the mask generators may follow.
type RandomResizedCropAndInterpolationWithTwoPic struct {
	Height, Width             int
	SecondHeight, SecondWidth int // 0: no second image
	Scale, Ratio              [2]float64
	interp, secondInterp      twoPicInterp
}

func init() {
	register("RandomResizedCropAndInterpolationWithTwoPic", func(p *params) (Transform, error) {
		h, w, _ := p.size("size")
		t := &RandomResizedCropAndInterpolationWithTwoPic{
			Height: h, Width: w,
			Scale:        p.pair("scale", [2]float64{0.08, 1}),
			Ratio:        p.pair("ratio", [2]float64{3.0 / 4, 4.0 / 3}),
			interp:       parseTwoPicInterp(p.str("interpolation", "bilinear")),
			secondInterp: parseTwoPicInterp(p.str("second_interpolation", "lanczos")),
		}
		if p.has("second_size") {
			t.SecondHeight, t.SecondWidth, _ = p.size("second_size")
		} else {
			p.get("second_size")
		}
		return t, nil
	})
}

// Name implements Transform.
func (t *RandomResizedCropAndInterpolationWithTwoPic) Name() string {
	return "RandomResizedCropAndInterpolationWithTwoPic"
}

// ApplyTwo returns the first image and the second (nil without
// second_size).
func (t *RandomResizedCropAndInterpolationWithTwoPic) ApplyTwo(img *Image, rng *rand.Rand) (*Image, *Image) {
	i, j, h, w := rrcParams(img.W, img.H, t.Scale, t.Ratio, rng)
	crop := cropPIL(img, i, j, h, w)
	first := resizePIL(crop, t.Width, t.Height, t.interp.pick(rng))
	if t.SecondHeight == 0 {
		return first, nil
	}
	return first, resizePIL(crop, t.SecondWidth, t.SecondHeight, t.secondInterp.pick(rng))
}
