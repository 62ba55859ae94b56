package model

import (
	"strconv"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// resBlock is mmcls's BasicBlock (conv1 3×3, conv2 3×3) or Bottleneck
// (conv1 1×1, conv2 3×3 grouped, conv3 1×1), with an optional downsample
// shortcut. Variable names follow mmcls: conv{i}, bn{i}, downsample.{j}.
type resBlock struct {
	bottleneck          bool
	conv1, conv2, conv3 *conv2d
	bn1, bn2, bn3       *batchNorm
	down                *shortcut
}

// shortcut is the first block's projection: [AvgPool (avg_down)], 1×1 conv,
// norm — registered as downsample.0/1 or, with the pool, downsample.1/2.
type shortcut struct {
	poolStride int64 // 0: no pool
	conv       *conv2d
	bn         *batchNorm
}

type blockSpec struct {
	bottleneck    bool
	in, out, mid  int64
	stride        int64
	dilation      int64
	groups        int64
	caffe         bool // stride on conv1 instead of conv2
	avgDown       bool
	norm          NormConfig
	withShortcut  bool
	zeroInitFinal bool
}

func newResBlock(p *nn.Path, s blockSpec) (*resBlock, []initLayer, error) {
	b := &resBlock{bottleneck: s.bottleneck}
	var err error
	var layers []initLayer
	s1, s2 := int64(1), s.stride
	if s.caffe {
		s1, s2 = s.stride, 1
	}
	if s.bottleneck {
		if b.conv1, err = newConv2d(p.Sub("conv1"), s.in, s.mid, 1, s1, 0, 1, 1, false, kaimingFanOut); err != nil {
			return nil, nil, err
		}
		if b.bn1, err = newBatchNorm(p.Sub("bn1"), s.mid, s.norm); err != nil {
			return nil, nil, err
		}
		if b.conv2, err = newConv2d(p.Sub("conv2"), s.mid, s.mid, 3, s2, s.dilation, s.dilation, s.groups, false, kaimingFanOut); err != nil {
			return nil, nil, err
		}
		if b.bn2, err = newBatchNorm(p.Sub("bn2"), s.mid, s.norm); err != nil {
			return nil, nil, err
		}
		if b.conv3, err = newConv2d(p.Sub("conv3"), s.mid, s.out, 1, 1, 0, 1, 1, false, kaimingFanOut); err != nil {
			return nil, nil, err
		}
		if b.bn3, err = newBatchNorm(p.Sub("bn3"), s.out, s.norm); err != nil {
			return nil, nil, err
		}
		layers = append(layers, b.conv1, b.bn1, b.conv2, b.bn2, b.conv3, b.bn3)
	} else {
		if b.conv1, err = newConv2d(p.Sub("conv1"), s.in, s.mid, 3, s.stride, s.dilation, s.dilation, 1, false, kaimingFanOut); err != nil {
			return nil, nil, err
		}
		if b.bn1, err = newBatchNorm(p.Sub("bn1"), s.mid, s.norm); err != nil {
			return nil, nil, err
		}
		if b.conv2, err = newConv2d(p.Sub("conv2"), s.mid, s.out, 3, 1, 1, 1, 1, false, kaimingFanOut); err != nil {
			return nil, nil, err
		}
		if b.bn2, err = newBatchNorm(p.Sub("bn2"), s.out, s.norm); err != nil {
			return nil, nil, err
		}
		layers = append(layers, b.conv1, b.bn1, b.conv2, b.bn2)
	}
	if s.withShortcut {
		d := &shortcut{}
		dp := p.Sub("downsample")
		idx := 0
		convStride := s.stride
		if s.avgDown && s.stride != 1 {
			d.poolStride, convStride, idx = s.stride, 1, 1
		}
		if d.conv, err = newConv2d(dp.Sub(strconv.Itoa(idx)), s.in, s.out, 1, convStride, 0, 1, 1, false, kaimingFanOut); err != nil {
			return nil, nil, err
		}
		if d.bn, err = newBatchNorm(dp.Sub(strconv.Itoa(idx+1)), s.out, s.norm); err != nil {
			return nil, nil, err
		}
		b.down = d
		layers = append(layers, d.conv, d.bn)
	}
	return b, layers, nil
}

// lastNorm is the BN zero_init_residual zeroes (bn3 or bn2).
func (b *resBlock) lastNorm() *batchNorm {
	if b.bottleneck {
		return b.bn3
	}
	return b.bn2
}

// forward returns a new tensor; x is not dropped.
func (b *resBlock) forward(x *ts.Tensor, bnTrain bool) *ts.Tensor {
	h := b.conv1.forward(x)
	h = dropAfter(h, b.bn1.forward(h, bnTrain))
	relu_(h)
	h = dropAfter(h, b.conv2.forward(h))
	h = dropAfter(h, b.bn2.forward(h, bnTrain))
	if b.bottleneck {
		relu_(h)
		h = dropAfter(h, b.conv3.forward(h))
		h = dropAfter(h, b.bn3.forward(h, bnTrain))
	}
	if b.down != nil {
		id := b.down.forward(x, bnTrain)
		add_(h, id)
		id.MustDrop()
	} else {
		add_(h, x)
	}
	relu_(h)
	return h
}

func (d *shortcut) forward(x *ts.Tensor, bnTrain bool) *ts.Tensor {
	in := x
	if d.poolStride > 0 {
		k := []int64{d.poolStride, d.poolStride}
		in = x.MustAvgPool2d(k, k, []int64{0, 0}, true, false, nil, false)
	}
	h := d.conv.forward(in)
	if in != x {
		in.MustDrop()
	}
	return dropAfter(h, d.bn.forward(h, bnTrain))
}

// dropAfter drops old and returns next: the idiom for chaining temporaries
// (old must not be an input the caller still owns).
func dropAfter(old, next *ts.Tensor) *ts.Tensor {
	old.MustDrop()
	return next
}
