package memory

import (
	"fmt"
	"math/rand/v2"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// lastWins returns the positions of idx that survive when rows are written
// in order with duplicates overwriting earlier ones (PyTorch's CPU
// index_put_ semantics, which MMSelfSup relies on), in first-seen order of
// their index.
func lastWins(idx []int64) []int64 {
	last := make(map[int64]int, len(idx))
	for p, i := range idx {
		last[i] = p
	}
	if len(last) == len(idx) {
		pos := make([]int64, len(idx))
		for p := range pos {
			pos[p] = int64(p)
		}
		return pos
	}
	pos := make([]int64, 0, len(last))
	for p, i := range idx {
		if last[i] == p {
			pos = append(pos, int64(p))
		}
	}
	return pos
}

func checkIndices(idx []int64, length int) error {
	if len(idx) == 0 {
		return fmt.Errorf("empty index batch")
	}
	for _, i := range idx {
		if i < 0 || i >= int64(length) {
			return fmt.Errorf("index %d outside the memory's %d rows", i, length)
		}
	}
	return nil
}

// onDevice checks feat is n×dim and returns it on device (a
// differentiable move, so gradients still reach the caller's tensor).
func onDevice(s *torchx.Scope, feat *ts.Tensor, n, dim int, device gotch.Device) *ts.Tensor {
	d := s.Shape(feat)
	if len(d) != 2 || d[0] != int64(n) || d[1] != int64(dim) {
		s.Fail("features of shape %v, want %d×%d", d, n, dim)
	}
	return s.T(feat.To(device, false))
}

// normalize is x/(‖x‖₂ + add) when add > 0, else x/max(‖x‖₂, 1e-12)
// (F.normalize), row-wise, as a scope temporary.
func normalize(s *torchx.Scope, x *ts.Tensor, add float64) *ts.Tensor {
	n := s.T(x.NormScalaroptDim(s.Float(2), []int64{1}, true, false))
	if add > 0 {
		n = s.T(n.AddScalar(s.Float(add), false))
	} else {
		n = s.T(n.ClampMin(s.Float(1e-12), false))
	}
	return s.T(x.Div(n, false))
}

// randnRows fills the rows of bank (length×dim on its device) with N(0,1)
// draws from rng, each row then L2-normalised (F.normalize), in blocks.
func randnRows(bank *ts.Tensor, length, dim int, device gotch.Device, rng *rand.Rand) error {
	const block = 1 << 16
	buf := make([]float32, 0, block*dim)
	for start := 0; start < length; start += block {
		m := min(block, length-start)
		buf = buf[:m*dim]
		for i := range buf {
			buf[i] = float32(rng.NormFloat64())
		}
		err := torchx.Run(func(s *torchx.Scope) error {
			x := s.T(torchx.FromFloat32sOn(buf, device, int64(m), int64(dim)))
			dst := s.T(bank.Narrow(0, int64(start), int64(m), false))
			return torchx.Copy(dst, normalize(s, x, 0))
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// loadInto checks a LoadState entry's presence, shape and dtype and
// copies it into dst.
func loadInto(state map[string]*ts.Tensor, key string, dst *ts.Tensor) error {
	src, ok := state[key]
	if !ok || src == nil {
		return fmt.Errorf("state has no %q", key)
	}
	want, err := dst.Size()
	if err != nil {
		return err
	}
	got, err := src.Size()
	if err != nil {
		return fmt.Errorf("state %q: %w", key, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("state %q has shape %v, want %v", key, got, want)
	}
	if src.DType() != dst.DType() {
		return fmt.Errorf("state %q has dtype %v, want %v", key, src.DType(), dst.DType())
	}
	if err := torchx.Copy(dst, src); err != nil {
		return fmt.Errorf("state %q: %w", key, err)
	}
	return nil
}

// cloneState deep-copies the named tensors; on error nothing is leaked.
func cloneState(named map[string]*ts.Tensor) (map[string]*ts.Tensor, error) {
	out := make(map[string]*ts.Tensor, len(named))
	for k, t := range named {
		c, err := torchx.Clone(t)
		if err != nil {
			DropState(out)
			return nil, fmt.Errorf("memory: state %q: %w", k, err)
		}
		out[k] = c
	}
	return out, nil
}

// DropState drops every tensor of a State map.
func DropState(state map[string]*ts.Tensor) {
	for _, t := range state {
		if t != nil {
			_ = t.Drop()
		}
	}
}
