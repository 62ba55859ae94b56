package checkpoint

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pickle.load reads WriteNumpyPickleFile's output as numpy arrays with the
// written dtypes, shapes and values (a transposed view stored contiguous),
// and the plain values around them, as detectron2's checkpointer does.
func TestNumpyPickleReadByPython(t *testing.T) {
	if err := exec.Command(python, "-c", "import numpy").Run(); err != nil {
		t.Skip("/usr/bin/python3 lacks numpy")
	}
	w, _ := FromFloat32([]int64{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	tr, _ := FromFloat32([]int64{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	tr.Stride = []int64{1, 3} // the transpose of w's storage
	n, _ := FromInt64(nil, []int64{-7})
	b, _ := NewTensor(Uint8, []int64{3}, []byte{0, 9, 255})
	d, _ := FromFloat64([]int64{1}, []float64{0.25})
	model := NewDict()
	model.Set("res2.0.conv1.weight", w)
	model.Set("stem.conv1.norm.num_batches_tracked", n)
	model.Set("t", tr)
	model.Set("u8", b)
	model.Set("f8", d)
	p := filepath.Join(t.TempDir(), "model.pkl")
	err := WriteNumpyPickleFile(p, map[string]any{"model": model, "__author__": "flowssl", "matching_heuristics": true, "extra": []any{int64(1), Tuple{"a", 2.5}, nil}})
	if err != nil {
		t.Fatal(err)
	}
	script := `import pickle, sys, numpy as np
d = pickle.load(open(sys.argv[1], "rb"))
print(sorted(d), d["__author__"], d["matching_heuristics"], d["extra"])
for k, v in d["model"].items():
    print(k, type(v).__name__, v.dtype, v.shape, v.tolist(), v.flags["C_CONTIGUOUS"])`
	out := runPython(t, "-c", script, p)
	want := `['__author__', 'extra', 'matching_heuristics', 'model'] flowssl True [1, ('a', 2.5), None]
res2.0.conv1.weight ndarray float32 (2, 3) [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] True
stem.conv1.norm.num_batches_tracked ndarray int64 () -7 True
t ndarray float32 (3, 2) [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]] True
u8 ndarray uint8 (3,) [0, 9, 255] True
f8 ndarray float64 (1,) [0.25] True`
	if got := strings.TrimSpace(out); got != want {
		t.Fatalf("python read\n%s\nwant\n%s", got, want)
	}
	bf, _ := NewTensor(BFloat16, []int64{1}, []byte{0, 0})
	if err := WriteNumpyPickleFile(p, map[string]any{"x": bf}); err == nil || !strings.Contains(err.Error(), "bfloat16") {
		t.Fatalf("bfloat16: err = %v", err)
	}
}
