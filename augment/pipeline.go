package augment

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Input is one sample as a data source delivers it: the encoded file
// (Bytes) or decoded pixels (Image, used when Bytes is nil, e.g. CIFAR or
// generated data). Name labels errors.
type Input struct {
	Bytes []byte
	Image *Image
	Name  string
}

// Output is what a pipeline makes of one input: the view tensor, plus the
// second-size image of RandomResizedCropAndInterpolationWithTwoPic (CAE)
// and the mask of SimMIMMaskGenerator / BEiTMaskGenerator when the
// pipeline has them.
type Output struct {
	Tensor Tensor
	Second *Tensor
	Mask   *Mask
}

// Pipeline is a compiled transform list: image ops, then ToTensor (fused
// with a following Normalize), then tensor ops and at most one mask
// generator. It holds no per-call state, so one Pipeline serves any number
// of goroutines.
type Pipeline struct {
	steps []step
	// Decode is used for Input.Bytes (zero value: RGB, default guard).
	Decode DecodeOptions
	// FastDecode lets Run crop and resize inside the decoder when the first
	// op is RandomResizedCrop, Resize or CenterCrop (see Run). BuildPipeline
	// sets it; clear it to get Decode followed by the Go transforms.
	FastDecode bool
	hasTensor  bool
}

type stepKind int

const (
	stepImage stepKind = iota
	stepTwoPic
	stepToTensor
	stepTensor
	stepSimMIM
	stepBEiT
	stepRandomAug
)

type step struct {
	kind    stepKind
	name    string
	image   imageOp
	twoPic  *RandomResizedCropAndInterpolationWithTwoPic
	tensor  tensorOp
	simmim  *SimMIMMaskGenerator
	beit    *BEiTMaskGenerator
	randAug *RandomAug
	norm    *Normalize // fused into ToTensor
	lut     tensorLUT  // ToTensor's table (normalised when norm != nil)
}

// BuildPipeline compiles a pipeline config list. Errors name the position
// and type: `pipeline[3] (ColorJitter): unknown parameter "brightnes"`.
func BuildPipeline(cfgs []map[string]any) (*Pipeline, error) {
	ts, err := buildList("pipeline", cfgs)
	if err != nil {
		return nil, err
	}
	return NewPipeline(ts...)
}

// NewPipeline compiles already built transforms, checking their order.
func NewPipeline(ts ...Transform) (*Pipeline, error) {
	p := &Pipeline{FastDecode: true}
	const (
		phaseImage = iota
		phaseTwo   // after TwoPic: only ToTensor
		phaseTensor
		phaseMasked
	)
	phase := phaseImage
	bad := func(i int, t Transform, why string) error {
		return fmt.Errorf("pipeline[%d] (%s): %s", i, t.Name(), why)
	}
	for i := 0; i < len(ts); i++ {
		t := ts[i]
		switch x := t.(type) {
		case *ToTensor:
			if phase >= phaseTensor {
				return nil, bad(i, t, "ToTensor appears twice")
			}
			s := step{kind: stepToTensor, name: x.Name()}
			if i+1 < len(ts) {
				if n, ok := ts[i+1].(*Normalize); ok && phase == phaseImage {
					s.norm = n
					s.lut = newTensorLUT(len(n.Mean), n.Mean, n.Std)
					i++
				}
			}
			if s.norm == nil {
				s.lut = newTensorLUT(3, nil, nil)
			}
			p.steps = append(p.steps, s)
			phase = phaseTensor
			p.hasTensor = true
		case *RandomAug:
			if phase != phaseImage {
				return nil, bad(i, t, "must come before ToTensor (it makes the tensor itself)")
			}
			p.steps = append(p.steps, step{kind: stepRandomAug, name: x.Name(), randAug: x})
			phase = phaseTensor
			p.hasTensor = true
		case *RandomResizedCropAndInterpolationWithTwoPic:
			if phase != phaseImage {
				return nil, bad(i, t, "must come before ToTensor")
			}
			p.steps = append(p.steps, step{kind: stepTwoPic, name: x.Name(), twoPic: x})
			phase = phaseTwo
		case *SimMIMMaskGenerator, *BEiTMaskGenerator:
			if phase != phaseTensor {
				return nil, bad(i, t, "a mask generator must follow ToTensor, once")
			}
			s := step{kind: stepSimMIM, name: t.Name()}
			if b, ok := x.(*BEiTMaskGenerator); ok {
				s.kind, s.beit = stepBEiT, b
			} else {
				s.simmim = x.(*SimMIMMaskGenerator)
			}
			p.steps = append(p.steps, s)
			phase = phaseMasked
		case imageOp:
			if phase != phaseImage {
				return nil, bad(i, t, "image transform after ToTensor or after the two-picture crop")
			}
			p.steps = append(p.steps, step{kind: stepImage, name: t.Name(), image: x})
		case tensorOp:
			if phase != phaseTensor && phase != phaseMasked {
				return nil, bad(i, t, "tensor transform before ToTensor")
			}
			p.steps = append(p.steps, step{kind: stepTensor, name: t.Name(), tensor: x})
		default:
			return nil, bad(i, t, "cannot be used in a pipeline")
		}
	}
	return p, nil
}

// fastFirst reports whether Run on encoded bytes lets the decoder do the
// first step (and so gains nothing from a shared full decode).
func (p *Pipeline) fastFirst() bool {
	if !p.FastDecode || len(p.steps) == 0 || p.steps[0].kind != stepImage {
		return false
	}
	switch p.steps[0].image.(type) {
	case *RandomResizedCrop, *Resize, *CenterCrop:
		return true
	}
	return false
}

// HasToTensor reports whether Run can produce tensors (RelativeLoc's main
// pipeline stops at images; use RunImage there).
func (p *Pipeline) HasToTensor() bool { return p.hasTensor }

// Run applies the pipeline to one input, drawing every random choice from
// rng. With encoded bytes and FastDecode, a first RandomResizedCrop
// samples its box from Probe's size and DecodeCrop crops and resizes while
// decoding (a first Resize or CenterCrop likewise); otherwise the file is
// decoded whole and every op runs in Go. The two routes draw the same
// random numbers and give the same pixels, except where DecodeCrop uses
// JPEG shrink-on-load (crops of 4× the output or more; see
// decode_crop_test.go for that tolerance).
func (p *Pipeline) Run(in Input, rng *rand.Rand) (Output, error) {
	if !p.hasTensor {
		return Output{}, fmt.Errorf("%s: pipeline has no ToTensor (use RunImage)", in.label())
	}
	out, err := p.run(in, rng)
	if err != nil {
		return Output{}, fmt.Errorf("%s: %w", in.label(), err)
	}
	return out, nil
}

// RunImage applies a pipeline without ToTensor and returns the image.
func (p *Pipeline) RunImage(in Input, rng *rand.Rand) (*Image, error) {
	if p.hasTensor {
		return nil, fmt.Errorf("%s: pipeline ends in tensors (use Run)", in.label())
	}
	img, owned, start, err := p.source(in, rng)
	if err == nil {
		img, _, err = p.runImageSteps(img, owned, p.steps[start:], rng)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.label(), err)
	}
	if !owned && img == in.Image {
		img = img.Clone()
	}
	return img, nil
}

func (in Input) label() string {
	if in.Name != "" {
		return in.Name
	}
	return "augment"
}

// source returns the starting image, whether the pipeline owns it, and the
// index of the first step still to run (1 when the decoder did step 0).
func (p *Pipeline) source(in Input, rng *rand.Rand) (*Image, bool, int, error) {
	if in.Bytes == nil {
		if in.Image == nil {
			return nil, false, 0, errors.New("input has neither bytes nor an image")
		}
		if err := in.Image.Validate(); err != nil {
			return nil, false, 0, err
		}
		return in.Image, false, 0, nil
	}
	if p.FastDecode && len(p.steps) > 0 {
		img, done, err := fastDecode(in.Bytes, p.steps[0], p.Decode, rng)
		if err != nil {
			return nil, false, 0, err
		}
		if done {
			return img, true, 1, nil
		}
	}
	img, err := Decode(in.Bytes, p.Decode)
	if err != nil {
		return nil, false, 0, err
	}
	return img, true, 0, nil
}

// runImageSteps runs the leading image steps and returns the index of the
// first step it did not run.
func (p *Pipeline) runImageSteps(img *Image, owned bool, steps []step, rng *rand.Rand) (*Image, int, error) {
	for k, s := range steps {
		if s.kind != stepImage {
			return img, k, nil
		}
		out, err := s.image.apply(img, rng, owned)
		if err != nil {
			return nil, k, fmt.Errorf("%s: %w", s.name, err)
		}
		owned = owned || out != img
		img = out
	}
	return img, len(steps), nil
}

func (p *Pipeline) run(in Input, rng *rand.Rand) (Output, error) {
	img, owned, start, err := p.source(in, rng)
	if err != nil {
		return Output{}, err
	}
	steps := p.steps[start:]
	img, k, err := p.runImageSteps(img, owned, steps, rng)
	if err != nil {
		return Output{}, err
	}
	var second *Image
	var out Output
	for _, s := range steps[k:] {
		switch s.kind {
		case stepTwoPic:
			img, second = s.twoPic.ApplyTwo(img, rng)
		case stepRandomAug:
			t, err := s.randAug.Convert(img, rng)
			if err != nil {
				return Output{}, err
			}
			out.Tensor = *t
		case stepToTensor:
			if s.norm != nil {
				if err := s.norm.check(&Tensor{C: img.C}); err != nil {
					return Output{}, err
				}
			}
			out.Tensor = *toTensor(img, s.lut)
			if second != nil {
				out.Second = toTensor(second, s.lut)
			}
		case stepTensor:
			t, err := s.tensor.applyTensor(&out.Tensor, rng, true)
			if err != nil {
				return Output{}, fmt.Errorf("%s: %w", s.name, err)
			}
			out.Tensor = *t
			if out.Second != nil {
				if out.Second, err = s.tensor.applyTensor(out.Second, rng, true); err != nil {
					return Output{}, fmt.Errorf("%s: %w", s.name, err)
				}
			}
		case stepSimMIM:
			out.Mask = s.simmim.Generate(rng)
		case stepBEiT:
			if out.Mask, err = s.beit.Generate(rng); err != nil {
				return Output{}, err
			}
		}
	}
	if img != in.Image && second == nil {
		// The image went into the tensor and nothing else refers to
		// it: the ops return either their input or a new image.
		releaseImage(img)
	}
	return out, nil
}
