package augment

import (
	"fmt"
	"math/rand/v2"
)

// RandomAppliedTrans is MMSelfSup's wrapper around torchvision's
// RandomApply: draw U; apply Transforms in order iff U <= P.
type RandomAppliedTrans struct {
	Transforms []ImageTransform
	P          float64
}

func init() {
	register("RandomAppliedTrans", func(p *params) (Transform, error) {
		cfgs := p.cfgList("transforms")
		prob := p.prob("p", 0.5)
		if p.err != nil {
			return nil, p.err
		}
		ts, err := buildList("transforms", cfgs)
		if err != nil {
			return nil, err
		}
		t := &RandomAppliedTrans{P: prob}
		for i, x := range ts {
			op, ok := x.(imageOp)
			if !ok {
				return nil, fmt.Errorf("transforms[%d] (%s): only image transforms can be randomly applied", i, x.Name())
			}
			t.Transforms = append(t.Transforms, op)
		}
		return t, nil
	})
}

// Name implements Transform.
func (t *RandomAppliedTrans) Name() string { return "RandomAppliedTrans" }

// Apply implements ImageTransform.
func (t *RandomAppliedTrans) Apply(img *Image, rng *rand.Rand) (*Image, error) {
	return t.apply(img, rng, false)
}

func (t *RandomAppliedTrans) apply(img *Image, rng *rand.Rand, owned bool) (*Image, error) {
	if t.P < rng.Float64() {
		return img, nil
	}
	for _, x := range t.Transforms {
		out, err := x.(imageOp).apply(img, rng, owned)
		if err != nil {
			return nil, err
		}
		owned = owned || out != img
		img = out
	}
	return img, nil
}
