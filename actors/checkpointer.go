package actors

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/flowssl/flowssl/checkpoint"
)

// Snapshotter is implemented by steppers that produce checkpoints; the
// Trainer asks after every epoch end and iteration.
type Snapshotter interface {
	TakeSnapshot() *checkpoint.Checkpoint
}

// Save asks the Checkpointer to write a checkpoint (Trainer →
// Checkpointer). Name is the file name, e.g. "epoch_3.pth".
type Save struct {
	Name string
	Ckpt *checkpoint.Checkpoint
}

// CheckpointConfig is checkpoint_config: where, how many to keep.
type CheckpointConfig struct {
	Dir          string
	MaxKeep      int  // max_keep_ckpts; <= 0 keeps all
	SaveOptimizr bool // save_optimizer (default true)
}

// checkpointer writes checkpoints off the training thread, atomically
// (checkpoint.WriteFile: temp file + fsync + rename), refreshes latest.pth
// and prunes old ones beyond max_keep_ckpts.
type checkpointer struct {
	cfg  CheckpointConfig
	fail func(error)
	err  error // the first write error, read by Run after the actor stopped
}

func (c *checkpointer) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*Save); ok {
		if err := c.write(m); err != nil {
			if c.err == nil {
				c.err = err
			}
			c.fail(err)
		}
	}
}

func (c *checkpointer) write(m *Save) error {
	if !c.cfg.SaveOptimizr {
		m.Ckpt.Optimizer = nil
	}
	if err := os.MkdirAll(c.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint dir %s: %w", c.cfg.Dir, err)
	}
	path := filepath.Join(c.cfg.Dir, m.Name)
	if err := m.Ckpt.Save(path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// latest.pth is a symlink swapped atomically, as mmcv does.
	link := filepath.Join(c.cfg.Dir, "latest.pth")
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(m.Name, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		return err
	}
	return c.prune()
}

// prune removes the oldest epoch_N.pth / iter_N.pth beyond MaxKeep.
func (c *checkpointer) prune() error {
	if c.cfg.MaxKeep <= 0 {
		return nil
	}
	ents, err := os.ReadDir(c.cfg.Dir)
	if err != nil {
		return err
	}
	type ck struct {
		name string
		n    int
	}
	var cks []ck
	for _, e := range ents {
		if n, ok := CheckpointNumber(e.Name()); ok {
			cks = append(cks, ck{e.Name(), n})
		}
	}
	sort.Slice(cks, func(i, j int) bool { return cks[i].n < cks[j].n })
	for len(cks) > c.cfg.MaxKeep {
		if err := os.Remove(filepath.Join(c.cfg.Dir, cks[0].name)); err != nil {
			return err
		}
		cks = cks[1:]
	}
	return nil
}

// CheckpointNumber parses epoch_N.pth or iter_N.pth.
func CheckpointNumber(name string) (int, bool) {
	for _, p := range []string{"epoch_", "iter_"} {
		if strings.HasPrefix(name, p) && strings.HasSuffix(name, ".pth") {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, p), ".pth"))
			return n, err == nil
		}
	}
	return 0, false
}

// LatestCheckpoint finds the checkpoint --auto-resume should use in dir:
// latest.pth's target, else the highest-numbered epoch_N/iter_N.pth.
func LatestCheckpoint(dir string) (string, bool) {
	if t, err := os.Readlink(filepath.Join(dir, "latest.pth")); err == nil {
		p := t
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, t)
		}
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	best, bestN := "", -1
	for _, e := range ents {
		if n, ok := CheckpointNumber(e.Name()); ok && n > bestN {
			best, bestN = filepath.Join(dir, e.Name()), n
		}
	}
	return best, bestN >= 0
}
