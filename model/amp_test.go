package model

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// ampPattern fills n float32 values exactly representable in bfloat16, so
// Go and the PyTorch reference start from identical tensors.
func ampPattern(n, mul, mod int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32((i*mul)%mod-mod/2) * scale
	}
	return out
}

// TestAutocastBF16CPU runs a convolution and a linear layer inside
// WithAutocast(cpu, bf16): their outputs are bfloat16 inside the region
// and float32 outside it, autocast is off again afterwards (also after a
// nested region), and the bf16 values are exactly those of
// `torch.autocast('cpu', dtype=torch.bfloat16)` in PyTorch 1.13.
func TestAutocastBF16CPU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	x := ts.MustOfSlice(ampPattern(2*3*6*6, 7, 11, 0.125)).MustView([]int64{2, 3, 6, 6}, true)
	w := ts.MustOfSlice(ampPattern(4*3*3*3, 5, 9, 0.0625)).MustView([]int64{4, 3, 3, 3}, true)
	lw := ts.MustOfSlice(ampPattern(5*16, 3, 7, 0.25)).MustView([]int64{5, 16}, true)
	defer func() {
		for _, tt := range []*ts.Tensor{x, w, lw} {
			tt.MustDrop()
		}
	}()
	forward := func() (conv, lin *ts.Tensor, err error) {
		conv, err = ts.Conv2d(x, w, ts.None, []int64{1, 1}, []int64{0, 0}, []int64{1, 1}, 1)
		if err != nil {
			return nil, nil, err
		}
		flat, err := conv.Flatten(1, -1, false)
		if err != nil {
			return nil, nil, err
		}
		defer flat.MustDrop()
		// 4·4·4 = 64 features, read as 4 rows of 16 per sample.
		rows, err := flat.View([]int64{8, 16}, false)
		if err != nil {
			return nil, nil, err
		}
		defer rows.MustDrop()
		lin, err = ts.Linear(rows, lw, ts.None)
		return conv, lin, err
	}
	var conv, lin *ts.Tensor
	err := WithAutocast(gotch.CPU, PrecisionBF16, func() error {
		on, err := AutocastEnabled(gotch.CPU)
		if err != nil || !on {
			return fmt.Errorf("autocast enabled inside = %v, %v", on, err)
		}
		// A nested region must leave the outer one on.
		if err := WithAutocast(gotch.CPU, PrecisionBF16, func() error { return nil }); err != nil {
			return err
		}
		if on, _ := AutocastEnabled(gotch.CPU); !on {
			return fmt.Errorf("autocast off after a nested region")
		}
		conv, lin, err = forward()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conv.MustDrop()
	defer lin.MustDrop()
	if got := ScalarTypeOf(conv); got != ScalarBFloat16 {
		t.Errorf("conv inside autocast: scalar type %d, want bfloat16 (%d)", got, ScalarBFloat16)
	}
	if got := ScalarTypeOf(lin); got != ScalarBFloat16 {
		t.Errorf("linear inside autocast: scalar type %d, want bfloat16 (%d)", got, ScalarBFloat16)
	}
	if on, err := AutocastEnabled(gotch.CPU); err != nil || on {
		t.Fatalf("autocast after the region: %v, %v", on, err)
	}
	conv32, lin32, err := forward()
	if err != nil {
		t.Fatal(err)
	}
	defer conv32.MustDrop()
	defer lin32.MustDrop()
	if ScalarTypeOf(conv32) != ScalarFloat || ScalarTypeOf(lin32) != ScalarFloat {
		t.Errorf("outside autocast: scalar types %d, %d, want float32", ScalarTypeOf(conv32), ScalarTypeOf(lin32))
	}
	linF, err := ToScalarType(lin, ScalarFloat)
	if err != nil {
		t.Fatal(err)
	}
	defer linF.MustDrop()
	got := linF.Float64Values()
	ref := lin32.Float64Values()
	// bf16 keeps 8 significant bits: within 2^-7 relative of fp32.
	for i := range got {
		if d := math.Abs(got[i] - ref[i]); d > 0.02*math.Max(1, math.Abs(ref[i])) {
			t.Fatalf("linear[%d]: bf16 %v vs fp32 %v", i, got[i], ref[i])
		}
	}
	if same := fmt.Sprint(got) == fmt.Sprint(ref); same {
		t.Error("bf16 result equals fp32 exactly: autocast did not reduce precision")
	}
	needTorch(t)
	script := `
import torch
def pat(n, mul, mod, scale):
    return torch.tensor([((i*mul) % mod - mod//2) * scale for i in range(n)], dtype=torch.float32)
x = pat(2*3*6*6, 7, 11, 0.125).view(2, 3, 6, 6)
w = pat(4*3*3*3, 5, 9, 0.0625).view(4, 3, 3, 3)
lw = pat(5*16, 3, 7, 0.25).view(5, 16)
with torch.autocast('cpu', dtype=torch.bfloat16):
    c = torch.nn.functional.conv2d(x, w)
    l = torch.nn.functional.linear(c.flatten(1).view(8, 16), lw)
print(l.dtype)
print(' '.join(repr(v) for v in l.float().flatten().tolist()))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("reference: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "torch.bfloat16" {
		t.Fatalf("reference printed %q", out)
	}
	fields := strings.Fields(lines[1])
	if len(fields) != len(got) {
		t.Fatalf("reference has %d values, flowssl %d", len(fields), len(got))
	}
	for i, f := range fields {
		var want float64
		if _, err := fmt.Sscan(f, &want); err != nil {
			t.Fatal(err)
		}
		if got[i] != want {
			t.Fatalf("linear[%d] = %v, PyTorch autocast gives %v", i, got[i], want)
		}
	}
}

// TestAutocastFP16NeedsCUDA: fp16 autocast on the CPU is refused with a
// message naming the fix, and leaves autocast off.
func TestAutocastFP16NeedsCUDA(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ran := false
	err := WithAutocast(gotch.CPU, PrecisionFP16, func() error { ran = true; return nil })
	if err == nil || !strings.Contains(err.Error(), "use bf16") || ran {
		t.Fatalf("err = %v (ran %v), want a refusal suggesting bf16", err, ran)
	}
	if on, _ := AutocastEnabled(gotch.CPU); on {
		t.Fatal("autocast left on")
	}
	if gotch.CUDA.DeviceCount() == 0 {
		err := WithAutocast(gotch.CudaBuilder(0), PrecisionFP16, func() error { return nil })
		if err == nil || !strings.Contains(err.Error(), "CUDA not available in this libtorch") {
			t.Fatalf("cuda on a CPU libtorch: err = %v", err)
		}
	}
}

func TestParsePrecision(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Precision
		bad  bool
	}{{"", PrecisionFP32, false}, {"off", PrecisionFP32, false}, {"fp16", PrecisionFP16, false}, {"bf16", PrecisionBF16, false}, {"fp8", 0, true}} {
		got, err := ParsePrecision(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParsePrecision(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// TestParamsToChannelsLast: conv weights become NHWC in memory with the
// same values and the same tensor (so optimizers keep updating them), and
// a conv forward gives the same output.
func TestParamsToChannelsLast(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ManualSeed(3)
	vs := nn.NewVarStore(gotch.CPU)
	conv := nn.NewConv2D(vs.Root().Sub("conv"), 3, 8, 3, nn.DefaultConv2DConfig())
	x := ts.MustRandn([]int64{2, 3, 7, 7}, gotch.Float, gotch.CPU)
	defer x.MustDrop()
	before := conv.Forward(x)
	defer before.MustDrop()
	w0 := conv.Ws.MustShallowClone()
	defer w0.MustDrop()
	wVals := conv.Ws.Float64Values()
	if on, _ := IsChannelsLast(conv.Ws); on {
		t.Fatal("weight already channels_last")
	}
	if err := ParamsToChannelsLast(ParamsOf(vs)); err != nil {
		t.Fatal(err)
	}
	if on, err := IsChannelsLast(conv.Ws); err != nil || !on {
		t.Fatalf("weight channels_last = %v, %v", on, err)
	}
	if fmt.Sprint(conv.Ws.Float64Values()) != fmt.Sprint(wVals) {
		t.Fatal("weight values changed")
	}
	if rg := conv.Ws.MustRequiresGrad(); !rg {
		t.Fatal("weight lost requires_grad")
	}
	xl, err := ChannelsLast(x)
	if err != nil {
		t.Fatal(err)
	}
	defer xl.MustDrop()
	after := conv.Forward(xl)
	defer after.MustDrop()
	d := after.MustSub(before, false).MustAbs(true).MustMax(true)
	defer d.MustDrop()
	if v := d.Float64Values()[0]; v > 1e-5 {
		t.Fatalf("channels_last conv differs by %g", v)
	}
}

// TestGradScaler follows torch.cuda.amp.GradScaler through a scripted
// sequence of clean and overflowing steps (values computed by hand from
// _amp_update_scale_'s rule) on a 2-parameter model: the loss is scaled,
// gradients come back unscaled, an overflow skips the step and halves the
// scale, growth_interval clean steps double it.
func TestGradScaler(t *testing.T) {
	type step struct {
		inf       bool
		wantScale float64
		wantTrack int
		wantStep  bool
	}
	for _, tc := range []struct {
		name   string
		scaler *GradScaler
		steps  []step
	}{
		{"dynamic, growth every 3", &GradScaler{Scale: 1024, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 3}, []step{
			{false, 1024, 1, true}, {false, 1024, 2, true}, {false, 2048, 0, true},
			{true, 1024, 0, false}, {false, 1024, 1, true}, {true, 512, 0, false},
			{false, 512, 1, true}, {false, 512, 2, true}, {false, 1024, 0, true},
		}},
		{"defaults", NewDynamicScaler(), []step{{true, 32768, 0, false}, {true, 16384, 0, false}, {false, 16384, 1, true}}},
		{"static 512", &GradScaler{Scale: 512, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 1, Fixed: true}, []step{
			{false, 512, 0, true}, {true, 512, 0, false}, {false, 512, 0, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each subtest runs on its own goroutine: lock here, not in the
			// parent, or the grad mode the optimizer sets lands on one OS
			// thread and the next op runs on another (the test failed about
			// one run in four, log.Fatal from a Must* copy_ included).
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			defer SetGradMode(true)
			vs := nn.NewVarStore(gotch.CPU)
			w := vs.Root().MustZeros("w", []int64{3})
			b := vs.Root().MustZeros("b", []int64{1})
			params := ParamsOf(vs)
			g := tc.scaler
			for i, st := range tc.steps {
				scaleBefore := g.Scale
				// loss = sum(w * c) + b·k: d/dw = c, d/db = k (inf on overflow steps).
				c := ts.MustOfSlice([]float32{1, -2, 0.5})
				k := float32(3)
				if st.inf {
					k = float32(math.Inf(1))
				}
				kt := ts.MustOfSlice([]float32{k})
				loss := w.MustMul(c, false).MustSum(gotch.Float, true).MustAdd(b.MustMul(kt, false).MustSum(gotch.Float, true), true)
				scaled, err := g.ScaleLoss(loss)
				if err != nil {
					t.Fatal(err)
				}
				if v := scaled.Float64Values()[0]; !st.inf && v != loss.Float64Values()[0]*scaleBefore {
					t.Fatalf("step %d: scaled loss %v, want %v", i, v, loss.Float64Values()[0]*scaleBefore)
				}
				if err := scaled.Backward(); err != nil {
					t.Fatal(err)
				}
				found, err := g.Unscale(params)
				if err != nil {
					t.Fatal(err)
				}
				if found != st.inf {
					t.Fatalf("step %d: found inf %v, want %v", i, found, st.inf)
				}
				if !st.inf {
					gw := w.MustGrad(false)
					if got := fmt.Sprint(gw.Float64Values()); got != "[1 -2 0.5]" {
						t.Fatalf("step %d: unscaled grad %s, want [1 -2 0.5]", i, got)
					}
					gw.MustDrop()
				}
				stepped := false
				ran, err := g.Step(params, func() error { stepped = true; return nil })
				if err != nil || ran != st.wantStep || stepped != st.wantStep {
					t.Fatalf("step %d: stepped %v/%v (%v), want %v", i, ran, stepped, err, st.wantStep)
				}
				g.Update()
				if g.Scale != st.wantScale || g.GrowthTracker != st.wantTrack {
					t.Fatalf("step %d: scale %v tracker %d, want %v %d", i, g.Scale, g.GrowthTracker, st.wantScale, st.wantTrack)
				}
				for _, p := range params {
					gr := p.T.MustGrad(false)
					gr.MustZero_()
					gr.MustDrop()
				}
				for _, x := range []*ts.Tensor{c, kt, loss, scaled} {
					x.MustDrop()
				}
			}
		})
	}
}

func TestScalerFromConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dynamic bool
		static  float64
		args    map[string]any
		want    GradScaler
		bad     string
	}{
		{name: "dynamic", dynamic: true, want: GradScaler{Scale: 65536, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 2000}},
		{name: "static", static: 512, want: GradScaler{Scale: 512, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 2000, Fixed: true}},
		{name: "dict", dynamic: true, args: map[string]any{"init_scale": 256.0, "growth_interval": 100}, want: GradScaler{Scale: 256, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 100}},
		{name: "unknown key", dynamic: true, args: map[string]any{"scale_window": 10}, bad: "scale_window"},
		{name: "zero static", static: 0, bad: "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewScalerFromConfig(tc.dynamic, tc.static, tc.args)
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("err = %v, want one naming %q", err, tc.bad)
				}
				return
			}
			if err != nil || *g != tc.want {
				t.Fatalf("got %+v, %v; want %+v", g, err, tc.want)
			}
			back := &GradScaler{}
			if err := back.LoadState(g.State()); err != nil || back.Scale != g.Scale || back.GrowthInterval != g.GrowthInterval {
				t.Fatalf("state round trip: %+v, %v", back, err)
			}
		})
	}
}

// TestCUDAMixedPrecision runs on a CUDA libtorch only (the GPU check
// script runs it): fp16 autocast makes a conv half on the GPU, a pinned
// non_blocking copy arrives intact, and the scaler catches an overflow.
func TestCUDAMixedPrecision(t *testing.T) {
	if gotch.CUDA.DeviceCount() == 0 {
		if os.Getenv("FLOWSSL_REQUIRE_CUDA") != "" {
			t.Fatalf("FLOWSSL_REQUIRE_CUDA set but libtorch sees no CUDA device (%s)", LibraryInfo())
		}
		t.Skipf("no CUDA device (%s)", LibraryInfo())
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	dev := gotch.CudaBuilder(0)
	host := ts.MustOfSlice(ampPattern(2*3*8*8, 7, 11, 0.125)).MustView([]int64{2, 3, 8, 8}, true)
	defer host.MustDrop()
	x, err := ToDeviceAsync(host, dev)
	if err != nil {
		t.Fatal(err)
	}
	defer x.MustDrop()
	if err := CUDASynchronize(dev); err != nil {
		t.Fatal(err)
	}
	back := x.MustTo(gotch.CPU, false)
	defer back.MustDrop()
	if fmt.Sprint(back.Float64Values()) != fmt.Sprint(host.Float64Values()) {
		t.Fatal("pinned non_blocking copy changed the batch")
	}
	vs := nn.NewVarStore(dev)
	conv := nn.NewConv2D(vs.Root().Sub("conv"), 3, 8, 3, nn.DefaultConv2DConfig())
	var y *ts.Tensor
	if err := WithAutocast(dev, PrecisionFP16, func() error { y = conv.Forward(x); return nil }); err != nil {
		t.Fatal(err)
	}
	defer y.MustDrop()
	if got := ScalarTypeOf(y); got != ScalarHalf {
		t.Fatalf("conv under fp16 autocast on cuda: scalar type %d, want half", got)
	}
	if err := ParamsToChannelsLast(ParamsOf(vs)); err != nil {
		t.Fatal(err)
	}
	g := NewDynamicScaler()
	loss := y.MustSum(gotch.Float, false)
	defer loss.MustDrop()
	scaled, err := g.ScaleLoss(loss)
	if err != nil {
		t.Fatal(err)
	}
	defer scaled.MustDrop()
	if err := scaled.Backward(); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Step(ParamsOf(vs), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	g.Update()
	t.Logf("libtorch %s: fp16 conv ok, scale after one step %v", LibraryInfo(), g.Scale)
}
