package actors

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sugarme/gotch"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/model"
)

func TestNewAMP(t *testing.T) {
	dyn := &configs.FP16Spec{LossScale: configs.LossScale{Dynamic: true}}
	static := &configs.FP16Spec{LossScale: configs.LossScale{Static: 512}}
	cuda := gotch.CudaBuilder(0)
	haveCUDA := gotch.CUDA.DeviceCount() > 0
	for _, tc := range []struct {
		name      string
		fp16      *configs.FP16Spec
		mode      string
		dev       gotch.Device
		want      model.Precision
		scale     float64 // 0: no scaler
		fixed     bool
		note, bad string
		needsCUDA bool
	}{
		{name: "no fp16", dev: gotch.CPU},
		{name: "fp16 config on cpu", fp16: dyn, dev: gotch.CPU, note: "--amp bf16"},
		{name: "bf16 on cpu", fp16: static, mode: "bf16", dev: gotch.CPU, want: model.PrecisionBF16},
		{name: "forced fp16 on cpu", mode: "fp16", dev: gotch.CPU, bad: "use bf16"},
		{name: "off", fp16: dyn, mode: "off", dev: gotch.CPU},
		{name: "bad mode", mode: "fp8", dev: gotch.CPU, bad: "want off, fp16 or bf16"},
		{name: "fp16 config on cuda", fp16: static, dev: cuda, want: model.PrecisionFP16, scale: 512, fixed: true, needsCUDA: true},
		{name: "dynamic on cuda", fp16: dyn, dev: cuda, want: model.PrecisionFP16, scale: 65536, needsCUDA: true},
		{name: "cuda on a cpu libtorch", fp16: dyn, dev: cuda, bad: "CUDA not available in this libtorch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsCUDA && !haveCUDA {
				t.Skip("no CUDA device")
			}
			if strings.Contains(tc.bad, "CUDA not available") && haveCUDA {
				t.Skip("CUDA present")
			}
			a, note, err := NewAMP(tc.fp16, tc.mode, tc.dev, false)
			if tc.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tc.bad) {
					t.Fatalf("err = %v, want one containing %q", err, tc.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Precision != tc.want {
				t.Errorf("precision %v, want %v", a.Precision, tc.want)
			}
			if (a.Scaler != nil) != (tc.scale != 0) || (a.Scaler != nil && (a.Scaler.Scale != tc.scale || a.Scaler.Fixed != tc.fixed)) {
				t.Errorf("scaler %+v, want scale %v fixed %v", a.Scaler, tc.scale, tc.fixed)
			}
			if !strings.Contains(note, tc.note) || (tc.note == "" && note != "") {
				t.Errorf("note %q, want one containing %q", note, tc.note)
			}
		})
	}
}

// TestTrainBF16ChannelsLast trains MoCo v2 (ResNet-18, 64 px) for one
// epoch on the CPU under bfloat16 autocast with channels_last, and the same
// run in fp32: both finish with finite losses that agree to bf16's
// precision, and the runs differ (autocast really changed the arithmetic).
func TestTrainBF16ChannelsLast(t *testing.T) {
	cfg := testConfig(t, "mocov2", 1, "model.queue_len=64")
	run := func(amp string, cl bool) (*Result, map[string][]byte) {
		dir := t.TempDir()
		res, err := Train(context.Background(), cfg, Setup{
			WorkDir: dir, Seed: 7, Deterministic: true, Workers: 1, Version: "test", Logger: zerolog.Nop(),
			AMP: amp, ChannelsLast: cl,
			Views: func(map[string]any, uint64) (Augmenter, error) { return cropFlip(7), nil },
		})
		if err != nil {
			t.Fatalf("--amp %q: %v", amp, err)
		}
		return res, stateBytes(t, res.Checkpoint)
	}
	r32, s32 := run("", false)
	r16, s16 := run("bf16", true)
	l32, l16 := r32.Losses["loss"], r16.Losses["loss"]
	if math.IsNaN(l16) || math.IsInf(l16, 0) || l16 <= 0 {
		t.Fatalf("bf16 loss %v", l16)
	}
	if d := math.Abs(l16-l32) / l32; d > 0.05 {
		t.Fatalf("bf16 loss %v vs fp32 %v: relative difference %.3f > 0.05", l16, l32, d)
	}
	same := true
	for k, v := range s32 {
		if string(v) != string(s16[k]) {
			same = false
			break
		}
	}
	if same {
		t.Fatal("bf16 run produced the fp32 run's weights bit for bit")
	}
	// Checkpointed weights are plain fp32 NCHW whatever the run's layout.
	ck, err := checkpoint.Load(r16.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := ck.StateDict.Get("backbone.conv1.weight")
	w := v.(*checkpoint.Tensor)
	if len(w.Shape) != 4 || w.Shape[1] != 3 || len(w.Data) != 4*int(w.Shape[0]*w.Shape[1]*w.Shape[2]*w.Shape[3]) {
		t.Fatalf("conv1.weight in the checkpoint: shape %v, %d bytes", w.Shape, len(w.Data))
	}
}
