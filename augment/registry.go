package augment

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// Transform is one step of a pipeline, built from a config map by
// BuildTransform. Concrete steps also implement ImageTransform (PIL-stage
// ops), TensorTransform (ops after ToTensor) or are one of the converters
// the pipeline knows (ToTensor, RandomResizedCropAndInterpolationWithTwoPic,
// the mask generators).
type Transform interface {
	// Name returns the config type name, e.g. "RandomResizedCrop".
	Name() string
}

// ImageTransform is an op on 8-bit images (before ToTensor). Apply never
// modifies img; it may return img itself when the op draws "skip".
type ImageTransform interface {
	Transform
	Apply(img *Image, rng *rand.Rand) (*Image, error)
}

// TensorTransform is an op on tensors (after ToTensor). ApplyTensor never
// modifies t; it may return t itself when nothing changes.
type TensorTransform interface {
	Transform
	ApplyTensor(t *Tensor, rng *rand.Rand) (*Tensor, error)
}

// imageOp is what the pipeline calls: owned says the pipeline made img
// (it is no caller's input), so the op may write into it and return it.
type imageOp interface {
	ImageTransform
	apply(img *Image, rng *rand.Rand, owned bool) (*Image, error)
}

// tensorOp is the in-place form of TensorTransform, for tensors the
// pipeline owns.
type tensorOp interface {
	TensorTransform
	applyTensor(t *Tensor, rng *rand.Rand, owned bool) (*Tensor, error)
}

type builder func(p *params) (Transform, error)

// registry maps MMSelfSup's transform type names to builders; it is filled
// by init functions in the transform_*.go and mask_*.go files and never
// changed afterwards.
var registry = map[string]builder{}

func register(name string, b builder) {
	if _, dup := registry[name]; dup {
		panic("augment: transform " + name + " registered twice")
	}
	registry[name] = b
}

// TransformNames lists the registered type names, sorted.
func TransformNames() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// BuildTransform builds one transform from its config map, written as
// MMSelfSup writes it: {type: RandomResizedCrop, size: 224, scale: [0.2, 1.0]}.
// An unknown type, an unknown parameter or a parameter of the wrong type or
// range is an error naming the transform and the parameter.
func BuildTransform(cfg map[string]any) (Transform, error) {
	name, t, err := buildTransform(cfg)
	if err != nil {
		if name != "" {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return nil, err
	}
	return t, nil
}

// buildTransform returns the type name separately so callers can put it
// into their own error prefix (pipeline[3] (ColorJitter): …).
func buildTransform(cfg map[string]any) (string, Transform, error) {
	if cfg == nil {
		return "", nil, fmt.Errorf("empty transform config")
	}
	raw, ok := cfg["type"]
	if !ok {
		return "", nil, fmt.Errorf(`missing "type"`)
	}
	name, ok := raw.(string)
	if !ok {
		return "", nil, fmt.Errorf(`"type" is %T, want a string`, raw)
	}
	b, ok := registry[name]
	if !ok {
		return "", nil, fmt.Errorf("unknown transform %q (have: %s)", name, strings.Join(TransformNames(), ", "))
	}
	p := newParams(cfg)
	t, err := b(p)
	if err == nil {
		err = p.finish()
	}
	if err != nil {
		return name, nil, err
	}
	return name, t, nil
}

// buildList builds a nested transform list (RandomAppliedTrans.transforms,
// Compose-like lists); errors are prefixed with key[i] (Type).
func buildList(key string, cfgs []map[string]any) ([]Transform, error) {
	out := make([]Transform, len(cfgs))
	for i, c := range cfgs {
		name, t, err := buildTransform(c)
		if err != nil {
			if name != "" {
				return nil, fmt.Errorf("%s[%d] (%s): %w", key, i, name, err)
			}
			return nil, fmt.Errorf("%s[%d]: %w", key, i, err)
		}
		out[i] = t
	}
	return out, nil
}
