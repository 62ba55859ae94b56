package main

import (
	"strings"
	"testing"

	"github.com/sugarme/gotch"
)

// TestDeviceFlagEverywhere: every command taking --device parses cpu,
// cuda and cuda:N the same way; on a CPU-only libtorch a CUDA device is
// refused up front with the reason, and --amp is validated by train.
func TestDeviceFlagEverywhere(t *testing.T) {
	if gotch.CUDA.DeviceCount() > 0 {
		t.Skip("CUDA present: the refusal path is for CPU-only libtorch")
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"train cuda", []string{"train", "selfsup/mocov2/mocov2_resnet18_shapes-32px_cpu.yaml", "--device", "cuda", "--work-dir", t.TempDir()}, "CUDA not available in this libtorch"},
		{"train cuda:1", []string{"train", "selfsup/mocov2/mocov2_resnet18_shapes-32px_cpu.yaml", "--device", "cuda:1", "--work-dir", t.TempDir()}, "CUDA not available in this libtorch"},
		{"train bad", []string{"train", "selfsup/mocov2/mocov2_resnet18_shapes-32px_cpu.yaml", "--device", "tpu", "--work-dir", t.TempDir()}, "want cpu, cuda or cuda:N"},
		{"train fp16 on cpu", []string{"train", "selfsup/mocov2/mocov2_resnet18_shapes-32px_cpu.yaml", "--amp", "fp16", "--work-dir", t.TempDir()}, "use bf16"},
		{"train bad amp", []string{"train", "selfsup/mocov2/mocov2_resnet18_shapes-32px_cpu.yaml", "--amp", "fp8", "--work-dir", t.TempDir()}, "want off, fp16 or bf16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	for _, s := range []string{"cuda", "cuda:0", "cuda:3"} {
		if _, err := parseDevice(s); err == nil || !strings.Contains(err.Error(), "CUDA not available in this libtorch (") {
			t.Errorf("parseDevice(%q) = %v", s, err)
		}
	}
	if d, err := parseDevice("cpu"); err != nil || d != gotch.CPU {
		t.Errorf("parseDevice(cpu) = %v, %v", d, err)
	}
}
