package actors

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/flowssl/flowssl/model"
)

// Distributed is the collective layer a multi-node run trains over
// (actors/dist implements it over protoactor's remote). Every rank calls
// the same collectives in the same order.
type Distributed interface {
	Rank() int
	World() int
	// AllReduceMean replaces buf on every rank with the element-wise mean
	// over ranks, reduced in a fixed order (bit-identical everywhere).
	AllReduceMean(buf []float32) error
	// Broadcast returns rank 0's data on every rank.
	Broadcast(data []byte) ([]byte, error)
	// AllGather returns every rank's row in rank order (model.Collective).
	AllGather(row []float32) ([][]float32, error)
}

// primaryOnly keeps checkpoints on rank 0, as MMSelfSup's master-only
// CheckpointHook does: the other ranks hold the same weights.
func primaryOnly(c *CheckpointConfig, d Distributed) *CheckpointConfig {
	if d != nil && d.Rank() != 0 {
		return nil
	}
	return c
}

// joinDistributed makes every rank start from rank 0's state: rank 0
// snapshots its model, buffers, optimizer and extension state at iter
// (fresh or resumed) and broadcasts it; the others restore it and adopt
// rank 0's start iteration. It then routes the optimizer hook's gradients
// through d. It returns the start iteration.
func (r *Runner) joinDistributed(d Distributed, iter int) (int, error) {
	tmp, err := os.CreateTemp("", "flowssl-rank0-*.pth")
	if err != nil {
		return 0, fmt.Errorf("dist: %w", err)
	}
	path := tmp.Name()
	tmp.Close()
	defer os.Remove(path)
	var blob []byte
	if d.Rank() == 0 {
		err := r.Pinned.Do(func() error {
			ck, err := r.snapshot(iter/max(1, r.ItersPerEpoch), iter)
			if err != nil {
				return err
			}
			return ck.Save(path)
		})
		if err != nil {
			return 0, fmt.Errorf("dist: rank 0 state: %w", err)
		}
		if blob, err = os.ReadFile(path); err != nil {
			return 0, fmt.Errorf("dist: %w", err)
		}
	}
	blob, err = d.Broadcast(blob)
	if err != nil {
		return 0, fmt.Errorf("dist: broadcast of rank 0's state: %w", err)
	}
	if d.Rank() != 0 {
		if err := os.WriteFile(path, blob, 0o600); err != nil {
			return 0, fmt.Errorf("dist: %w", err)
		}
		ck, err := checkpoint.Load(path)
		if err != nil {
			return 0, fmt.Errorf("dist: rank 0's state: %w", err)
		}
		if _, iter, err = r.Restore(ck); err != nil {
			return 0, fmt.Errorf("dist: restore rank 0's state: %w", err)
		}
	}
	r.Log.Info().Int("rank", d.Rank()).Int("world", d.World()).Int("iter", iter).Int("state_bytes", len(blob)).Msg("dist: synchronised with rank 0")
	r.AllReduce = func(params []model.Param) error { return allReduceGrads(d, params) }
	if cu, ok := r.Algorithm.(model.CollectiveUser); ok {
		cu.SetCollective(d)
	}
	if g := model.EnableSyncBN(r.VS, d); g != nil {
		r.SyncBN = g
		r.Log.Info().Int("world", d.World()).Msg("dist: SyncBN statistics and gradients synchronised across the nodes")
	}
	if d.Rank() != 0 {
		// Only rank 0 writes checkpoints (primaryOnly): spare the other
		// ranks the per-interval snapshots; what is left is the one at
		// the last iteration, which nobody saves.
		r.CheckpointByIter, r.CheckpointInterval = true, 0
	}
	return iter, nil
}

// allReduceGrads averages the parameters' gradients over the ranks: the
// defined gradients are flattened into one float32 buffer (in the
// optimizer's parameter order, the same on every rank), reduced, and
// copied back in place. It runs on the pinned thread.
func allReduceGrads(d Distributed, params []model.Param) error {
	var grads, flat []*ts.Tensor
	defer func() {
		for _, t := range append(grads, flat...) {
			t.MustDrop()
		}
	}()
	for _, p := range params {
		g, err := p.T.Grad(false)
		if err != nil {
			return fmt.Errorf("grad of %s: %w", p.Name, err)
		}
		ok, err := g.Defined()
		if err != nil || !ok {
			g.MustDrop()
			if err != nil {
				return fmt.Errorf("grad of %s: %w", p.Name, err)
			}
			continue
		}
		grads = append(grads, g)
		f, err := g.Detach(false)
		if err == nil {
			f, err = f.To(gotch.CPU, true)
		}
		if err == nil {
			f, err = f.Totype(gotch.Float, true)
		}
		if err == nil {
			f, err = f.Flatten(0, -1, true)
		}
		if err == nil {
			f, err = f.Contiguous(true)
		}
		if err != nil {
			return fmt.Errorf("grad of %s: %w", p.Name, err)
		}
		flat = append(flat, f)
	}
	if len(flat) == 0 {
		return nil
	}
	offs := make([]int, len(flat)+1)
	for i, f := range flat {
		offs[i+1] = offs[i] + int(f.Numel())
	}
	// Each gradient copies straight into its slice of the buffer.
	buf := make([]float32, offs[len(flat)])
	for i, f := range flat {
		if err := copyOut(f, buf[offs[i]:offs[i+1]]); err != nil {
			return fmt.Errorf("grad %d: %w", i, err)
		}
	}
	if err := d.AllReduceMean(buf); err != nil {
		return err
	}
	for i, g := range grads {
		size, err := g.Size()
		if err != nil {
			return err
		}
		src, err := torchx.FromFloat32s(buf[offs[i]:offs[i+1]], size...)
		if err != nil {
			return err
		}
		dev, err := g.Device()
		if err != nil {
			return err
		}
		if g.DType() != gotch.Float || dev != gotch.CPU {
			if src, err = src.To(dev, true); err == nil {
				src, err = src.Totype(g.DType(), true)
			}
			if err != nil {
				return err
			}
		}
		err = torchx.Copy(g, src)
		src.MustDrop()
		if err != nil {
			return err
		}
	}
	return nil
}

// copyOut copies a contiguous float32 CPU tensor into dst with one memcpy
// (gotch's CopyData first walks the destination by reflection, element by
// element, which costs seconds for a ResNet's gradients).
func copyOut(t *ts.Tensor, dst []float32) error {
	if len(dst) == 0 {
		return nil
	}
	if t.DType() != gotch.Float || t.Numel() != uint(len(dst)) {
		return fmt.Errorf("copy out: %v tensor of %d elements into %d float32", t.DType(), t.Numel(), len(dst))
	}
	lib.AtCopyData(lib.Ctensor(t.Ctensor()), unsafe.Pointer(&dst[0]), uint(len(dst)), 4)
	return ts.TorchErr()
}
