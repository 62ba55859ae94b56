package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// benchRates parses the first line of `bench augment`.
func benchRates(t *testing.T, out string) (wall, cpu float64) {
	t.Helper()
	if _, err := fmt.Sscanf(out, "images_per_s=%g images_per_cpu_s=%g", &wall, &cpu); err != nil {
		t.Fatalf("bench printed %q: %v", out, err)
	}
	return wall, cpu
}

// TestBenchAugment runs `flowssl bench augment` on a few generated JPEGs,
// for the full MoCo v2 views and decode only, and checks both rates are
// positive and that decode alone is faster than decode plus two views.
// With Debian's torchvision it also runs the baseline and checks that the
// ratios are printed.
func TestBenchAugment(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "bench", "augment", "--data", dir, "--generate", "6", "--workers", "1", "--seconds", "0.5")
	if err != nil {
		t.Fatal(err)
	}
	views, viewsCPU := benchRates(t, out)
	out, err = run(t, "bench", "augment", "--data", dir, "--workers", "1", "--seconds", "0.5", "--decode-only")
	if err != nil {
		t.Fatal(err)
	}
	dec, decCPU := benchRates(t, out)
	if views <= 0 || viewsCPU <= 0 || dec <= viewsCPU/2 || decCPU <= viewsCPU {
		t.Errorf("views %.1f/s (%.1f per CPU-s), decode only %.1f/s (%.1f per CPU-s)", views, viewsCPU, dec, decCPU)
	}
	if _, err := run(t, "bench", "augment", "--data", dir, "--pipeline", "byol", "--seconds", "0.1"); err == nil ||
		!strings.Contains(err.Error(), `--pipeline "byol"`) {
		t.Errorf("unknown pipeline: error %v", err)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		t.Skipf("no torchvision for the baseline: %v", err)
	}
	out, err = run(t, "bench", "augment", "--data", dir, "--workers", "1", "--seconds", "0.5", "--baseline")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var ratio, cpuRatio float64
	if len(lines) != 3 {
		t.Fatalf("bench --baseline printed %q", out)
	}
	benchRates(t, lines[1])
	if _, err := fmt.Sscanf(lines[2], "ratio=%g cpu_ratio=%g", &ratio, &cpuRatio); err != nil || ratio <= 0 || cpuRatio <= 0 {
		t.Errorf("ratio line %q: %v", lines[2], err)
	}
}
