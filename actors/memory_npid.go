package actors

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/memory"
	"github.com/flowssl/flowssl/model"
)

func init() { RegisterExtension("NPID", buildNPIDMemory) }

// npidMemory is NPID's memory bank (memory.SimpleMemory) run by a Memory
// actor (see memoryActor for the protocol), attached to the algorithm as
// its model.NPIDBank. Unlike MMSelfSup it is Stateful: the bank goes into
// every checkpoint and comes back on resume.
//
// On several nodes every rank keeps the whole bank, as MMSelfSup's
// SimpleMemory does: each step's indices and features are all-gathered
// before the update (gatherUpdate), so the ranks' banks stay the same;
// each rank draws its own negatives (the seed offset by the rank, rank 0's
// being one process's).
type npidMemory struct {
	algo   *model.NPID
	cfg    memory.SimpleMemoryConfig
	negNum int
	ensure bool
	seed   int64
	// negSeed offsets the negatives' seed by rank (0 on one process).
	negSeed int64
	device  gotch.Device
	stage   *Stage

	dist    Distributed          // multi-node: gathered updates
	pending *checkpoint.Dict     // state restored before Spawn
	mem     *memory.SimpleMemory // owned by the actor's thread
	client  *memoryClient
}

func buildNPIDMemory(env *ExtensionEnv) (Extension, error) {
	algo, ok := env.Runner.Algorithm.(*model.NPID)
	if !ok {
		return nil, fmt.Errorf("NPID memory: algorithm is %T", env.Runner.Algorithm)
	}
	cfg := algo.MemoryConfig()
	if n := env.Source.Len(); cfg.Length != n {
		return nil, fmt.Errorf("model.memory_bank.length %d: the training set has %d samples (one bank row each)", cfg.Length, n)
	}
	if algo.EnsureNeg() && cfg.Length < 2 {
		return nil, fmt.Errorf("model.ensure_neg needs a memory bank of at least 2 rows")
	}
	dev := env.Setup.Device
	if dev.Name == "" {
		dev = gotch.CPU
	}
	n := &npidMemory{algo: algo, cfg: cfg, negNum: algo.NegNum(), ensure: algo.EnsureNeg(), seed: env.Setup.Seed,
		device: dev, stage: env.Metrics.Stage("memory", 1), dist: env.Setup.Dist}
	if multiRank(n.dist) {
		if cfg.Length >= 1<<24 {
			return nil, fmt.Errorf("model.memory_bank.length %d: several nodes gather sample indices as float32, exact below 2^24", cfg.Length)
		}
		n.negSeed = int64(n.dist.Rank()) * 1_000_003
	}
	return n, nil
}

// Name keys the bank in checkpoints (after model.memory_bank).
func (n *npidMemory) Name() string { return "memory_bank" }

// Spawn creates the bank on the actor's thread (N(0,1) rows from the seed,
// normalised, or the restored state) and attaches it to the algorithm.
func (n *npidMemory) Spawn(root *actor.RootContext, props func(st *Stage, p actor.Producer) *actor.Props, fail func(error)) (func(), error) {
	init := func() error {
		mem, err := memory.NewSimpleMemory(n.cfg, n.device, memory.NegativeRNG(n.seed, -1))
		if err != nil {
			return err
		}
		n.mem = mem
		if n.pending != nil {
			err := n.load(n.pending)
			n.pending = nil
			return err
		}
		return nil
	}
	closeFn := func() {
		if n.mem != nil {
			n.mem.Close()
			n.mem = nil
		}
	}
	c, stop, err := spawnMemory(root, props, n.stage, fail, init, closeFn)
	if err != nil {
		return nil, fmt.Errorf("NPID memory: %w", err)
	}
	n.client = c
	n.algo.SetBank(npidBank{n})
	return func() {
		n.algo.SetBank(nil)
		stop()
	}, nil
}

// SaveState asks the actor for a copy of the bank; it sees every update
// the steps before the checkpoint sent.
//
// Before the actor runs (a multi-node run's start snapshots rank 0's state
// before the dataflow spawns) it returns the pending state or an empty
// dict, which LoadState ignores.
func (n *npidMemory) SaveState() (*checkpoint.Dict, error) {
	if n.client == nil {
		if n.pending != nil {
			return n.pending, nil
		}
		return checkpoint.NewDict(), nil
	}
	v, err := n.client.ask(npidSave{n})
	if err != nil {
		return nil, err
	}
	return v.(*checkpoint.Dict), nil
}

// LoadState restores the bank: kept for Spawn when the actor does not run
// yet (resume), else sent to the actor.
func (n *npidMemory) LoadState(d *checkpoint.Dict) error {
	if d.Len() == 0 {
		return nil // saved before the bank existed
	}
	if n.client == nil {
		n.pending = d
		return nil
	}
	_, err := n.client.ask(npidLoad{n, d})
	return err
}

// load runs on the actor's thread.
func (n *npidMemory) load(d *checkpoint.Dict) error {
	st, err := tensorsFromDict(d, "feature_bank")
	if err != nil {
		return fmt.Errorf("NPID memory state: %w", err)
	}
	defer memory.DropState(st)
	return n.mem.LoadState(st)
}

// npidBank is the algorithm's model.NPIDBank: requests and updates to the
// Memory actor.
type npidBank struct{ n *npidMemory }

func (b npidBank) Rows(iter int, idx []int64) (*ts.Tensor, error) {
	v, err := b.n.client.ask(npidRows{b.n, iter, idx})
	if err != nil {
		return nil, err
	}
	return v.(*ts.Tensor), nil
}

func (b npidBank) Update(iter int, idx []int64, feat *ts.Tensor) error {
	if multiRank(b.n.dist) {
		var err error
		if idx, feat, err = gatherUpdate(b.n.dist, idx, feat); err != nil {
			return fmt.Errorf("NPID memory update, iter %d: %w", iter+1, err)
		}
	}
	if err := b.n.client.tell(npidUpdate{b.n, iter, idx, feat}); err != nil {
		feat.MustDrop()
		return err
	}
	return nil
}

// npidRows draws the negatives of iteration iter (from (seed, iter) only,
// and the rank on several nodes)
// and gathers the rows; the step owns the answer.
type npidRows struct {
	n    *npidMemory
	iter int
	idx  []int64
}

func (m npidRows) apply() (any, error) {
	neg, err := m.n.mem.Negatives(m.idx, m.n.negNum, m.n.ensure, memory.NegativeRNG(m.n.seed+m.n.negSeed, m.iter))
	if err != nil {
		return nil, err
	}
	return m.n.mem.Gather(m.idx, neg)
}

// npidUpdate writes a batch's features into the bank and drops them.
type npidUpdate struct {
	n    *npidMemory
	iter int
	idx  []int64
	feat *ts.Tensor
}

func (m npidUpdate) apply() (any, error) {
	defer m.feat.MustDrop()
	if err := m.n.mem.Update(m.idx, m.feat); err != nil {
		return nil, fmt.Errorf("iter %d: %w", m.iter, err)
	}
	return nil, nil
}

type npidSave struct{ n *npidMemory }

func (m npidSave) apply() (any, error) {
	st, err := m.n.mem.State()
	if err != nil {
		return nil, err
	}
	return tensorsToDict(st)
}

type npidLoad struct {
	n *npidMemory
	d *checkpoint.Dict
}

func (m npidLoad) apply() (any, error) { return nil, m.n.load(m.d) }
