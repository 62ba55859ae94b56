package augment

import (
	"fmt"
	"math/rand/v2"
)

// ToTensor converts an 8-bit HWC image to a float32 CHW tensor in [0, 1]
// (value/255). In a pipeline it is fused with a directly following
// Normalize into one table lookup per value.
type ToTensor struct{}

func init() {
	register("ToTensor", func(p *params) (Transform, error) { return &ToTensor{}, nil })
}

// Name implements Transform.
func (*ToTensor) Name() string { return "ToTensor" }

// Convert returns the tensor of img.
func (*ToTensor) Convert(img *Image) *Tensor { return toTensor(img, newTensorLUT(img.C, nil, nil)) }

// Normalize is torchvision's: (x − mean[c]) / std[c] per channel.
type Normalize struct{ Mean, Std []float64 }

func init() {
	register("Normalize", func(p *params) (Transform, error) {
		t := &Normalize{Mean: p.floats("mean", 0, nil), Std: p.floats("std", 0, nil)}
		p.bool("inplace", false)
		if t.Mean == nil || t.Std == nil {
			return nil, fmt.Errorf(`parameters "mean" and "std" are required`)
		}
		if len(t.Mean) != len(t.Std) || len(t.Mean) == 0 {
			p.fail("std", "mean has %d values and std %d", len(t.Mean), len(t.Std))
		}
		for _, s := range t.Std {
			if s == 0 {
				p.fail("std", "zero standard deviation")
			}
		}
		return t, nil
	})
}

// Name implements Transform.
func (*Normalize) Name() string { return "Normalize" }

// ApplyTensor implements TensorTransform.
func (t *Normalize) ApplyTensor(x *Tensor, rng *rand.Rand) (*Tensor, error) {
	return t.applyTensor(x, rng, false)
}

func (t *Normalize) check(x *Tensor) error {
	if len(t.Mean) != x.C {
		return fmt.Errorf("Normalize: %d means for a %d-channel tensor", len(t.Mean), x.C)
	}
	return nil
}

func (t *Normalize) applyTensor(x *Tensor, _ *rand.Rand, owned bool) (*Tensor, error) {
	if err := t.check(x); err != nil {
		return nil, err
	}
	if !owned {
		x = x.Clone()
	}
	n := x.H * x.W
	for c := range x.C {
		m, s := float32(t.Mean[c]), float32(t.Std[c])
		plane := x.Data[c*n : (c+1)*n]
		for i, v := range plane {
			plane[i] = (v - m) / s
		}
	}
	return x, nil
}

// Lighting is MMSelfSup's AlexNet-style PCA colour noise on the tensor:
// α ~ N(0, AlphaStd²) per eigenvector, channel c gets
// Σ_j eigvec[c][j]·α_j·eigval_j added. AlphaStd 0 is the identity.
type Lighting struct{ AlphaStd float64 }

// ImageNet's PCA, MMSelfSup's Lighting._IMAGENET_PCA.
var (
	lightingEigval = [3]float32{0.2175, 0.0188, 0.0045}
	lightingEigvec = [3][3]float32{
		{-0.5675, 0.7192, 0.4009},
		{-0.5808, -0.0045, -0.8140},
		{-0.5836, -0.6948, 0.4203},
	}
)

func init() {
	register("Lighting", func(p *params) (Transform, error) {
		t := &Lighting{AlphaStd: p.float("alphastd", 0.1)}
		if t.AlphaStd < 0 {
			p.fail("alphastd", "must be non-negative, got %g", t.AlphaStd)
		}
		return t, nil
	})
}

// Name implements Transform.
func (*Lighting) Name() string { return "Lighting" }

// ApplyTensor implements TensorTransform.
func (t *Lighting) ApplyTensor(x *Tensor, rng *rand.Rand) (*Tensor, error) {
	return t.applyTensor(x, rng, false)
}

// Shift draws the per-channel offsets.
func (t *Lighting) Shift(rng *rand.Rand) [3]float32 {
	var alpha [3]float32
	for j := range alpha {
		alpha[j] = float32(rng.NormFloat64() * t.AlphaStd)
	}
	var rgb [3]float32
	for c := range rgb {
		for j := range 3 {
			rgb[c] += lightingEigvec[c][j] * alpha[j] * lightingEigval[j]
		}
	}
	return rgb
}

func (t *Lighting) applyTensor(x *Tensor, rng *rand.Rand, owned bool) (*Tensor, error) {
	if t.AlphaStd == 0 {
		return x, nil
	}
	if x.C != 3 {
		return nil, fmt.Errorf("Lighting: needs 3 channels, got %d", x.C)
	}
	rgb := t.Shift(rng)
	if !owned {
		x = x.Clone()
	}
	n := x.H * x.W
	for c := range 3 {
		plane := x.Data[c*n : (c+1)*n]
		for i := range plane {
			plane[i] += rgb[c]
		}
	}
	return x, nil
}
