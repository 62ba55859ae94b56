package model

import (
	"fmt"
	"math"
	"runtime"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// The layers below replace gotch's nn.Conv2D/BatchNorm/Linear so that
// variable names, registration order (for StateDict), BatchNorm's
// num_batches_tracked and PyTorch's initialisation all match torch.nn.

// noTensor is libtorch's "undefined tensor" for optional arguments (a
// bias-free conv, a non-affine BN). It owns nothing; never drop it.
func noTensor() *ts.Tensor { return ts.FromCtensor(nil) }

// orNone returns t, or the undefined tensor when t is nil.
func orNone(t *ts.Tensor) *ts.Tensor {
	if t == nil {
		return noTensor()
	}
	return t
}

// scalarOp runs f with a libtorch scalar holding v and frees the scalar:
// gotch's *Scalar is C memory with no finalizer.
func scalarOp(v float64, f func(s *ts.Scalar) *ts.Tensor) *ts.Tensor {
	s := ts.FloatScalar(v)
	defer s.MustDrop()
	return f(s)
}

func mulScalar(t *ts.Tensor, v float64, del bool) *ts.Tensor {
	return scalarOp(v, func(s *ts.Scalar) *ts.Tensor { return t.MustMulScalar(s, del) })
}

func divScalar(t *ts.Tensor, v float64, del bool) *ts.Tensor {
	return scalarOp(v, func(s *ts.Scalar) *ts.Tensor { return t.MustDivScalar(s, del) })
}

func addScalar(t *ts.Tensor, v float64, del bool) *ts.Tensor {
	return scalarOp(v, func(s *ts.Scalar) *ts.Tensor { return t.MustAddScalar(s, del) })
}

// conv2d is torch.nn.Conv2d: variables "weight" [out, in/groups, k, k]
// and, with bias, "bias" [out].
type conv2d struct {
	w, b                  *ts.Tensor
	in, out, k            int64
	stride, pad, dilation int64
	groups                int64
}

func newConv2d(p *nn.Path, in, out, k, stride, pad, dilation, groups int64, bias bool, ini InitSpec) (*conv2d, error) {
	if in%groups != 0 || out%groups != 0 {
		return nil, fmt.Errorf("%s: channels %d→%d not divisible by groups %d", pathName(p, ""), in, out, groups)
	}
	c := &conv2d{in: in, out: out, k: k, stride: stride, pad: pad, dilation: dilation, groups: groups}
	var err error
	if c.w, err = addParam(p, "weight", []int64{out, in / groups, k, k}); err != nil {
		return nil, err
	}
	if bias {
		if c.b, err = addParam(p, "bias", []int64{out}); err != nil {
			return nil, err
		}
	}
	return c, c.reinit(ini)
}

func (c *conv2d) layerClass() string { return "Conv2d" }
func (c *conv2d) reinit(s InitSpec) error {
	return initWeightBias(c.w, c.b, s)
}

func (c *conv2d) forward(x *ts.Tensor) *ts.Tensor {
	return ts.MustConv2d(x, c.w, orNone(c.b), []int64{c.stride, c.stride}, []int64{c.pad, c.pad},
		[]int64{c.dilation, c.dilation}, c.groups)
}

// linear is torch.nn.Linear: "weight" [out, in], optional "bias" [out].
type linear struct {
	w, b    *ts.Tensor
	in, out int64
}

func newLinear(p *nn.Path, in, out int64, bias bool, ini InitSpec) (*linear, error) {
	l := &linear{in: in, out: out}
	var err error
	if l.w, err = addParam(p, "weight", []int64{out, in}); err != nil {
		return nil, err
	}
	if bias {
		if l.b, err = addParam(p, "bias", []int64{out}); err != nil {
			return nil, err
		}
	}
	return l, l.reinit(ini)
}

func (l *linear) layerClass() string      { return "Linear" }
func (l *linear) reinit(s InitSpec) error { return initWeightBias(l.w, l.b, s) }

func (l *linear) forward(x *ts.Tensor) *ts.Tensor { return ts.MustLinear(x, l.w, orNone(l.b)) }

// batchNorm is torch.nn.BatchNorm1d/2d: "weight", "bias" (when affine),
// "running_mean", "running_var", "num_batches_tracked" (int64 scalar).
type batchNorm struct {
	w, b, mean, variance, tracked *ts.Tensor
	c                             int64
	momentum, eps                 float64
	sync                          *SyncBNGroup // type SyncBN: statistics over every rank once enabled
}

func newBatchNorm(p *nn.Path, c int64, n NormConfig) (*batchNorm, error) {
	bn := &batchNorm{c: c, momentum: n.Momentum, eps: n.Eps}
	if n.Type == "SyncBN" {
		bn.sync = syncGroupOf(p)
	}
	var err error
	if n.Affine {
		if bn.w, err = addParam(p, "weight", []int64{c}); err != nil {
			return nil, err
		}
		if bn.b, err = addParam(p, "bias", []int64{c}); err != nil {
			return nil, err
		}
		if err := bn.reinit(InitSpec{Type: "Constant", Val: 1}); err != nil {
			return nil, err
		}
	}
	if bn.mean, err = addBuffer(p, "running_mean", []int64{c}, gotch.Float, 0); err != nil {
		return nil, err
	}
	if bn.variance, err = addBuffer(p, "running_var", []int64{c}, gotch.Float, 1); err != nil {
		return nil, err
	}
	if bn.tracked, err = addBuffer(p, "num_batches_tracked", []int64{}, gotch.Int64, 0); err != nil {
		return nil, err
	}
	if !n.RequiresGrad {
		freezeTensors(bn.w, bn.b)
	}
	return bn, nil
}

func (bn *batchNorm) layerClass() string { return "_BatchNorm" }
func (bn *batchNorm) reinit(s InitSpec) error {
	if bn.w == nil {
		return nil
	}
	return initWeightBias(bn.w, bn.b, s)
}

// forward normalises x (N×C or N×C×H×W). train uses batch statistics and
// updates the running ones with PyTorch's momentum convention.
func (bn *batchNorm) forward(x *ts.Tensor, train bool) *ts.Tensor {
	if train {
		noGradDo(func() {
			one := ts.IntScalar(1)
			n := bn.tracked.MustAddScalar(one, false)
			one.MustDrop()
			bn.tracked.Copy_(n)
			n.MustDrop()
		})
	}
	if train && bn.sync.active() {
		y, err := bn.syncForward(x)
		if err != nil {
			panic(err) // Pinned.Do turns it into the step's error
		}
		return y
	}
	return ts.MustBatchNorm(x, orNone(bn.w), orNone(bn.b), bn.mean, bn.variance, train, bn.momentum, bn.eps, true)
}

// inPlace runs op, a gotch in-place call on t. gotch v0.7.0's generated
// in-place methods (Relu_, Add_, Uniform_, ...) point t at a new C handle
// and never free the old one, which keeps the storage alive: a leak per
// call. inPlace frees the old handle; use it only on tensors this code
// owns alone (temporaries), never on VarStore tensors others may hold.
func inPlace(t *ts.Tensor, op func()) {
	old := t.Ctensor()
	op()
	if t.Ctensor() != old {
		ts.FromCtensor(old).MustDrop()
	}
}

// relu_ is an in-place ReLU on a temporary.
func relu_(t *ts.Tensor) { inPlace(t, func() { t.MustRelu_() }) }

// add_ adds o into the temporary t in place.
func add_(t, o *ts.Tensor) { inPlace(t, func() { t.MustAdd_(o) }) }

// fillVia runs a handle-replacing in-place op on a private copy and copies
// the result into w with copy_, which keeps w's handle (shared with the
// VarStore and with anyone holding its parameters) valid.
func fillVia(w *ts.Tensor, op func(tmp *ts.Tensor)) {
	tmp := w.MustZerosLike(false)
	inPlace(tmp, func() { op(tmp) })
	w.Copy_(tmp)
	tmp.MustDrop()
}

// freezeTensors sets requires_grad=false on the given VarStore tensors
// (frozen stages, norm_cfg requires_grad=False).
func freezeTensors(xs ...*ts.Tensor) {
	for _, t := range xs {
		if t == nil {
			continue
		}
		// set_requires_grad acts on the shared TensorImpl; the returned
		// handle is a second reference we do not need.
		t.MustSetRequiresGrad(false, false).MustDrop()
	}
}

// noGradDo runs f with autograd off on this thread, restoring the mode.
func noGradDo(f func()) {
	runtime.LockOSThread() // grad mode is per OS thread; see torchx.WithoutGrad
	defer runtime.UnlockOSThread()
	prev := gradModeSet(false)
	defer gradModeSet(prev)
	f()
}

// gradModeSet sets libtorch's thread-local grad mode and returns the
// previous one. gotch v0.7.0's GradSetEnabled reads the C int result as an
// 8-byte Go int, so its upper half is garbage and the "previous state" it
// reports is often false; only the low 32 bits are meaningful.
func gradModeSet(on bool) (prev bool) {
	prev, _ = torchx.SetGradMode(on)
	return prev
}

// fans returns PyTorch's fan_in and fan_out of a weight shape.
func fans(dims []int64) (fanIn, fanOut float64) {
	if len(dims) < 2 {
		return float64(dims[0]), float64(dims[0])
	}
	recept := int64(1)
	for _, d := range dims[2:] {
		recept *= d
	}
	return float64(dims[1] * recept), float64(dims[0] * recept)
}

// torchDefaultBound is nn.Linear/nn.Conv2d's reset_parameters bound:
// kaiming_uniform(a=√5) gives 1/√fan_in for the weight and the bias alike.
func torchDefaultBound(w *ts.Tensor) float64 {
	fanIn, _ := fans(w.MustSize())
	if fanIn == 0 {
		return 0
	}
	return 1 / math.Sqrt(fanIn)
}

// NormConfig is mmcv's norm_cfg for the BatchNorm family. Type BN, BN1d,
// BN2d and SyncBN all build a batch norm over dim 1; SyncBN's statistics
// are those of the whole (single-process) batch, which is what SyncBN
// computes on one process, and on several nodes (EnableSyncBN) those of
// every node's batch (see SyncBNGroup).
type NormConfig struct {
	Type         string  `yaml:"type"`
	RequiresGrad bool    `yaml:"requires_grad"`
	Momentum     float64 `yaml:"momentum"`
	Eps          float64 `yaml:"eps"`
	Affine       bool    `yaml:"affine"`
}

// defaultNorm is norm_cfg=dict(type=typ) with PyTorch's BN defaults.
func defaultNorm(typ string) NormConfig {
	return NormConfig{Type: typ, RequiresGrad: true, Momentum: 0.1, Eps: 1e-5, Affine: true}
}

// Validate checks the type and the numbers.
func (n NormConfig) Validate() error {
	switch n.Type {
	case "BN", "BN1d", "BN2d", "SyncBN":
	case "GN", "LN", "IN", "IN1d", "IN2d":
		return fmt.Errorf("type %q not supported (have: BN, BN1d, BN2d, SyncBN)", n.Type)
	default:
		return fmt.Errorf("type %q unknown (have: BN, BN1d, BN2d, SyncBN)", n.Type)
	}
	if n.Momentum < 0 || n.Momentum > 1 {
		return fmt.Errorf("momentum %g outside [0, 1]", n.Momentum)
	}
	if n.Eps <= 0 {
		return fmt.Errorf("eps %g must be > 0", n.Eps)
	}
	return nil
}

// note says how a single process honours this norm.
func (n NormConfig) note(path string) string {
	if n.Type == "SyncBN" {
		return path + ": SyncBN normalises over the whole batch of this process (as BN); on several nodes over every node's batch"
	}
	return ""
}

// parseNorm decodes a norm_cfg dict over def (nil keeps def).
func parseNorm(path string, m map[string]any, def NormConfig) (NormConfig, error) {
	n := def
	if m == nil {
		return n, n.Validate()
	}
	if err := decodeConfig(path, m, &n); err != nil {
		return n, err
	}
	if err := n.Validate(); err != nil {
		return n, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}
