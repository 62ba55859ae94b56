package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/sugarme/gotch/ts"
)

// InitSpec is one mmcv init_cfg entry (components.md §10). Type is
// "Kaiming", "Normal", "Constant", "Xavier", "Uniform" or "TorchDefault"
// (nn.Linear/nn.Conv2d reset_parameters: U(±1/√fan_in) for weight and bias).
// Layer lists the module classes it applies to ("Linear", "Conv2d",
// "_BatchNorm", "BatchNorm2d", ...); empty means every layer.
// All draws come from libtorch's generator (seed it with ManualSeed).
type InitSpec struct {
	Type         string   `yaml:"type"`
	Layer        []string `yaml:"layer"`
	Mean         float64  `yaml:"mean"`         // Normal
	Std          float64  `yaml:"std"`          // Normal (default 1)
	Val          float64  `yaml:"val"`          // Constant
	Bias         float64  `yaml:"bias"`         // every type but TorchDefault
	A            float64  `yaml:"a"`            // Kaiming negative slope; Uniform lower bound
	B            float64  `yaml:"b"`            // Uniform upper bound (default 1)
	Mode         string   `yaml:"mode"`         // Kaiming: fan_in | fan_out (mmcv default)
	Nonlinearity string   `yaml:"nonlinearity"` // Kaiming: relu (default) | leaky_relu | linear
	Distribution string   `yaml:"distribution"` // Kaiming, Xavier: normal (default) | uniform
	Gain         float64  `yaml:"gain"`         // Xavier (default 1)
}

var (
	kaimingFanOut = InitSpec{Type: "Kaiming", Mode: "fan_out", Nonlinearity: "relu", Distribution: "normal"}
	torchDefault  = InitSpec{Type: "TorchDefault"}
)

// initLayer is a layer an InitSpec can be applied to.
type initLayer interface {
	layerClass() string
	reinit(InitSpec) error
}

// matches reports whether s applies to a layer of class cls; "_BatchNorm"
// stands for every BatchNorm class as in mmcv.
func (s InitSpec) matches(cls string) bool {
	if len(s.Layer) == 0 {
		return true
	}
	for _, l := range s.Layer {
		switch {
		case l == cls:
			return true
		case cls == "_BatchNorm" && (strings.HasPrefix(l, "BatchNorm") || l == "SyncBatchNorm"):
			return true
		case cls == "Conv2d" && l == "Conv":
			return true
		}
	}
	return false
}

// applyInit re-initialises every layer some spec matches, specs in order.
func applyInit(specs []InitSpec, layers []initLayer) error {
	for _, s := range specs {
		for _, l := range layers {
			if s.matches(l.layerClass()) {
				if err := l.reinit(s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// initWeightBias fills w (and b when not nil) in place under no-grad.
func initWeightBias(w, b *ts.Tensor, s InitSpec) (err error) {
	noGradDo(func() { err = fillInit(w, b, s) })
	return err
}

func fillInit(w, b *ts.Tensor, s InitSpec) error {
	dims := w.MustSize()
	fanIn, fanOut := fans(dims)
	switch s.Type {
	case "TorchDefault":
		bound := torchDefaultBound(w)
		fillVia(w, func(t *ts.Tensor) { t.MustUniform_(-bound, bound) })
		if b != nil {
			fillVia(b, func(t *ts.Tensor) { t.MustUniform_(-bound, bound) })
		}
		return nil
	case "Kaiming":
		fan := fanOut
		if s.Mode == "fan_in" {
			fan = fanIn
		} else if s.Mode != "" && s.Mode != "fan_out" {
			return fmt.Errorf("init_cfg Kaiming: mode %q (want fan_in or fan_out)", s.Mode)
		}
		var gain float64
		switch s.Nonlinearity {
		case "", "relu":
			gain = math.Sqrt2
		case "leaky_relu":
			gain = math.Sqrt(2 / (1 + s.A*s.A))
		case "linear", "conv2d", "sigmoid":
			gain = 1
		case "tanh":
			gain = 5.0 / 3
		default:
			return fmt.Errorf("init_cfg Kaiming: nonlinearity %q not supported", s.Nonlinearity)
		}
		std := gain / math.Sqrt(fan)
		if err := fillDist(w, s.Distribution, std); err != nil {
			return fmt.Errorf("init_cfg Kaiming: %w", err)
		}
	case "Xavier":
		gain := s.Gain
		if gain == 0 {
			gain = 1
		}
		std := gain * math.Sqrt(2/(fanIn+fanOut))
		if err := fillDist(w, s.Distribution, std); err != nil {
			return fmt.Errorf("init_cfg Xavier: %w", err)
		}
	case "Normal":
		fillVia(w, func(t *ts.Tensor) { t.MustNormal_(s.Mean, s.Std) })
	case "Uniform":
		fillVia(w, func(t *ts.Tensor) { t.MustUniform_(s.A, s.B) })
	case "Constant":
		fillVia(w, func(t *ts.Tensor) { scalarOp(s.Val, func(v *ts.Scalar) *ts.Tensor { t.MustFill_(v); return nil }) })
	default:
		return fmt.Errorf("init_cfg type %q not supported (have: Constant, Kaiming, Normal, Uniform, Xavier)", s.Type)
	}
	if b != nil {
		fillVia(b, func(t *ts.Tensor) { scalarOp(s.Bias, func(v *ts.Scalar) *ts.Tensor { t.MustFill_(v); return nil }) })
	}
	return nil
}

// fillDist draws N(0, std²) or, for "uniform", U(±√3·std) (same variance).
func fillDist(w *ts.Tensor, dist string, std float64) error {
	switch dist {
	case "", "normal":
		fillVia(w, func(t *ts.Tensor) { t.MustNormal_(0, std) })
	case "uniform":
		bound := math.Sqrt(3) * std
		fillVia(w, func(t *ts.Tensor) { t.MustUniform_(-bound, bound) })
	default:
		return fmt.Errorf("distribution %q (want normal or uniform)", dist)
	}
	return nil
}

// parseInitCfg reads an init_cfg value (one dict or a list of dicts).
// A "Pretrained" entry is returned separately: loading files is the
// caller's job (model knows nothing of files).
func parseInitCfg(path string, v any) (specs []InitSpec, pretrained map[string]any, err error) {
	var items []any
	switch x := v.(type) {
	case nil:
		return nil, nil, nil
	case map[string]any:
		items = []any{x}
	case []any:
		items = x
	default:
		return nil, nil, fmt.Errorf("%s: want a dict or a list of dicts, got %T", path, v)
	}
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("%s[%d]: want a dict, got %T", path, i, it)
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		if m["type"] == "Pretrained" {
			pretrained = m
			continue
		}
		s := InitSpec{Std: 1, B: 1, Mode: "fan_out", Nonlinearity: "relu", Distribution: "normal", Gain: 1}
		if err := decodeConfig(p, m, &s); err != nil {
			return nil, nil, err
		}
		if s.Type == "" {
			return nil, nil, fmt.Errorf("%s.type: missing", p)
		}
		specs = append(specs, s)
	}
	return specs, pretrained, nil
}
