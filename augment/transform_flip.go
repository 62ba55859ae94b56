package augment

import "math/rand/v2"

// RandomHorizontalFlip mirrors left-right with probability P (draw U < P).
type RandomHorizontalFlip struct{ P float64 }

func init() {
	register("RandomHorizontalFlip", func(p *params) (Transform, error) {
		return &RandomHorizontalFlip{P: p.prob("p", 0.5)}, nil
	})
}

// Name implements Transform.
func (t *RandomHorizontalFlip) Name() string { return "RandomHorizontalFlip" }

// Apply implements ImageTransform.
func (t *RandomHorizontalFlip) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *RandomHorizontalFlip) apply(img *Image, rng *rand.Rand, owned bool) (*Image, error) {
	if !(rng.Float64() < t.P) {
		return img, nil
	}
	if !owned {
		img = img.Clone()
	}
	hflipInPlace(img)
	return img, nil
}
