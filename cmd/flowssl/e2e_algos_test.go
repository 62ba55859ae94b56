package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// accRE finds the logged pretext accuracy of a train line (zerolog's
// console writer may colour the key).
var accRE = regexp.MustCompile(`acc=(?:\x1b\[[0-9;]*m)?([0-9.]+)`)

// meanLastAcc is the mean "acc" of the last n train lines of a log.
func meanLastAcc(t *testing.T, log []byte, n int) float64 {
	t.Helper()
	all := accRE.FindAllSubmatch(log, -1)
	if len(all) == 0 {
		t.Fatalf("the train log has no acc:\n%s", log)
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	var s float64
	for _, m := range all {
		v, err := strconv.ParseFloat(string(m[1]), 64)
		if err != nil {
			t.Fatal(err)
		}
		s += v
	}
	return s / float64(len(all))
}

// TestE2EAlgorithmsShortRuns trains the short-run configs of issue 6 from
// the CLI (BENCHMARKS.md "Short runs per algorithm"): BYOL, SimSiam, Barlow
// Twins, NPID, MoCo v1 and DenseCL must beat the random-init kNN floor on
// Shapes; Relative Location and Rotation Prediction (both on Fashion-MNIST:
// Shapes is distributed identically under 90° rotations and places its
// shapes anywhere) must log a pretext accuracy of chance + 15 points over
// their last train lines. Tens of minutes on 2 cores: run with `make e2e`.
// As measured on 2026-11-27 (BENCHMARKS.md "4096 held-out images") each
// row's config beat its floor on the 4096 held-out images, BYOL by 1.9 points
// and DenseCL by 2.6 (the thinnest margins), the others by 2 to 19; with
// 20-36 epochs MoCo v1, MoCo v2 and DenseCL had ended at their floors.
func TestE2EAlgorithmsShortRuns(t *testing.T) {
	if os.Getenv("FLOWSSL_E2E") == "" {
		t.Skip("set FLOWSSL_E2E=1 (make e2e): trains for tens of minutes")
	}
	bin := buildCLI(t)
	// 4096 held-out images: with the 512 of knn_shapes-32px.yaml one standard error is 1.6
	// points, about the margins these short runs have over their floors.
	const k32, k64 = "benchmarks/classification/knn_shapes-32px-val4096.yaml", "benchmarks/classification/knn_shapes-64px-val4096.yaml"
	for _, c := range []struct {
		cfg, knn string
		chance   float64 // pretext configs: accuracy by chance
	}{
		{cfg: "selfsup/byol/byol_resnet18_shapes-32px_cpu.yaml", knn: k32},
		{cfg: "selfsup/simsiam/simsiam_resnet18_shapes-32px_cpu.yaml", knn: k32},
		{cfg: "selfsup/barlowtwins/barlowtwins_resnet18_shapes-32px_cpu.yaml", knn: k32},
		{cfg: "selfsup/npid/npid_resnet18_shapes-32px_cpu.yaml", knn: k32},
		{cfg: "selfsup/mocov1/mocov1_resnet18_shapes-32px_cpu.yaml", knn: k32},
		{cfg: "selfsup/mocov2/mocov2_resnet18_shapes-32px_cpu.yaml", knn: k32},
		{cfg: "selfsup/densecl/densecl_resnet18_shapes-64px-short_cpu.yaml", knn: k64},
		{cfg: "selfsup/relative_loc/relative-loc_resnet18_fashion-mnist-28px_cpu.yaml", chance: 100.0 / 8},
		{cfg: "selfsup/rotation_pred/rotation-pred_resnet18_fashion-mnist-28px_cpu.yaml", chance: 100.0 / 4}, // Shapes is rotation-invariant
	} {
		t.Run(filepath.Base(c.cfg), func(t *testing.T) {
			wd := t.TempDir()
			out, err := exec.Command(bin, "train", c.cfg, "--work-dir", wd, "--seed", "0").CombinedOutput()
			if err != nil {
				t.Fatalf("train: %v\n%s", err, out)
			}
			if c.knn == "" {
				acc := meanLastAcc(t, out, 3)
				t.Logf("%s: pretext accuracy %.2f%% over the last train lines (chance %.1f%%)", c.cfg, acc, c.chance)
				if acc < c.chance+15 {
					t.Fatalf("pretext accuracy %.2f%% is not well above chance (%.1f%%)", acc, c.chance)
				}
				return
			}
			knn := []string{c.cfg, "--dataset-config", c.knn, "--num-knn", "20", "--work-dir", wd}
			floor := knnTop1(t, bin, knn...)
			trained := knnTop1(t, bin, append(knn, "--checkpoint", filepath.Join(wd, "latest.pth"))...)
			t.Logf("%s: kNN top-1 %.2f%% at random init, %.2f%% trained", c.cfg, floor, trained)
			if trained <= floor {
				t.Fatalf("trained kNN top-1 %.2f%% is not above the random-init %.2f%%", trained, floor)
			}
		})
	}
}
