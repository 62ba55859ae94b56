package model

import (
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// MultiPool is MMSelfSup's MultiPooling for one ResNet-50 stage (0 = stem,
// 1..4 = layer1..4), as MultiExtractProcess uses it for feat1..feat5:
// "specified" average-pools with the (kernel, stride, padding) tables of
// components.md (ResNet-50 at 224 px ⇒ 12/6/4/3/2 px), "adaptive" pools to
// those sizes whatever the input size. The result is flattened to N×D; x
// is borrowed, the result owned.
func MultiPool(x *ts.Tensor, stage int, poolType string) (*ts.Tensor, error) {
	if stage < 0 || stage >= len(multiPoolAdaptive) {
		return nil, fmt.Errorf("multi-pooling: stage %d outside 0..4", stage)
	}
	dims, err := x.Size()
	if err != nil {
		return nil, err
	}
	if len(dims) != 4 {
		return nil, fmt.Errorf("multi-pooling: input shape %v, want N×C×H×W", dims)
	}
	var p *ts.Tensor
	switch poolType {
	case "adaptive":
		s := multiPoolAdaptive[stage]
		p, err = x.AdaptiveAvgPool2d([]int64{s, s}, false)
	case "specified":
		k := multiPoolSpecs[stage]
		if dims[2]+2*k[2] < k[0] || dims[3]+2*k[2] < k[0] {
			return nil, fmt.Errorf("multi-pooling: stage %d map %d×%d is smaller than the %d px kernel (specified pooling expects ResNet-50 at 224 px; use adaptive)", stage, dims[2], dims[3], k[0])
		}
		p, err = x.AvgPool2d([]int64{k[0], k[0]}, []int64{k[1], k[1]}, []int64{k[2], k[2]}, false, true, nil, false)
	default:
		return nil, fmt.Errorf("multi-pooling: pool type %q (want specified or adaptive)", poolType)
	}
	if err != nil {
		return nil, fmt.Errorf("multi-pooling stage %d: %w", stage, err)
	}
	return p.Flatten(1, -1, true)
}
