package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// cropPIL is PIL's Image.crop((left, top, left+w, top+h)): regions
// outside the image read as zeros.
func cropPIL(im *Image, top, left, h, w int) *Image {
	out := NewImage(w, h, im.C)
	c := im.C
	x0, x1 := max(left, 0), min(left+w, im.W)
	if x0 >= x1 {
		return out
	}
	for y := range h {
		sy := top + y
		if sy < 0 || sy >= im.H {
			continue
		}
		copy(out.Pix[(y*w+x0-left)*c:(y*w+x1-left)*c], im.Pix[(sy*im.W+x0)*c:(sy*im.W+x1)*c])
	}
	return out
}

// rrcParams is torchvision 0.14's RandomResizedCrop.get_params on a W×H
// image: top, left, height, width of the crop.
func rrcParams(W, H int, scale, ratio [2]float64, rng *rand.Rand) (i, j, h, w int) {
	area := float64(W * H)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(rng, scale[0], scale[1])
		aspect := math.Exp(uniform(rng, lr0, lr1))
		w = roundEven(math.Sqrt(target * aspect))
		h = roundEven(math.Sqrt(target / aspect))
		if 0 < w && w <= W && 0 < h && h <= H {
			i = randInt(rng, 0, H-h)
			j = randInt(rng, 0, W-w)
			return i, j, h, w
		}
	}
	inRatio := float64(W) / float64(H)
	switch {
	case inRatio < min(ratio[0], ratio[1]):
		w = W
		h = roundEven(float64(w) / min(ratio[0], ratio[1]))
	case inRatio > max(ratio[0], ratio[1]):
		h = H
		w = roundEven(float64(h) * max(ratio[0], ratio[1]))
	default:
		w, h = W, H
	}
	return (H - h) / 2, (W - w) / 2, h, w
}

// RandomResizedCrop is torchvision's: a random crop of scale×area and
// aspect ratio in ratio (10 attempts, then the centre fallback), resized to
// Height×Width with Interp.
type RandomResizedCrop struct {
	Height, Width int
	Scale, Ratio  [2]float64
	Interp        Interp
}

func init() {
	register("RandomResizedCrop", func(p *params) (Transform, error) {
		h, w, _ := p.size("size")
		t := &RandomResizedCrop{
			Height: h, Width: w,
			Scale:  p.pair("scale", [2]float64{0.08, 1}),
			Ratio:  p.pair("ratio", [2]float64{3.0 / 4, 4.0 / 3}),
			Interp: p.interp("interpolation", InterpBilinear),
		}
		p.bool("antialias", true) // PIL always antialiases
		if t.Scale[0] < 0 || t.Ratio[0] <= 0 {
			p.fail("scale", "scale %v and ratio %v must be positive", t.Scale, t.Ratio)
		}
		return t, nil
	})
}

// Name implements Transform.
func (t *RandomResizedCrop) Name() string { return "RandomResizedCrop" }

// Box draws the crop box for a W×H image.
func (t *RandomResizedCrop) Box(W, H int, rng *rand.Rand) (top, left, h, w int) {
	return rrcParams(W, H, t.Scale, t.Ratio, rng)
}

// Apply implements ImageTransform.
func (t *RandomResizedCrop) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *RandomResizedCrop) apply(img *Image, rng *rand.Rand, _ bool) (*Image, error) {
	i, j, h, w := t.Box(img.W, img.H, rng)
	return resizeCropPIL(img, i, j, h, w, t.Width, t.Height, t.Interp), nil
}

// CenterCrop is torchvision's: the centred Height×Width region (rounding
// half to even), zero-padded first when the image is smaller.
type CenterCrop struct{ Height, Width int }

func init() {
	register("CenterCrop", func(p *params) (Transform, error) {
		h, w, _ := p.size("size")
		return &CenterCrop{Height: h, Width: w}, nil
	})
}

// Name implements Transform.
func (t *CenterCrop) Name() string { return "CenterCrop" }

// Box returns the crop for a W×H image in that image's coordinates (top or
// left negative when the image is padded).
func (t *CenterCrop) Box(W, H int) (top, left int) {
	padL, padT := 0, 0
	if t.Width > W {
		padL = (t.Width - W) / 2
		W = t.Width
	}
	if t.Height > H {
		padT = (t.Height - H) / 2
		H = t.Height
	}
	top = roundEven(float64(H-t.Height)/2) - padT
	left = roundEven(float64(W-t.Width)/2) - padL
	return top, left
}

// Apply implements ImageTransform.
func (t *CenterCrop) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *CenterCrop) apply(img *Image, _ *rand.Rand, _ bool) (*Image, error) {
	top, left := t.Box(img.W, img.H)
	return cropPIL(img, top, left, t.Height, t.Width), nil
}

// RandomCrop is torchvision's: optional zero padding on every side
// (Padding: left, top, right, bottom), optional pad_if_needed, then a
// uniformly placed Height×Width crop.
type RandomCrop struct {
	Height, Width int
	Padding       [4]int
	PadIfNeeded   bool
}

func init() {
	register("RandomCrop", func(p *params) (Transform, error) {
		h, w, _ := p.size("size")
		t := &RandomCrop{Height: h, Width: w, PadIfNeeded: p.bool("pad_if_needed", false)}
		if p.has("padding") {
			if v, _ := p.get("padding"); v != nil {
				if f, ok := number(v); ok {
					n := int(f)
					t.Padding = [4]int{n, n, n, n}
				} else {
					fs := p.floats("padding", 0, nil)
					switch len(fs) {
					case 2:
						t.Padding = [4]int{int(fs[0]), int(fs[1]), int(fs[0]), int(fs[1])}
					case 4:
						t.Padding = [4]int{int(fs[0]), int(fs[1]), int(fs[2]), int(fs[3])}
					default:
						p.fail("padding", "want an int or a list of 2 or 4 ints")
					}
				}
			}
		}
		if f := p.float("fill", 0); f != 0 {
			p.fail("fill", "only fill 0 is supported")
		}
		if m := p.str("padding_mode", "constant"); m != "constant" {
			p.fail("padding_mode", "only constant padding is supported, got %q", m)
		}
		for _, v := range t.Padding {
			if v < 0 {
				p.fail("padding", "negative padding %v", t.Padding)
			}
		}
		return t, nil
	})
}

// Name implements Transform.
func (t *RandomCrop) Name() string { return "RandomCrop" }

// Apply implements ImageTransform.
func (t *RandomCrop) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *RandomCrop) apply(img *Image, rng *rand.Rand, _ bool) (*Image, error) {
	// Work in padded coordinates, then shift back: cropPIL zero-fills.
	offL, offT := t.Padding[0], t.Padding[1]
	W := img.W + t.Padding[0] + t.Padding[2]
	H := img.H + t.Padding[1] + t.Padding[3]
	if t.PadIfNeeded && W < t.Width {
		d := t.Width - W
		offL += d
		W += 2 * d
	}
	if t.PadIfNeeded && H < t.Height {
		d := t.Height - H
		offT += d
		H += 2 * d
	}
	if W < t.Width || H < t.Height {
		return nil, fmt.Errorf("RandomCrop: crop %dx%d larger than the (padded) %dx%d image", t.Width, t.Height, W, H)
	}
	i, j := 0, 0
	if W != t.Width || H != t.Height {
		i = randInt(rng, 0, H-t.Height)
		j = randInt(rng, 0, W-t.Width)
	}
	return cropPIL(img, i-offT, j-offL, t.Height, t.Width), nil
}
