package augment

import (
	"math"
	"strings"
	"testing"
)

func TestBuildErrors(t *testing.T) {
	good := map[string]any{"type": "ToTensor"}
	cases := []struct {
		name string
		cfgs []map[string]any
		want string
	}{
		{"misspelt parameter", []map[string]any{{"type": "RandomResizedCrop", "size": 224}, {"type": "RandomHorizontalFlip"}, {"type": "RandomGrayscale"},
			{"type": "ColorJitter", "brightnes": 0.4}}, `pipeline[3] (ColorJitter): unknown parameter "brightnes"`},
		{"unknown type", []map[string]any{{"type": "RandomResizedCorp", "size": 224}}, `pipeline[0]: unknown transform "RandomResizedCorp" (have: `},
		{"missing type", []map[string]any{{"size": 224}}, `pipeline[0]: missing "type"`},
		{"type not a string", []map[string]any{{"type": 3}}, `pipeline[0]: "type" is int, want a string`},
		{"scale as string", []map[string]any{{"type": "RandomResizedCrop", "size": 224, "scale": "0.2"}}, `pipeline[0] (RandomResizedCrop): parameter "scale": want a list of numbers, got string "0.2"`},
		{"scale length", []map[string]any{{"type": "RandomResizedCrop", "size": 224, "scale": []any{0.2}}}, `parameter "scale": want a list of 2 numbers, got 1`},
		{"scale order", []map[string]any{{"type": "RandomResizedCrop", "size": 224, "scale": []any{1.0, 0.2}}}, `parameter "scale": range [1, 0.2] has lo > hi`},
		{"size missing", []map[string]any{{"type": "CenterCrop"}}, `pipeline[0] (CenterCrop): parameter "size": missing`},
		{"size fraction", []map[string]any{{"type": "Resize", "size": 22.5}}, `parameter "size": want a positive integer or [h, w], got float64 22.5`},
		{"bad interpolation", []map[string]any{{"type": "Resize", "size": 22, "interpolation": 7}}, `parameter "interpolation": unsupported interpolation code 7`},
		{"bad interpolation name", []map[string]any{{"type": "Resize", "size": 22, "interpolation": "box"}}, `unsupported interpolation string "box"`},
		{"probability", []map[string]any{{"type": "RandomGrayscale", "p": 1.5}}, `pipeline[0] (RandomGrayscale): parameter "p": probability 1.5 outside [0, 1]`},
		{"p as string", []map[string]any{{"type": "RandomHorizontalFlip", "p": "half"}}, `parameter "p": want a number, got string "half"`},
		{"hue range", []map[string]any{{"type": "ColorJitter", "hue": 0.7}}, `parameter "hue": range [-0.7 0.7] outside [-0.5, 0.5]`},
		{"negative jitter", []map[string]any{{"type": "ColorJitter", "contrast": -1}}, `parameter "contrast": must be non-negative`},
		{"blur sigmas", []map[string]any{{"type": "GaussianBlur", "sigma_min": 0.1}}, `pipeline[0] (GaussianBlur): parameters "sigma_min" and "sigma_max" are required`},
		{"nested", []map[string]any{{"type": "RandomAppliedTrans", "p": 0.8, "transforms": []any{map[string]any{"type": "ColorJitter", "saturaton": 0.4}}}},
			`pipeline[0] (RandomAppliedTrans): transforms[0] (ColorJitter): unknown parameter "saturaton"`},
		{"nested not image op", []map[string]any{{"type": "RandomAppliedTrans", "transforms": []any{good}}},
			`transforms[0] (ToTensor): only image transforms can be randomly applied`},
		{"normalize before ToTensor", []map[string]any{{"type": "Normalize", "mean": []any{0.5}, "std": []any{0.5}}}, `pipeline[0] (Normalize): tensor transform before ToTensor`},
		{"flip after ToTensor", []map[string]any{good, {"type": "RandomHorizontalFlip"}}, `pipeline[1] (RandomHorizontalFlip): image transform after ToTensor`},
		{"mask before ToTensor", []map[string]any{{"type": "SimMIMMaskGenerator"}}, `pipeline[0] (SimMIMMaskGenerator): a mask generator must follow ToTensor`},
		{"simmim sizes", []map[string]any{good, {"type": "SimMIMMaskGenerator", "input_size": 190}}, `input_size 190 must be a multiple of mask_patch_size 32`},
		{"normalize lengths", []map[string]any{good, {"type": "Normalize", "mean": []any{0.5, 0.5}, "std": []any{0.5}}}, `parameter "std": mean has 2 values and std 1`},
		{"beit too many", []map[string]any{good, {"type": "BEiTMaskGenerator", "input_size": 4, "num_masking_patches": 17}}, `num_masking_patches 17 (max_num_patches 17) does not fit a 4x4 grid`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := BuildPipeline(c.cfgs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestBuildViewsErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"type: MultiViewDatset\n", `dataset: unknown type "MultiViewDatset" (have: DeepClusterDataset, MultiViewDataset`},
		{"num_views: [2]\n", `dataset: missing "type"`},
		{"type: SingleViewDataset\npipline: []\n", `SingleViewDataset: unknown key "pipline"`},
		{"type: SingleViewDataset\n", `SingleViewDataset: missing "pipeline"`},
		{"type: SingleViewDataset\nprefetch: true\npipeline: [{type: ToTensor}]\n", `prefetch=true is not supported`},
		{"type: SingleViewDataset\npipeline: [{type: RandomHorizontalFlip}]\n", `SingleViewDataset: pipeline: has no ToTensor`},
		{"type: MultiViewDataset\nnum_views: [2, 6]\npipelines: [[{type: ToTensor}]]\n", `MultiViewDataset: num_views has 2 entries and pipelines 1`},
		{"type: MultiViewDataset\nnum_views: [2]\npipelines: [[{type: Solarization, thresh: 3}, {type: ToTensor}]]\n",
			`MultiViewDataset: pipelines[0]: pipeline[0] (Solarization): unknown parameter "thresh"`},
		{"type: RelativeLocDataset\npipeline: [{type: ToTensor}]\nformat_pipeline: [{type: ToTensor}]\n", `pipeline: must stop before ToTensor`},
	}
	for _, c := range cases {
		_, err := BuildViews(tfYAML(t, c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.src, err, c.want)
		}
	}
}

// TestFastDecode: with JPEG bytes, a leading RandomResizedCrop/Resize/
// CenterCrop runs inside DecodeCrop. It must draw the same box as the Go
// route (same RNG stream afterwards, so the other ops match) and give the
// same pixels: exactly, unless the crop is 4× the output or more, where
// JPEG shrink-on-load gives the difference decode_crop_test.go allows.
func TestFastDecode(t *testing.T) {
	buf := tfJPEG(t, 500, 375)
	for _, c := range []struct {
		name    string
		first   map[string]any
		maxMean float64 // mean |fast − slow| in uint8 levels
	}{
		// 500×375 crops to 224 (or resized to 256) never reach 4×.
		{"rrc", map[string]any{"type": "RandomResizedCrop", "size": 224, "scale": []any{0.2, 1.0}}, 0},
		{"rrc bicubic", map[string]any{"type": "RandomResizedCrop", "size": 96, "interpolation": 3}, 1.5},
		{"resize", map[string]any{"type": "Resize", "size": 256}, 0},
		{"center crop", map[string]any{"type": "CenterCrop", "size": 224}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := BuildPipeline([]map[string]any{c.first, {"type": "ToTensor"}})
			if err != nil {
				t.Fatal(err)
			}
			for idx := range 6 {
				p.FastDecode = true
				rf := NewRNG(1, 0, uint64(idx), 0)
				fast, err := p.Run(Input{Bytes: buf}, rf)
				if err != nil {
					t.Fatal(err)
				}
				p.FastDecode = false
				rs := NewRNG(1, 0, uint64(idx), 0)
				slow, err := p.Run(Input{Bytes: buf}, rs)
				if err != nil {
					t.Fatal(err)
				}
				if rf.Uint64() != rs.Uint64() {
					t.Fatal("fast and slow routes drew different amounts of randomness")
				}
				if fast.Tensor.H != slow.Tensor.H || fast.Tensor.W != slow.Tensor.W {
					t.Fatalf("fast %dx%d, slow %dx%d", fast.Tensor.W, fast.Tensor.H, slow.Tensor.W, slow.Tensor.H)
				}
				sum := 0.0
				for i, v := range fast.Tensor.Data {
					sum += math.Abs(float64(v - slow.Tensor.Data[i]))
				}
				if mean := 255 * sum / float64(len(fast.Tensor.Data)); mean > c.maxMean {
					t.Fatalf("index %d: mean |fast − slow| %.3f levels, want <= %g", idx, mean, c.maxMean)
				}
			}
		})
	}
}

// TestPipelineDoesNotMutateInput runs a pipeline whose ops all work in
// place on images they own and checks the caller's image is untouched.
func TestPipelineDoesNotMutateInput(t *testing.T) {
	p, err := BuildPipeline([]map[string]any{
		{"type": "RandomHorizontalFlip", "p": 1.0},
		{"type": "ColorJitter", "brightness": 0.5, "hue": 0.2},
		{"type": "RandomGrayscale", "p": 1.0},
		{"type": "Solarization", "p": 1.0},
	})
	if err != nil {
		t.Fatal(err)
	}
	img := tfImage(40, 30, 9)
	orig := img.Clone()
	out, err := p.RunImage(Input{Image: img}, tfRNG())
	if err != nil {
		t.Fatal(err)
	}
	if string(img.Pix) != string(orig.Pix) {
		t.Fatal("pipeline modified the input image")
	}
	if string(out.Pix) == string(orig.Pix) {
		t.Fatal("pipeline did nothing")
	}
	// Grey then solarised: all three channels equal.
	for i := 0; i < len(out.Pix); i += 3 {
		if out.Pix[i] != out.Pix[i+1] || out.Pix[i] != out.Pix[i+2] {
			t.Fatal("grayscale output has unequal channels")
		}
	}
}

// TestPipelineToTensorNormalize: the fused ToTensor+Normalize equals the
// two separate steps.
func TestPipelineToTensorNormalize(t *testing.T) {
	img := tfImage(20, 10, 10)
	mean, std := []float64{0.485, 0.456, 0.406}, []float64{0.229, 0.224, 0.225}
	p, err := NewPipeline(&ToTensor{}, &Normalize{Mean: mean, Std: std})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Run(Input{Image: img}, tfRNG())
	if err != nil {
		t.Fatal(err)
	}
	sep, _ := (&Normalize{Mean: mean, Std: std}).ApplyTensor((&ToTensor{}).Convert(img), nil)
	for i, v := range out.Tensor.Data {
		if v != sep.Data[i] {
			t.Fatalf("value %d: fused %v, separate %v", i, v, sep.Data[i])
		}
	}
	if got, want := out.Tensor.At(1, 2, 3), (float32(img.At(3, 2, 1))/255-float32(0.456))/float32(0.224); got != want {
		t.Fatalf("At(1,2,3) = %v, want %v", got, want)
	}
	if _, err := p.Run(Input{Image: &Image{W: 2, H: 2, C: 1, Pix: make([]uint8, 4)}}, tfRNG()); err == nil {
		t.Fatal("3-channel Normalize accepted a grey image")
	}
}
