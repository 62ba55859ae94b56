package checkpoint

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func fileTensor(t *testing.T, path string) float32 {
	t.Helper()
	v, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := v.(*Dict).Tensor("w")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := x.Float32s()
	return f[0]
}

func weights(t testing.TB, v float32, n int) *Dict {
	vals := make([]float32, n)
	for i := range vals {
		vals[i] = v
	}
	x, err := FromFloat32([]int64{int64(n)}, vals)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDict()
	d.Set("w", x)
	return d
}

// A write that fails part way leaves the previous checkpoint and no temporary file.
func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latest.pth")
	if err := WriteFile(path, weights(t, 1, 10)); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name  string
		write func(io.Writer) error
		msg   string
	}{
		{"disk full", func(w io.Writer) error {
			w.Write(bytes.Repeat([]byte{1}, 3<<20)) // past the buffer, so bytes reach the file
			return errors.New("disk full")
		}, "disk full"},
		{"unpicklable value", func(w io.Writer) error {
			return Write(w, map[string]any{"x": struct{}{}})
		}, "obj[x]: cannot pickle a value of type struct {}"},
		{"invalid tensor", func(w io.Writer) error {
			return Write(w, []any{&Tensor{DType: Float32, Shape: []int64{3}, Data: make([]byte, 4)}})
		}, "obj[0]: float32 tensor of shape [3] needs 12 bytes"},
	} {
		err := writeFileWith(path, tc.write)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and %q", tc.name, err, path, tc.msg)
		}
		now, _ := os.ReadFile(path)
		if !bytes.Equal(now, old) {
			t.Errorf("%s: old checkpoint changed", tc.name)
		}
		if names := filesIn(t, dir); len(names) != 1 {
			t.Errorf("%s: directory holds %v, want only latest.pth", tc.name, names)
		}
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.pth"), weights(t, 1, 1)); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

// A reader racing a writer always sees one complete checkpoint or the other.
func TestWriteFileAtomicUnderConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "epoch.pth")
	a, b := weights(t, 1, 1<<16), weights(t, 2, 1<<17)
	if err := WriteFile(path, a); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(stop)
		for i := 0; i < 20; i++ {
			obj := a
			if i%2 == 0 {
				obj = b
			}
			if err := WriteFile(path, obj); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	reads := 0
	for done := false; !done; reads++ {
		select {
		case <-stop:
			done = true
		default:
		}
		if v := fileTensor(t, path); v != 1 && v != 2 {
			t.Fatalf("read %v, want 1 or 2", v)
		}
	}
	wg.Wait()
	if reads < 2 {
		t.Errorf("only %d reads raced the writer", reads)
	}
	if v := fileTensor(t, path); v != 1 {
		t.Errorf("final checkpoint holds %v, want the last write's 1", v)
	}
	if names := filesIn(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}
