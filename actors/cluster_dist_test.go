package actors

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/flowssl/flowssl/internal/torchx"
)

// groupRank is one rank of an in-process group: every rank's n-th
// collective meets the others' n-th (actors/dist's contract).
type groupRank struct {
	g    *rankGroup
	rank int
	seq  int
}

type rankGroup struct {
	mu    sync.Mutex
	cond  *sync.Cond
	world int
	ops   map[int]*groupOp
	sizes []int // row lengths of every all-gather, in order (rank 0's)
}

type groupOp struct {
	rows    [][]float32
	bytes   []byte
	arrived int
}

func newRankGroup(world int) []*groupRank {
	g := &rankGroup{world: world, ops: map[int]*groupOp{}}
	g.cond = sync.NewCond(&g.mu)
	out := make([]*groupRank, world)
	for r := range out {
		out[r] = &groupRank{g: g, rank: r}
	}
	return out
}

func (r *groupRank) meet(row []float32, b []byte) *groupOp {
	g := r.g
	g.mu.Lock()
	defer g.mu.Unlock()
	r.seq++
	o := g.ops[r.seq]
	if o == nil {
		o = &groupOp{rows: make([][]float32, g.world)}
		g.ops[r.seq] = o
	}
	o.rows[r.rank] = append([]float32(nil), row...)
	if r.rank == 0 {
		o.bytes = b
		if row != nil {
			g.sizes = append(g.sizes, len(row))
		}
	}
	o.arrived++
	g.cond.Broadcast()
	for o.arrived < g.world {
		g.cond.Wait()
	}
	return o
}

func (r *groupRank) Rank() int  { return r.rank }
func (r *groupRank) World() int { return r.g.world }
func (r *groupRank) AllReduceMean(buf []float32) error {
	return fmt.Errorf("not used")
}
func (r *groupRank) Broadcast(b []byte) ([]byte, error) { return r.meet(nil, b).bytes, nil }
func (r *groupRank) AllGather(row []float32) ([][]float32, error) {
	o := r.meet(row, nil)
	for _, x := range o.rows {
		if len(x) != len(row) {
			return nil, fmt.Errorf("rows of %d and %d elements", len(x), len(row))
		}
	}
	return o.rows, nil
}

// Every rank extracts only its batch-aligned shard and ends with the
// features of the whole set in sample order, also when a shard is short
// or empty and when the gather is cut into chunks; rank 0's labels reach
// every rank.
func TestExtractShardsGathersTheWholeSet(t *testing.T) {
	const dim = 3
	feature := func(i, j int) float32 { return float32(100*i + j) }
	for _, c := range []struct{ n, batch, world int }{{10, 3, 2}, {10, 4, 4}, {7, 1, 3}, {40, 8, 2}} {
		ranks := newRankGroup(c.world)
		outs := make([][]float32, c.world)
		covered := make([]int, c.n)
		var mu sync.Mutex
		var wg sync.WaitGroup
		errs := make([]error, c.world)
		for _, r := range ranks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var dimOut int
				outs[r.rank], dimOut, errs[r.rank] = extractShards(context.Background(), r, c.n, c.batch, func(lo, hi int) ([]float32, int, error) {
					if lo%c.batch != 0 && lo != hi {
						return nil, 0, fmt.Errorf("shard starts at %d, not at a batch boundary", lo)
					}
					rows := make([]float32, 0, (hi-lo)*dim)
					mu.Lock()
					for i := lo; i < hi; i++ {
						covered[i]++
						for j := 0; j < dim; j++ {
							rows = append(rows, feature(i, j))
						}
					}
					mu.Unlock()
					if hi == lo {
						return nil, 0, nil // an empty shard knows no feature size
					}
					return rows, dim, nil
				})
				if errs[r.rank] == nil && dimOut != dim {
					errs[r.rank] = fmt.Errorf("dim %d", dimOut)
				}
			}()
		}
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Fatalf("%+v rank %d: %v", c, r, err)
			}
		}
		for i, k := range covered {
			if k != 1 {
				t.Fatalf("%+v: sample %d extracted %d times", c, i, k)
			}
		}
		for r, out := range outs {
			if len(out) != c.n*dim {
				t.Fatalf("%+v rank %d: %d values, want %d", c, r, len(out), c.n*dim)
			}
			for i := 0; i < c.n; i++ {
				for j := 0; j < dim; j++ {
					if out[i*dim+j] != feature(i, j) {
						t.Fatalf("%+v rank %d: sample %d feature %d is %g", c, r, i, j, out[i*dim+j])
					}
				}
			}
		}
	}

	// Chunked gathers: a budget of 4 rows per message.
	old := gatherChunkElems
	defer func() { gatherChunkElems = old }()
	gatherChunkElems = 4 * dim
	ranks := newRankGroup(2)
	var wg sync.WaitGroup
	outs := make([][]float32, 2)
	for _, r := range ranks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[r.rank], _, _ = extractShards(context.Background(), r, 10, 1, func(lo, hi int) ([]float32, int, error) {
				var rows []float32
				for i := lo; i < hi; i++ {
					rows = append(rows, feature(i, 0), feature(i, 1), feature(i, 2))
				}
				return rows, dim, nil
			})
		}()
	}
	wg.Wait()
	for i := 0; i < 10; i++ {
		if outs[1][i*dim+2] != feature(i, 2) {
			t.Fatalf("chunked gather: sample %d is %v", i, outs[1][i*dim:i*dim+dim])
		}
	}
	// 1 dim gather + 2 chunks (4, then 1 row of the 5 per rank): 4·3 and 1·3 floats.
	if got := ranks[0].g.sizes; fmt.Sprint(got) != "[1 12 3]" {
		t.Fatalf("gather row sizes %v, want [1 12 3]", got)
	}

	labels := make([][]int64, 3)
	ks := make([]int, 3)
	ranks = newRankGroup(3)
	for _, r := range ranks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := []int64{int64(r.rank), 7} // only rank 0's may arrive
			labels[r.rank], ks[r.rank], _ = broadcastLabels(r, mine, 10+r.rank)
		}()
	}
	wg.Wait()
	for r := range labels {
		if fmt.Sprint(labels[r]) != "[0 7]" || ks[r] != 10 {
			t.Fatalf("rank %d got labels %v k %d, want rank 0's [0 7] k 10", r, labels[r], ks[r])
		}
	}
}

// ODC's per-step update on two ranks: both get the indices and features
// of both batches, in rank order, and own the result.
func TestGatherUpdateConcatenatesRanks(t *testing.T) {
	ranks := newRankGroup(2)
	idx := [][]int64{{5, 1}, {0, 7}}
	feats := [][]float32{{1, 2, 3, 4, 5, 6}, {-1, -2, -3, -4, -5, -6}}
	gotIdx := make([][]int64, 2)
	gotFeat := make([][]float32, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for _, r := range ranks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			errs[r.rank] = func() error {
				f, err := torchx.FromFloat32s(feats[r.rank], 2, 3)
				if err != nil {
					return err
				}
				gi, g, err := gatherUpdate(r, idx[r.rank], f)
				if err != nil {
					return err
				}
				defer g.MustDrop()
				if d := g.MustSize(); fmt.Sprint(d) != "[4 3]" {
					return fmt.Errorf("gathered shape %v", d)
				}
				gotIdx[r.rank] = gi
				gotFeat[r.rank], err = torchx.Float32s(g)
				return err
			}()
		}()
	}
	wg.Wait()
	for r := range ranks {
		if errs[r] != nil {
			t.Fatalf("rank %d: %v", r, errs[r])
		}
		if fmt.Sprint(gotIdx[r]) != "[5 1 0 7]" || fmt.Sprint(gotFeat[r]) != "[1 2 3 4 5 6 -1 -2 -3 -4 -5 -6]" {
			t.Fatalf("rank %d: indices %v features %v", r, gotIdx[r], gotFeat[r])
		}
	}
}

// DeepCluster's async clustering is refused on several nodes (each node's
// Clusterer would finish at its own time), before anything is built.
func TestDeepClusterAsyncRefusedOnSeveralNodes(t *testing.T) {
	h, err := buildDeepClusterHook(map[string]any{"extractor": map[string]any{"dataset": map[string]any{}},
		"clustering": map[string]any{"type": "Kmeans", "k": 4, "mode": "async"}}, PriorityNormal)
	if err != nil {
		t.Fatal(err)
	}
	env := &ExtensionEnv{Runner: &Runner{hooks: []Hook{h}}, Setup: &Setup{Dist: newRankGroup(2)[0]}}
	if _, err := buildDeepClusterExtension(env); err == nil || !strings.Contains(err.Error(), "async is single-process only") {
		t.Fatalf("async DeepCluster on 2 nodes: err %v", err)
	}
}
