package pyconf

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs/tree"
)

const python = "/usr/bin/python3"

// fromRefJSON rebuilds a tree value from testdata/pyeval.py's encoding.
func fromRefJSON(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		if f, ok := x["__float__"]; ok {
			fv, err := strconv.ParseFloat(f.(string), 64)
			if err != nil {
				t.Fatalf("bad float %v", f)
			}
			return fv
		}
		m := tree.NewMap()
		for _, kv := range x["__map__"].([]any) {
			p := kv.([]any)
			m.Set(p[0].(string), fromRefJSON(t, p[1]))
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromRefJSON(t, e)
		}
		return out
	case json.Number:
		n, err := strconv.Atoi(x.String())
		if err != nil {
			t.Fatalf("bad int %v", x)
		}
		return n
	default:
		return v
	}
}

// TestEvalMatchesCPython runs every fixture through CPython (testdata/pyeval.py) and
// through Eval and requires identical names, order and values.
func TestEvalMatchesCPython(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not available: %v", python, err)
	}
	files, err := filepath.Glob("testdata/*.py")
	if err != nil {
		t.Fatal(err)
	}
	var fixtures []string
	for _, f := range files {
		if !strings.HasSuffix(f, "pyeval.py") {
			fixtures = append(fixtures, f)
		}
	}
	cmd := exec.Command(python, append([]string{"testdata/pyeval.py"}, fixtures...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyeval.py: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var ref []struct {
		Path  string  `json:"path"`
		Names [][]any `json:"names"`
	}
	if err := dec.Decode(&ref); err != nil {
		t.Fatal(err)
	}
	for _, r := range ref {
		t.Run(filepath.Base(r.Path), func(t *testing.T) {
			want := tree.NewMap()
			for _, kv := range r.Names {
				want.Set(kv[0].(string), fromRefJSON(t, kv[1]))
			}
			src, err := os.ReadFile(r.Path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Eval(r.Path, src, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := tree.Diff("", want, got); d != "" {
				t.Errorf("CPython vs Eval: %s", d)
			}
			if strings.Join(want.Keys(), ",") != strings.Join(got.Keys(), ",") {
				t.Errorf("key order:\nCPython %v\nEval    %v", want.Keys(), got.Keys())
			}
		})
	}
}
