package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// sobel is MMSelfSup's Sobel layer (models/utils/sobel.py): a frozen 1×1
// conv averaging RGB to grey (weights 1/3, bias 0; keys sobel.0.*) then a
// frozen 3×3 conv with the horizontal and vertical Sobel kernels (keys
// sobel.1.*), so the backbone sees 2 channels. Both stay in the state dict,
// as in PyTorch, but never train.
type sobel struct {
	grey, edges *conv2d
}

var sobelKernels = []float32{
	1, 0, -1, 2, 0, -2, 1, 0, -1, // d/dx
	1, 2, 1, 0, 0, 0, -1, -2, -1, // d/dy
}

func newSobel(p *nn.Path) (*sobel, error) {
	grey, err := newConv2d(p.Sub("0"), 3, 1, 1, 1, 0, 1, 1, true, torchDefault)
	if err != nil {
		return nil, err
	}
	edges, err := newConv2d(p.Sub("1"), 1, 2, 3, 1, 1, 1, 1, true, torchDefault)
	if err != nil {
		return nil, err
	}
	third := []float32{1.0 / 3, 1.0 / 3, 1.0 / 3}
	for _, c := range []struct {
		dst  *ts.Tensor
		vals []float32
	}{
		{grey.w, third}, {grey.b, []float32{0}}, {edges.w, sobelKernels}, {edges.b, []float32{0, 0}},
	} {
		if err := copyValues(c.dst, c.vals); err != nil {
			return nil, fmt.Errorf("sobel_layer: %w", err)
		}
	}
	freezeTensors(grey.w, grey.b, edges.w, edges.b)
	return &sobel{grey: grey, edges: edges}, nil
}

// copyValues overwrites dst (float32, any shape with len(vals) elements)
// in place without recording the copy for autograd.
func copyValues(dst *ts.Tensor, vals []float32) error {
	dims, err := dst.Size()
	if err != nil {
		return err
	}
	src, err := ts.NewTensorFromData(vals, dims)
	if err != nil {
		return err
	}
	defer src.MustDrop()
	if dev := dst.MustDevice(); dev != gotch.CPU {
		d, err := src.To(dev, false)
		if err != nil {
			return err
		}
		defer d.MustDrop()
		src = d
	}
	noGradDo(func() { dst.Copy_(src) })
	return ts.TorchErr()
}

// forward maps N×3×H×W to N×2×H×W; x is borrowed, the result owned.
func (s *sobel) forward(x *ts.Tensor) (*ts.Tensor, error) {
	d, err := x.Size()
	if err != nil {
		return nil, err
	}
	if len(d) != 4 || d[1] != 3 {
		return nil, fmt.Errorf("sobel_layer: input shape %v, want N×3×H×W", d)
	}
	g := s.grey.forward(x)
	return dropAfter(g, s.edges.forward(g)), nil
}
