package main

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sugarme/gotch"

	"github.com/flowssl/flowssl/actors"
)

// TestChannelsLastMatchesNCHW trains each convolutional algorithm's CPU
// config for two iterations twice, once NCHW and once channels-last (the
// CPU default of `flowssl train`), from the same seed, and requires the same
// losses: the layout changes oneDNN's kernels, not the arithmetic. (At 64 px:
// at 32 px ResNet-18's last stage is 1×1, its BatchNorm normalises 8 values
// per channel, and the second step turns the kernels' 1e-6 differences
// into 1e-2, in either layout alike.) It also catches a neck or head that
// views a feature map as if it were NCHW (DenseCL's dense projections,
// SwAV's multi-crop concatenation).
func TestChannelsLastMatchesNCHW(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the training dataflow")
	}
	small := []string{"data.train.data_source.num_samples=16", "data.samples_per_gpu=8",
		"runner.max_epochs=1", "checkpoint_config.interval=100", "log_config.interval=100"}
	for _, c := range []struct {
		config string
		opts   []string
	}{
		{"selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", nil},
		{"selfsup/mocov1/mocov1_resnet18_shapes-64px_cpu.yaml", nil},
		{"selfsup/mocov2/mocov2_resnet18_shapes-64px_cpu.yaml", nil},
		{"selfsup/byol/byol_resnet18_shapes-64px_cpu.yaml", nil},
		{"selfsup/simsiam/simsiam_resnet18_shapes-64px_cpu.yaml", nil},
		{"selfsup/barlowtwins/barlowtwins_resnet18_shapes-64px_cpu.yaml", nil},
		{"selfsup/npid/npid_resnet18_shapes-64px_cpu.yaml", []string{"model.memory_bank.length=16", "model.neg_num=8"}},
		{"selfsup/densecl/densecl_resnet18_shapes-64px-short_cpu.yaml", nil},
		{"selfsup/swav/swav_resnet18_shapes-64px-mcrop-2-4_cpu.yaml", []string{"custom_hooks.0.batch_size=8", "custom_hooks.0.epoch_queue_starts=0", "custom_hooks.0.queue_length=16"}},
		{"selfsup/rotation_pred/rotation-pred_resnet18_shapes-64px_cpu.yaml", nil},
		{"selfsup/relative_loc/relative-loc_resnet18_shapes-64px-short_cpu.yaml", nil},
	} {
		t.Run(c.config, func(t *testing.T) {
			var losses [2]map[string]float64
			for i, cl := range []bool{false, true} {
				cfg, err := loadConfig(c.config, append(append([]string{}, small...), c.opts...))
				if err != nil {
					t.Fatal(err)
				}
				var log bytes.Buffer
				res, err := actors.Train(context.Background(), cfg, actors.Setup{WorkDir: t.TempDir(), Seed: 3, Deterministic: true,
					Workers: 2, Threads: 1, Logger: zerolog.New(&log), Views: buildViews, ChannelsLast: cl})
				if err != nil {
					t.Fatalf("channels_last=%v: %v", cl, err)
				}
				if res.Iters != 2 {
					t.Fatalf("channels_last=%v: %d iterations, want 2", cl, res.Iters)
				}
				if want := map[bool]string{false: `"channels_last":false`, true: `"channels_last":true`}[cl]; !strings.Contains(log.String(), want) {
					t.Fatalf("the start line does not say %s:\n%s", want, log.String())
				}
				losses[i] = res.Losses
			}
			if len(losses[0]) == 0 {
				t.Fatal("no losses reported")
			}
			for k, a := range losses[0] {
				b, ok := losses[1][k]
				if !ok || math.IsNaN(a) || math.IsInf(a, 0) || math.Abs(a-b) > 1e-3*math.Max(1, math.Abs(a)) {
					t.Errorf("%s: NCHW %v, channels-last %v (present %v)", k, a, b, ok)
				}
			}
			t.Logf("losses %v", losses[1])
		})
	}
}

// TestChannelsLastDefault: channels-last unless the flag says otherwise on
// the CPU, NCHW unless it says otherwise on CUDA.
func TestChannelsLastDefault(t *testing.T) {
	for _, c := range []struct {
		dev         gotch.Device
		flag, given bool
		want        bool
	}{
		{gotch.CPU, false, false, true},
		{gotch.CPU, false, true, false},
		{gotch.CPU, true, true, true},
		{gotch.CudaBuilder(0), false, false, false},
		{gotch.CudaBuilder(0), true, true, true},
	} {
		if got := channelsLastFor(c.dev, c.flag, c.given); got != c.want {
			t.Errorf("channelsLastFor(%v, flag %v, given %v) = %v, want %v", c.dev, c.flag, c.given, got, c.want)
		}
	}
}
