package model

import (
	"math"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

const refPython = "/usr/bin/python3"

var (
	torchOnce sync.Once
	torchErr  error
)

// needTorch skips when Debian's python3-torch is missing.
func needTorch(t testing.TB) {
	t.Helper()
	torchOnce.Do(func() { torchErr = exec.Command(refPython, "-c", "import torch").Run() })
	if torchErr != nil {
		t.Skipf("%s cannot import torch (%v): install python3-torch to run the parity test", refPython, torchErr)
	}
}

// runRefScript runs testdata/nets/parity.py with args.
func runRefScript(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command(refPython, append([]string{filepath.Join("testdata", "nets", "parity.py")}, args...)...)
	cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("parity.py %v: %v\n%s", args, err, out)
	}
}

// onPinned runs f with the test goroutine locked to its OS thread (so
// t.Fatal stays legal inside f) and fails the test on error.
func onPinned(t testing.TB, f func() error) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// An earlier test may have left this OS thread with grad mode off.
	if _, err := SetGradMode(true); err != nil {
		t.Fatal(err)
	}
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

// writeTensors saves name→tensor (in order) as a flat torch.save dict.
func writeTensors(t testing.TB, path string, named []Named) {
	t.Helper()
	d, err := StateDictToCheckpoint(named)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.WriteFile(path, d); err != nil {
		t.Fatal(err)
	}
}

// writeStateDict saves named as an MMCV checkpoint {"state_dict": ...}.
func writeStateDict(t testing.TB, path string, named []Named) {
	t.Helper()
	d, err := StateDictToCheckpoint(named)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&checkpoint.Checkpoint{StateDict: d}).Save(path); err != nil {
		t.Fatal(err)
	}
}

// readTensors reads a flat dict written by torch.save.
func readTensors(t testing.TB, path string) *checkpoint.Dict {
	t.Helper()
	v, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(*checkpoint.Dict)
	if !ok {
		t.Fatalf("%s: top level is %T, want a dict", path, v)
	}
	return d
}

// relDiff is max|got−want| / max(1, max|want|), shapes checked.
func relDiff(t testing.TB, name string, got *ts.Tensor, want *checkpoint.Tensor) float64 {
	t.Helper()
	shape := got.MustSize()
	if !equalDims(shape, want.Shape) {
		t.Fatalf("%s: shape %v, reference %v", name, shape, want.Shape)
	}
	ref, err := want.Float64s()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	g := got.MustTotype(gotch.Double, false)
	defer g.MustDrop()
	vals := g.MustContiguous(false)
	defer vals.MustDrop()
	gv := vals.Float64Values()
	scale, diff := 1.0, 0.0
	for i := range ref {
		scale = math.Max(scale, math.Abs(ref[i]))
		diff = math.Max(diff, math.Abs(gv[i]-ref[i]))
	}
	return diff / scale
}

// refTensor fetches key from d or fails.
func refTensor(t testing.TB, d *checkpoint.Dict, key string) *checkpoint.Tensor {
	t.Helper()
	x, err := d.Tensor(key)
	if err != nil {
		t.Fatal(err)
	}
	return x
}
