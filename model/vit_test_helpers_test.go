package model

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// runViTRef runs testdata/vit/ref_vit.py mode with cfg as JSON.
func runViTRef(t testing.TB, mode string, cfg map[string]any, args ...string) {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(refPython, append([]string{filepath.Join("testdata", "vit", "ref_vit.py"), mode, string(js)}, args...)...)
	cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ref_vit.py %s: %v\n%s", mode, err, out)
	}
}

// readKeys reads one key per line.
func readKeys(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	return out
}

// sameKeys fails unless vs's state-dict names equal want, in order.
func sameKeys(t testing.TB, vs *nn.VarStore, want []string) {
	t.Helper()
	got := algoKeys(vs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("state dict keys differ from torch's:\n go  %v\n ref %v", got, want)
	}
}

// randomiseLN gives every LayerNorm weight/bias (…ln*, …norm*) random
// values so that the parity tests exercise them.
func randomiseLN(vs *nn.VarStore) {
	noGradDo(func() {
		for _, e := range StateDict(vs) {
			last := e.Name[strings.LastIndex(e.Name, ".")+1:]
			mod := strings.TrimSuffix(e.Name, "."+last)
			mod = mod[strings.LastIndex(mod, ".")+1:]
			if !strings.HasPrefix(mod, "ln") && !strings.HasPrefix(mod, "norm") {
				continue
			}
			if last == "weight" {
				fillVia(e.T, func(t *ts.Tensor) { t.MustUniform_(0.5, 1.5) })
			} else {
				fillVia(e.T, func(t *ts.Tensor) { t.MustNormal_(0, 0.1) })
			}
		}
	})
}

// near fails when got differs from d[key] by more than tol (relDiff).
func near(t testing.TB, d *checkpoint.Dict, key string, got *ts.Tensor, tol float64) {
	t.Helper()
	if diff := relDiff(t, key, got, refTensor(t, d, key)); diff > tol {
		t.Errorf("%s: relative diff %.3g > %g (torch 1.13.1, testdata/vit/ref_vit.py)", key, diff, tol)
	}
}
