package actors

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/internal/torchx"
)

// Multi-node clustering (DeepCluster, ODC). MMSelfSup's DeepClusterHook
// extracts the features of the dataset with a distributed sampler, so
// every rank encodes its share, gathers the features of every rank, and
// rank 0 clusters them and broadcasts the labels. flowssl does the same
// over the run's Distributed: extractShards and broadcastLabels.

// gatherChunkElems bounds the float32 elements of one all-gather row, so
// that every message stays far below the transport's 1 GiB limit
// whatever the dataset size.
var gatherChunkElems = 4 << 20

// shardOf is rank's share [lo, hi) of n samples: contiguous blocks whose
// size is a multiple of the extraction batch, so each rank's batches are
// exactly the batches one process makes (the features, and therefore the
// labels, are those of one process). per is the padded share.
func shardOf(n, batch, rank, world int) (lo, hi, per int) {
	batch = max(1, batch)
	per = (n + world - 1) / world
	per = (per + batch - 1) / batch * batch
	lo = min(rank*per, n)
	hi = min(lo+per, n)
	return lo, hi, per
}

// extractShards extracts this rank's shard of the dataset with run and
// gathers every rank's rows: the N×D features of the whole set, in sample
// order, on every rank. Every rank calls it at the same point.
func extractShards(ctx context.Context, d Distributed, n, batch int,
	run func(lo, hi int) ([]float32, int, error)) ([]float32, int, error) {
	lo, hi, per := shardOf(n, batch, d.Rank(), d.World())
	rows, dim, err := run(lo, hi)
	if err != nil {
		return nil, 0, err
	}
	// A rank whose shard is empty does not know D: agree on it first.
	dims, err := d.AllGather([]float32{float32(dim)})
	if err != nil {
		return nil, 0, fmt.Errorf("gather the feature size: %w", err)
	}
	for _, x := range dims {
		if x[0] != 0 && dim != 0 && int(x[0]) != dim {
			return nil, 0, fmt.Errorf("ranks extracted %g- and %d-dimensional features", x[0], dim)
		}
		dim = max(dim, int(x[0]))
	}
	if dim == 0 {
		return nil, 0, fmt.Errorf("no rank extracted a feature")
	}
	local := make([]float32, per*dim) // padded with zero rows
	copy(local, rows)
	out := make([]float32, n*dim)
	chunk := max(1, gatherChunkElems/dim) // rows per all-gather
	for at := 0; at < per; at += chunk {
		m := min(chunk, per-at)
		all, err := d.AllGather(local[at*dim : (at+m)*dim])
		if err != nil {
			return nil, 0, fmt.Errorf("gather features: %w", err)
		}
		for r, x := range all {
			start := r*per + at // sample index of x's first row
			if start >= n {
				continue
			}
			copy(out[start*dim:min(n, start+m)*dim], x)
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
	}
	return out, dim, nil
}

// broadcastLabels sends rank 0's labels and cluster count to every rank
// (MMSelfSup's dist.broadcast of new_labels); the other ranks' arguments
// are ignored.
func broadcastLabels(d Distributed, labels []int64, k int) ([]int64, int, error) {
	var blob []byte
	if d.Rank() == 0 {
		blob = make([]byte, 8*(len(labels)+1))
		binary.LittleEndian.PutUint64(blob, uint64(k))
		for i, l := range labels {
			binary.LittleEndian.PutUint64(blob[8*(i+1):], uint64(l))
		}
	}
	blob, err := d.Broadcast(blob)
	if err != nil {
		return nil, 0, fmt.Errorf("labels from rank 0: %w", err)
	}
	if len(blob) < 8 || len(blob)%8 != 0 {
		return nil, 0, fmt.Errorf("labels from rank 0: %d bytes", len(blob))
	}
	k = int(binary.LittleEndian.Uint64(blob))
	out := make([]int64, len(blob)/8-1)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(blob[8*(i+1):]))
	}
	return out, k, nil
}

// multiRank reports whether d spans several ranks.
func multiRank(d Distributed) bool { return d != nil && d.World() > 1 }

// sourceRange is samples [lo, hi) of a source, renumbered from 0.
type sourceRange struct {
	data.Source
	lo, hi int
}

func (s sourceRange) Len() int { return s.hi - s.lo }

func (s sourceRange) Get(i int) (data.Sample, error) {
	if i < 0 || i >= s.hi-s.lo {
		return data.Sample{}, fmt.Errorf("sample %d outside a range of %d", i, s.hi-s.lo)
	}
	return s.Source.Get(s.lo + i)
}

func (s sourceRange) Labels() []int { return s.Source.Labels()[s.lo:s.hi] }

// gatherUpdate is the concat_all_gather of MMSelfSup's
// ODCMemory.update_samples_memory: every rank's batch indices and features
// (one all-gather of rows [indices as float32 | features]), so every
// rank's memory applies the same update. It takes ownership of feat and
// returns the global batch (rank order) on feat's device.
func gatherUpdate(d Distributed, idx []int64, feat *ts.Tensor) ([]int64, *ts.Tensor, error) {
	defer feat.MustDrop()
	dims, err := feat.Size()
	if err != nil {
		return nil, nil, err
	}
	if len(dims) != 2 || int(dims[0]) != len(idx) {
		return nil, nil, fmt.Errorf("features of shape %v for %d indices", dims, len(idx))
	}
	c, err := feat.Contiguous(false)
	if err != nil {
		return nil, nil, err
	}
	vals, err := torchx.Float32s(c)
	c.MustDrop()
	if err != nil {
		return nil, nil, err
	}
	row := make([]float32, 0, len(idx)+len(vals))
	for _, i := range idx {
		row = append(row, float32(i)) // exact: lengths below 2^24 are checked at build
	}
	row = append(row, vals...)
	all, err := d.AllGather(row)
	if err != nil {
		return nil, nil, err
	}
	n := len(idx)
	gIdx := make([]int64, 0, n*len(all))
	gFeat := make([]float32, 0, len(vals)*len(all))
	for _, r := range all {
		for _, v := range r[:n] {
			gIdx = append(gIdx, int64(v))
		}
		gFeat = append(gFeat, r[n:]...)
	}
	dev, err := feat.Device()
	if err != nil {
		return nil, nil, err
	}
	t, err := torchx.FromFloat32sOn(gFeat, dev, int64(len(gIdx)), dims[1])
	if err != nil {
		return nil, nil, err
	}
	if feat.DType() != t.DType() {
		if t, err = t.Totype(feat.DType(), true); err != nil {
			return nil, nil, err
		}
	}
	return gIdx, t, nil
}
