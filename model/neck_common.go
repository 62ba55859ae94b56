package model

import (
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// singleInput is MMSelfSup's `assert len(x) == 1` for necks and heads.
func singleInput(who string, xs []*ts.Tensor) (*ts.Tensor, error) {
	if len(xs) != 1 || xs[0] == nil {
		return nil, fmt.Errorf("%s: want exactly one input tensor, got %d", who, len(xs))
	}
	return xs[0], nil
}

// checkFeatureInput validates x before a neck or head runs Must* ops on it:
// 4-D N×C×H×W when pooling, else 2-D N×C or 4-D flattening to C features.
func checkFeatureInput(who string, x *ts.Tensor, channels int64, pool bool) error {
	dims, err := x.Size()
	if err != nil {
		return fmt.Errorf("%s input: %w", who, err)
	}
	if pool {
		if len(dims) != 4 || dims[1] != channels {
			return fmt.Errorf("%s input shape %v, want N×%d×H×W", who, dims, channels)
		}
		return nil
	}
	if len(dims) < 2 || dims[0] == 0 {
		return fmt.Errorf("%s input shape %v, want N×%d", who, dims, channels)
	}
	n := int64(1)
	for _, d := range dims[1:] {
		n *= d
	}
	if n != channels {
		return fmt.Errorf("%s input shape %v flattens to %d features, want %d", who, dims, n, channels)
	}
	return nil
}

// poolFlatten is [AdaptiveAvgPool2d(1)] then view(N, -1); a new tensor.
func poolFlatten(x *ts.Tensor, pool bool) *ts.Tensor {
	if pool {
		return x.MustAdaptiveAvgPool2d([]int64{1, 1}, false).MustFlatten(1, -1, true)
	}
	return x.MustFlatten(1, -1, false)
}

// l2Normalize is F.normalize(x, dim=1): x / max(‖x‖₂, 1e-12); a new tensor.
func l2Normalize(x *ts.Tensor) *ts.Tensor {
	two := ts.FloatScalar(2)
	n := x.MustNormScalaroptDim(two, []int64{1}, true, false)
	two.MustDrop()
	n = scalarOp(1e-12, func(s *ts.Scalar) *ts.Tensor { return n.MustClampMin(s, true) })
	out := x.MustDiv(n, false)
	n.MustDrop()
	return out
}

// neckInit applies a neck's init_cfg: the config's list when given,
// otherwise the class default (MMSelfSup's init_cfg argument default).
func neckInit(path string, cfgInit any, defaults []InitSpec, layers []initLayer) error {
	specs := defaults
	if cfgInit != nil {
		s, pre, err := parseInitCfg(path+".init_cfg", cfgInit)
		if err != nil {
			return err
		}
		if pre != nil {
			return fmt.Errorf("%s.init_cfg: Pretrained is only supported for backbones", path)
		}
		specs = s
	}
	return applyInit(specs, layers)
}

// bnOnes is mmcv's Constant(val=1) for _BatchNorm/GroupNorm, the default
// init_cfg of most MMSelfSup necks.
var bnOnes = []InitSpec{{Type: "Constant", Val: 1, Layer: []string{"_BatchNorm", "GroupNorm"}}}

func positive(name string, v int) error {
	if v < 1 {
		return fmt.Errorf("%s %d must be ≥ 1", name, v)
	}
	return nil
}
