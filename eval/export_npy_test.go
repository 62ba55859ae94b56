package eval

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// numpy.load reads what WriteFeaturesNPY writes: shape, dtype and values.
func TestWriteNPYReadByNumpy(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy").Run(); err != nil {
		t.Skip("/usr/bin/python3 lacks numpy")
	}
	dir := t.TempDir()
	f := Features{N: 3, D: 2, Data: []float32{1.5, -2, 0, 3.25, 7, 8}, Labels: []int{2, 0, 1}}
	p := filepath.Join(dir, "feat5.npy")
	if err := WriteFeaturesNPY(p, f); err != nil {
		t.Fatal(err)
	}
	script := `import numpy as np, sys
a = np.load(sys.argv[1]); l = np.load(sys.argv[2])
print(a.dtype, a.shape, a.ravel().tolist(), l.dtype, l.shape, l.tolist())`
	out, err := exec.Command("/usr/bin/python3", "-c", script, p, filepath.Join(dir, "feat5_labels.npy")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "float32 (3, 2) [1.5, -2.0, 0.0, 3.25, 7.0, 8.0] int64 (3,) [2, 0, 1]"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("numpy read %q, want %q", got, want)
	}
	if err := WriteNPY(p, []int{4}, []float32{1}); err == nil {
		t.Fatal("shape mismatch: no error")
	}
}
