package cluster

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"

	"github.com/flowssl/flowssl/internal/torchx"
)

// TestSinkhornMatchesTorch compares with testdata/sinkhorn_ref.py (torch
// 1.13.1, the v0.9.0 algorithm) on random scores, including SwAV's
// ε = 0.05 with 3 iterations.
func TestSinkhornMatchesTorch(t *testing.T) {
	lock(t)
	py := python(t)
	cases := []struct {
		b, k  int
		iters int
		eps   float64
	}{{8, 5, 3, 0.05}, {32, 30, 3, 0.05}, {6, 10, 10, 0.5}, {4, 3, 0, 0.1}}
	for i, c := range cases {
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		scores := make([]float32, c.b*c.k)
		rows := make([][]float32, c.b)
		for r := range rows {
			for j := 0; j < c.k; j++ {
				scores[r*c.k+j] = float32(rng.Float64()*2 - 1) // cosine-like range
			}
			rows[r] = scores[r*c.k : (r+1)*c.k]
		}
		req, _ := json.Marshal(map[string]any{"scores": rows, "iters": c.iters, "eps": c.eps})
		cmd := exec.Command(py, "testdata/sinkhorn_ref.py")
		cmd.Stdin = bytes.NewReader(req)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		var want [][]float64
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		q, err := Sinkhorn(tensor(t, scores, int64(c.b), int64(c.k)), c.iters, c.eps)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := torchx.Float64s(q)
		_ = q.Drop()
		for r := 0; r < c.b; r++ {
			var sum float64
			for j := 0; j < c.k; j++ {
				g, w := got[r*c.k+j], want[r][j]
				sum += g
				if math.Abs(g-w) > 1e-5+1e-4*math.Abs(w) {
					t.Fatalf("case %d: Q[%d,%d] = %g, torch %g", i, r, j, g, w)
				}
			}
			if c.iters > 0 && math.Abs(sum-1) > 1e-4 {
				t.Fatalf("case %d: row %d sums to %g", i, r, sum)
			}
		}
	}
}

func TestSinkhornRefusesBadArgs(t *testing.T) {
	lock(t)
	x := tensor(t, []float32{1, 2}, 2)
	if _, err := Sinkhorn(x, 3, 0.05); err == nil {
		t.Fatal("1-D scores accepted")
	}
	if _, err := Sinkhorn(tensor(t, []float32{1, 2}, 1, 2), 3, 0); err == nil {
		t.Fatal("epsilon 0 accepted")
	}
}
