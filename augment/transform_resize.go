package augment

import "math/rand/v2"

// Resize is torchvision's: an int size sets the shorter side (the longer
// becomes int(size·long/short)), [h, w] sets both. PIL resampling with
// antialiasing; bilinear unless interpolation says otherwise.
type Resize struct {
	Height, Width int // Width 0: Height is the shorter side
	MaxSize       int
	Interp        Interp
}

func init() {
	register("Resize", func(p *params) (Transform, error) {
		h, w, square := p.size("size")
		t := &Resize{Height: h, Width: w, Interp: p.interp("interpolation", InterpBilinear), MaxSize: p.int("max_size", 0)}
		p.bool("antialias", true)
		if square {
			t.Width = 0
		} else if t.MaxSize != 0 {
			p.fail("max_size", "only allowed with an int size")
		}
		if t.MaxSize != 0 && t.MaxSize <= t.Height {
			p.fail("max_size", "%d must be greater than size %d", t.MaxSize, t.Height)
		}
		return t, nil
	})
}

// Name implements Transform.
func (t *Resize) Name() string { return "Resize" }

// OutSize returns the output size for a W×H input.
func (t *Resize) OutSize(W, H int) (w, h int) {
	if t.Width != 0 {
		return t.Width, t.Height
	}
	short, long := H, W
	if W <= H {
		short, long = W, H
	}
	newShort, newLong := t.Height, int(float64(t.Height*long)/float64(short))
	if t.MaxSize != 0 && newLong > t.MaxSize {
		newShort, newLong = int(float64(t.MaxSize*newShort)/float64(newLong)), t.MaxSize
	}
	if W <= H {
		return newShort, newLong
	}
	return newLong, newShort
}

// Apply implements ImageTransform.
func (t *Resize) Apply(img *Image, rng *rand.Rand) (*Image, error) { return t.apply(img, rng, false) }

func (t *Resize) apply(img *Image, _ *rand.Rand, owned bool) (*Image, error) {
	w, h := t.OutSize(img.W, img.H)
	if w == img.W && h == img.H {
		if owned {
			return img, nil
		}
		return img.Clone(), nil
	}
	return resizePIL(img, w, h, t.Interp), nil
}
