package model

import (
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// TestToolchainConvBNStep proves the prepared gotch links against the
// installed libtorch: a conv + batchnorm forward, backward and one SGD step
// must change the weights by exactly -lr*grad.
func TestToolchainConvBNStep(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// gotch's Optimizer.Step restores a garbage grad mode (ts.NoGrad);
	// leave the thread as we found it for the next test.
	defer SetGradMode(true)
	ManualSeed(0)
	vs := nn.NewVarStore(gotch.CPU)
	root := vs.Root()
	conv := nn.NewConv2D(root.Sub("conv"), 3, 4, 3, nn.DefaultConv2DConfig())
	bn := nn.BatchNorm2D(root.Sub("bn"), 4, nn.DefaultBatchNormConfig())
	opt, err := nn.NewSGDConfig(0, 0, 0, false).Build(vs, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ts.Randn([]int64{2, 3, 8, 8}, gotch.Float, gotch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer x.MustDrop()
	h := conv.Forward(x)
	y := bn.ForwardT(h, true)
	if got := y.MustSize(); len(got) != 4 || got[0] != 2 || got[1] != 4 || got[2] != 6 || got[3] != 6 {
		t.Fatalf("output shape %v, want [2 4 6 6]", got)
	}
	loss := y.MustSquare(false).MustMean(gotch.Float, true)
	before := conv.Ws.MustZerosLike(false)
	before.Copy_(conv.Ws)
	if err := opt.ZeroGrad(); err != nil {
		t.Fatal(err)
	}
	loss.MustBackward()
	grad := conv.Ws.MustGrad(false)
	gnorm := grad.MustNorm(false).Float64Values()[0]
	if gnorm == 0 {
		t.Fatal("zero gradient through conv+bn")
	}
	want := before.MustSub(grad.MustMulScalar(ts.FloatScalar(0.1), false), false)
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	diff := conv.Ws.MustSub(want, false).MustAbs(true).MustMax(true).Float64Values()[0]
	if diff > 1e-6 {
		t.Fatalf("SGD step off by %g", diff)
	}
	// Batch norm in training mode normalises each channel to mean 0.
	m := y.MustMeanDim([]int64{0, 2, 3}, false, gotch.Float, false).MustAbs(true).MustMax(true).Float64Values()[0]
	if m > 1e-5 {
		t.Fatalf("BN output channel mean %g, want ~0", m)
	}
	for _, tt := range []*ts.Tensor{h, y, loss, before, grad, want} {
		tt.MustDrop()
	}
}

// TestAdaptedBindingReportsError calls a binding that gotchprep replaced
// (torch.nansum does not exist under that signature in libtorch 1.13) and
// expects gotch's error, not a crash.
func TestAdaptedBindingReportsError(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := ts.MustOnes([]int64{3}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	_, err := x.Nansum(gotch.Float, false)
	if err == nil || !strings.Contains(err.Error(), "nansum: not available in libtorch") {
		t.Fatalf("Nansum error = %v, want 'nansum: not available in libtorch ...'", err)
	}
	// The error slot is cleared: the next call on this thread works.
	s, err := x.Sum(gotch.Float, false)
	if err != nil {
		t.Fatalf("Sum after adapted binding: %v", err)
	}
	defer s.MustDrop()
	if v := s.Float64Values()[0]; v != 3 {
		t.Fatalf("sum = %v, want 3", v)
	}
}
