package augment

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// Dataset configs as MMSelfSup v0.9.0 writes them (configs/selfsup/_base_/
// datasets/*.yaml in this repository), decoded with yaml.v3 like the
// config loader does.
const (
	tfMoCoV2YAML = `
type: MultiViewDataset
data_source: {type: ImageNet, data_prefix: data/imagenet/train}
num_views: [2]
prefetch: false
pipelines:
  - - {type: RandomResizedCrop, size: 224, scale: [0.2, 1.0]}
    - type: RandomAppliedTrans
      transforms:
        - {type: ColorJitter, brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}
      p: 0.8
    - {type: RandomGrayscale, p: 0.2}
    - {type: GaussianBlur, sigma_min: 0.1, sigma_max: 2.0, p: 0.5}
    - {type: RandomHorizontalFlip}
    - {type: ToTensor}
    - {type: Normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
`
	tfSimCLRYAML = `
type: MultiViewDataset
num_views: [2]
pipelines:
  - - {type: RandomResizedCrop, size: 224}
    - {type: RandomHorizontalFlip}
    - type: RandomAppliedTrans
      transforms:
        - {type: ColorJitter, brightness: 0.8, contrast: 0.8, saturation: 0.8, hue: 0.2}
      p: 0.8
    - {type: RandomGrayscale, p: 0.2}
    - {type: GaussianBlur, sigma_min: 0.1, sigma_max: 2.0, p: 0.5}
    - {type: ToTensor}
    - {type: Normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
`
	tfSwAVYAML = `
type: MultiViewDataset
num_views: [2, 6]
pipelines:
  - - {type: RandomResizedCrop, size: 224, scale: [0.14, 1.0]}
    - {type: RandomHorizontalFlip, p: 0.5}
    - {type: ToTensor}
    - {type: Normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
  - - {type: RandomResizedCrop, size: 96, scale: [0.05, 0.14]}
    - {type: RandomHorizontalFlip, p: 0.5}
    - {type: ToTensor}
    - {type: Normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
`
	tfBYOLYAML = `
type: MultiViewDataset
num_views: [1, 1]
pipelines:
  - - {type: RandomResizedCrop, size: 224, interpolation: 3}
    - {type: RandomHorizontalFlip}
    - {type: GaussianBlur, sigma_min: 0.1, sigma_max: 2.0, p: 1.0}
    - {type: Solarization, p: 0.0}
    - {type: ToTensor}
  - - {type: RandomResizedCrop, size: 224, interpolation: 3}
    - {type: GaussianBlur, sigma_min: 0.1, sigma_max: 2.0, p: 0.1}
    - {type: Solarization, p: 0.2}
    - {type: ToTensor}
    - {type: Lighting}
`
	tfODCYAML = `
type: DeepClusterDataset
pipeline:
  - {type: RandomResizedCrop, size: 224}
  - {type: RandomHorizontalFlip}
  - {type: RandomRotation, degrees: 2}
  - {type: ColorJitter, brightness: 0.4, contrast: 0.4, saturation: 1.0, hue: 0.5}
  - {type: RandomGrayscale, p: 0.2}
  - {type: ToTensor}
  - {type: Normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
`
	tfRotationYAML = `
type: RotationPredDataset
pipeline:
  - {type: RandomResizedCrop, size: 224}
  - {type: RandomHorizontalFlip}
  - {type: ToTensor}
  - {type: Normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
`
	tfRelLocYAML = `
type: RelativeLocDataset
pipeline:
  - {type: Resize, size: 292}
  - {type: RandomCrop, size: 255}
  - {type: RandomGrayscale, p: 0.66}
format_pipeline:
  - {type: ToTensor}
  - {type: Normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
`
	tfSimMIMYAML = `
type: SingleViewDataset
pipeline:
  - {type: RandomResizedCrop, size: 192, scale: [0.67, 1.0], ratio: [0.75, 1.3333333333333333]}
  - {type: RandomHorizontalFlip}
  - {type: ToTensor}
  - {type: Normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
  - {type: BlockwiseMaskGenerator, input_size: 192, mask_patch_size: 32, model_patch_size: 4, mask_ratio: 0.6}
`
	tfCAEYAML = `
type: SingleViewDataset
pipeline:
  - {type: RandomHorizontalFlip, p: 0.5}
  - type: RandomResizedCropAndInterpolationWithTwoPic
    size: 224
    second_size: 112
    interpolation: bicubic
    second_interpolation: lanczos
    scale: [0.08, 1.0]
  - {type: ToTensor}
  - {type: BEiTMaskGenerator, input_size: [14, 14], num_masking_patches: 75, max_num_patches: null, min_num_patches: 16}
`
)

func tfYAML(t testing.TB, src string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(src), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func tfViews(t testing.TB, src string) ViewMaker {
	t.Helper()
	vm, err := BuildViews(tfYAML(t, src))
	if err != nil {
		t.Fatal(err)
	}
	return vm
}

// tfJPEG is tfImage(w, h) as a quality-95 JPEG.
func tfJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	b, err := EncodeJPEG(tfImage(w, h, 7), 95)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
