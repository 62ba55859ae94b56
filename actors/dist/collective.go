package dist

import (
	"fmt"
	"time"
)

// opKind names a collective.
type opKind byte

const (
	opReduce opKind = iota + 1
	opBroadcast
	opGather
)

func (k opKind) String() string {
	return [...]string{"?", "all-reduce", "broadcast", "all-gather"}[k]
}

// op is one collective in progress, keyed by its sequence number. Peers'
// messages may arrive before the local call opens it, so it is created
// by whichever comes first.
type op struct {
	kind   opKind
	opened bool // the local call has begun
	total  int  // elements (reduce, gather row) or bytes (broadcast)
	done   chan struct{}
	closed bool

	// all-reduce: buf is the caller's buffer; parts[k][r] is rank r's
	// share of bucket k (owned buckets only); left counts buckets not yet
	// reduced into buf.
	buf   []float32
	parts map[int][][]float32
	left  int

	// broadcast
	chunks [][]byte
	got    int

	// all-gather
	rows [][]float32
}

func (n *Node) opLocked(seq uint64, k opKind) (*op, error) {
	o, ok := n.ops[seq]
	if !ok {
		o = &op{kind: k, done: make(chan struct{}), parts: map[int][][]float32{}}
		n.ops[seq] = o
	}
	if o.kind != k {
		return nil, fmt.Errorf("dist: collective %d is a %s here and a %s on a peer: ranks called different collectives", seq, o.kind, k)
	}
	return o, nil
}

func (o *op) finish() {
	if !o.closed {
		o.closed = true
		close(o.done)
	}
}

// bucket is a piece of the all-reduce buffer and the rank that reduces it.
type bucket struct{ lo, hi, owner int }

// buckets cuts a buffer of total elements into World contiguous shards
// (shard r is reduced by rank r, so every rank reduces about 1/World of
// the buffer whatever its size) and each shard into buckets of at most
// BucketElems. Every rank computes the same list.
func (n *Node) buckets(total int) []bucket {
	var out []bucket
	for r := 0; r < n.world; r++ {
		lo, hi := r*total/n.world, (r+1)*total/n.world
		for b := lo; b < hi; b += n.cfg.BucketElems {
			out = append(out, bucket{b, min(b+n.cfg.BucketElems, hi), r})
		}
	}
	return out
}

// AllReduceMean replaces buf, on every rank, with the element-wise mean of
// all ranks' buf: each bucket is summed in rank order by the rank owning
// its shard, so every rank gets the same bits in every run.
func (n *Node) AllReduceMean(buf []float32) error {
	t0 := time.Now()
	if n.world == 1 {
		return n.Err()
	}
	n.mu.Lock()
	if n.err != nil {
		defer n.mu.Unlock()
		return n.err
	}
	n.seq++
	seq := n.seq
	o, err := n.opLocked(seq, opReduce)
	if err != nil {
		n.failLocked(err)
		n.mu.Unlock()
		return err
	}
	if o.total != 0 && o.total != len(buf) {
		err := fmt.Errorf("dist: all-reduce %d: this rank has %d elements, a peer %d: the ranks' models differ", seq, len(buf), o.total)
		n.failLocked(err)
		n.mu.Unlock()
		return err
	}
	o.opened, o.total, o.buf = true, len(buf), buf
	bs := n.buckets(len(buf))
	o.left = len(bs)
	for k, b := range bs {
		lo, hi, owner := b.lo, b.hi, b.owner
		if owner != n.rank {
			n.sendLocked(owner, &frame{Kind: kPart, Seq: seq, Index: int32(k), Total: int64(len(buf)), Floats: buf[lo:hi]})
			continue
		}
		n.addPartLocked(o, seq, k, n.rank, buf[lo:hi])
	}
	if o.left == 0 {
		o.finish()
	}
	n.stats.AllReduces++
	n.stats.AllReduceElems += int64(len(buf))
	n.mu.Unlock()
	err = n.wait(o, seq)
	n.mu.Lock()
	n.stats.AllReduceTime += time.Since(t0)
	n.mu.Unlock()
	return err
}

// addPartLocked records rank r's share of owned bucket k and reduces the
// bucket once every rank's share is in.
func (n *Node) addPartLocked(o *op, seq uint64, k, r int, data []float32) {
	p := o.parts[k]
	if p == nil {
		p = make([][]float32, n.world)
		o.parts[k] = p
	}
	p[r] = data
	for _, x := range p {
		if x == nil {
			return
		}
	}
	if !o.opened {
		return // reduced when the local call brings this rank's share
	}
	sum := make([]float32, len(p[0]))
	copy(sum, p[0])
	for _, x := range p[1:] {
		for i, v := range x {
			sum[i] += v
		}
	}
	w := float32(n.world)
	for i := range sum {
		sum[i] /= w
	}
	delete(o.parts, k)
	for peer := range n.peers {
		if peer != n.rank {
			n.sendLocked(peer, &frame{Kind: kSum, Seq: seq, Index: int32(k), Total: int64(o.total), Floats: sum})
		}
	}
	copy(o.buf[n.buckets(o.total)[k].lo:], sum)
	o.left--
}

// onCollectiveLocked handles a peer's Part, Sum, Chunk or Row.
func (n *Node) onCollectiveLocked(f *frame) {
	var k opKind
	switch f.Kind {
	case kPart, kSum:
		k = opReduce
	case kChunk:
		k = opBroadcast
	case kRow:
		k = opGather
	default:
		return
	}
	if f.Seq <= n.seq && n.ops[f.Seq] == nil {
		return // a collective this rank already finished (or failed)
	}
	o, err := n.opLocked(f.Seq, k)
	if err != nil {
		n.failLocked(err)
		return
	}
	if o.total != 0 && int64(o.total) != f.Total {
		n.failLocked(fmt.Errorf("dist: %s %d: this rank has %d elements, rank %d has %d: the ranks' models differ", k, f.Seq, o.total, f.Rank, f.Total))
		return
	}
	o.total = int(f.Total)
	switch f.Kind {
	case kPart:
		if bs := n.buckets(o.total); int(f.Index) >= len(bs) || bs[f.Index].owner != n.rank {
			n.failLocked(fmt.Errorf("dist: rank %d sent bucket %d to rank %d, which does not own it", f.Rank, f.Index, n.rank))
			return
		}
		n.addPartLocked(o, f.Seq, int(f.Index), int(f.Rank), f.Floats)
	case kSum:
		bs := n.buckets(o.total)
		if o.buf == nil || int(f.Index) >= len(bs) || bs[f.Index].hi-bs[f.Index].lo != len(f.Floats) {
			n.failLocked(fmt.Errorf("dist: all-reduce %d: unexpected result for bucket %d from rank %d", f.Seq, f.Index, f.Rank))
			return
		}
		copy(o.buf[bs[f.Index].lo:], f.Floats)
		o.left--
	case kChunk:
		if o.chunks == nil {
			o.chunks = make([][]byte, f.Count)
		}
		if int(f.Index) >= len(o.chunks) || o.chunks[f.Index] != nil {
			n.failLocked(fmt.Errorf("dist: broadcast %d: bad chunk %d of %d", f.Seq, f.Index, len(o.chunks)))
			return
		}
		o.chunks[f.Index] = f.Bytes
		o.got++
		if o.got == len(o.chunks) {
			o.finish()
		}
		return
	case kRow:
		if o.rows == nil {
			o.rows = make([][]float32, n.world)
		}
		o.rows[f.Rank] = f.Floats
		n.checkGatherLocked(o)
		return
	}
	if o.opened && o.left == 0 {
		o.finish()
	}
}

// checkOpsLocked fails the node when a peer has left while a collective
// still needs it.
func (n *Node) checkOpsLocked() {
	for seq, o := range n.ops {
		if o.opened && !o.closed {
			for r, b := range n.bye {
				if b {
					n.failLocked(fmt.Errorf("dist: rank %d left during %s %d", r, o.kind, seq))
					return
				}
			}
		}
	}
}

// wait blocks until o completes or the node fails.
func (n *Node) wait(o *op, seq uint64) error {
	select {
	case <-o.done:
	case <-n.failed:
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.ops, seq)
	if !o.closed {
		return n.err
	}
	return nil
}

// Broadcast returns rank 0's data on every rank; data is ignored on the
// others. Large data travels in chunks of the bucket size (in bytes ×4).
func (n *Node) Broadcast(data []byte) ([]byte, error) {
	if n.world == 1 {
		return data, n.Err()
	}
	n.mu.Lock()
	if n.err != nil {
		defer n.mu.Unlock()
		return nil, n.err
	}
	n.seq++
	seq := n.seq
	o, err := n.opLocked(seq, opBroadcast)
	if err != nil {
		n.failLocked(err)
		n.mu.Unlock()
		return nil, err
	}
	o.opened = true
	if n.rank == 0 {
		chunk := 4 * n.cfg.BucketElems
		count := max(1, (len(data)+chunk-1)/chunk)
		for i := 0; i < count; i++ {
			part := data[i*chunk : min((i+1)*chunk, len(data))]
			for r := 1; r < n.world; r++ {
				n.sendLocked(r, &frame{Kind: kChunk, Seq: seq, Index: int32(i), Count: int32(count), Total: int64(len(data)), Bytes: part})
			}
		}
		o.finish()
	}
	n.mu.Unlock()
	if err := n.wait(o, seq); err != nil {
		return nil, err
	}
	if n.rank == 0 {
		return data, nil
	}
	out := make([]byte, 0, o.total)
	for _, c := range o.chunks {
		out = append(out, c...)
	}
	return out, nil
}

// AllGather returns every rank's row, in rank order; rows must have the
// same length on every rank (MMSelfSup's concat_all_gather).
func (n *Node) AllGather(row []float32) ([][]float32, error) {
	if n.world == 1 {
		return [][]float32{row}, n.Err()
	}
	n.mu.Lock()
	if n.err != nil {
		defer n.mu.Unlock()
		return nil, n.err
	}
	n.seq++
	seq := n.seq
	o, err := n.opLocked(seq, opGather)
	if err != nil {
		n.failLocked(err)
		n.mu.Unlock()
		return nil, err
	}
	if o.total != 0 && o.total != len(row) {
		err := fmt.Errorf("dist: all-gather %d: rows of %d and %d elements", seq, len(row), o.total)
		n.failLocked(err)
		n.mu.Unlock()
		return nil, err
	}
	o.opened, o.total = true, len(row)
	if o.rows == nil {
		o.rows = make([][]float32, n.world)
	}
	o.rows[n.rank] = append([]float32(nil), row...)
	for r := range n.peers {
		if r != n.rank {
			n.sendLocked(r, &frame{Kind: kRow, Seq: seq, Total: int64(len(row)), Floats: row})
		}
	}
	n.checkGatherLocked(o)
	n.mu.Unlock()
	if err := n.wait(o, seq); err != nil {
		return nil, err
	}
	return o.rows, nil
}

func (n *Node) checkGatherLocked(o *op) {
	if !o.opened {
		return
	}
	for _, r := range o.rows {
		if r == nil {
			return
		}
	}
	o.finish()
}
