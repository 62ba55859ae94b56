package augment

import (
	"math"
	"testing"
)

// The fine-tuning benchmarks' train pipeline
// (configs/benchmarks/classification/imagenet/vit-base-p16_ft-*.yaml).
const tfRandomAugYAML = `
type: SingleViewDataset
pipeline:
  - type: RandomAug
    input_size: 224
    color_jitter: null
    auto_augment: rand-m9-mstd0.5-inc1
    interpolation: bicubic
    re_prob: 0.25
    re_mode: pixel
    re_count: 1
    mean: [0.485, 0.456, 0.406]
    std: [0.229, 0.224, 0.225]
`

func TestRandomAug(t *testing.T) {
	vm := tfViews(t, tfRandomAugYAML)
	ra := vm.(*SingleView).Pipeline.steps[0].randAug
	if !ra.randAug || ra.NumOps != 2 || ra.Magnitude != 9 || ra.MagnitudeStd != 0.5 || ra.crop.Interp != InterpBicubic {
		t.Fatalf("policy parsed as %+v", ra)
	}
	if want := []uint8{124, 116, 104}; string(ra.fill) != string(want) {
		t.Fatalf("fill %v, want round(255·mean) = %v", ra.fill, want)
	}
	in := Input{Image: tfImage(300, 200, 13)}
	// Pixels outside what ToTensor+Normalize can produce from uint8 mark
	// random erasing's N(0,1) fill; count samples that have any.
	lo := [3]float32{}
	hi := [3]float32{}
	for c := range 3 {
		lo[c] = float32((0 - ra.mean[c]) / ra.std[c])
		hi[c] = float32((1 - ra.mean[c]) / ra.std[c])
	}
	const n = 300
	erased := 0
	for i := range n {
		vs, err := vm.Make(in, 3, 0, i)
		if err != nil {
			t.Fatal(err)
		}
		x := vs.Views[0]
		if x.C != 3 || x.H != 224 || x.W != 224 {
			t.Fatalf("shape %dx%dx%d", x.C, x.H, x.W)
		}
		onGrid := true
		for c := range 3 {
			for _, v := range x.Data[c*224*224 : (c+1)*224*224] {
				// A normalised uint8 value v satisfies v·std + mean ∈ {k/255}.
				k := (float64(v)*ra.std[c] + ra.mean[c]) * 255
				if v < lo[c]-1e-4 || v > hi[c]+1e-4 || math.Abs(k-math.Round(k)) > 1e-3 {
					onGrid = false
					break
				}
			}
		}
		if !onGrid {
			erased++
		}
	}
	tfRate(t, "random erasing", erased, n, 0.25)
}

func TestRandAugmentOps(t *testing.T) {
	img := tfImage(40, 30, 14)
	ra := &RandomAug{fill: []uint8{124, 116, 104}}
	rng := tfRNG()
	for _, op := range randAugOps {
		out := ra.applyOp(img, op, 0.9, rng)
		if out.W != img.W || out.H != img.H || out.C != 3 {
			t.Fatalf("%s changed the geometry", op)
		}
		if string(out.Pix) == string(img.Pix) {
			t.Errorf("%s at level 0.9 left the image unchanged", op)
		}
	}
	// Level 0 is the identity for the parametrised ops (posterize keeps 4
	// bits, so it is not).
	for _, op := range []string{"Rotate", "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"} {
		if out := ra.applyOp(img, op, 0, rng); string(out.Pix) != string(img.Pix) {
			t.Errorf("%s at level 0 changed the image", op)
		}
	}
	// Translating by the full width leaves only the fill colour.
	out := affineBicubic(img, [6]float64{1, 0, float64(img.W), 0, 1, 0}, ra.fill)
	for i := 0; i < len(out.Pix); i += 3 {
		if out.Pix[i] != 124 || out.Pix[i+1] != 116 || out.Pix[i+2] != 104 {
			t.Fatal("translated-out pixels are not the fill colour")
		}
	}
}
