package actors

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/flowssl/flowssl/model"
)

// peerOf stands in for a second rank whose gradient is peer: the mean
// of this rank's buffer and peer, summed in rank order as actors/dist does.
type peerOf struct {
	peer  []float32
	calls int
}

func (p *peerOf) Rank() int  { return 0 }
func (p *peerOf) World() int { return 2 }
func (p *peerOf) AllReduceMean(buf []float32) error {
	p.calls++
	if len(buf) != len(p.peer) {
		return fmt.Errorf("buffer of %d, peer has %d", len(buf), len(p.peer))
	}
	for i := range buf {
		buf[i] = (buf[i] + p.peer[i]) / 2
	}
	return nil
}
func (p *peerOf) Broadcast(b []byte) ([]byte, error) { return b, nil }
func (p *peerOf) AllGather(row []float32) ([][]float32, error) {
	return [][]float32{row, row}, nil
}

// allReduceGrads flattens the defined gradients in parameter order, skips
// the undefined ones, and writes the mean back in place; repeated calls
// do not leak.
func TestAllReduceGrads(t *testing.T) {
	pin := model.NewPinned()
	defer pin.Close()
	err := pin.Do(func() error {
		vs := nn.NewVarStore(gotch.CPU)
		root := vs.Root()
		w := root.MustOnes("w", []int64{2, 3})
		b := root.MustZeros("b", []int64{3})
		unused := root.MustZeros("unused", []int64{4})
		// 256 KiB of gradient: a leaked copy per call would show in RSS.
		big := root.MustOnes("big", []int64{256, 256})
		params := []model.Param{{Name: "w", T: w}, {Name: "unused", T: unused}, {Name: "big", T: big}, {Name: "b", T: b}}
		step := func() error {
			// loss = sum(w * c) + sum(b * 2): grad w = c, grad b = 2.
			c, err := torchx.FromFloat32s([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
			if err != nil {
				return err
			}
			defer c.MustDrop()
			wc := w.MustMul(c, false)
			defer wc.MustDrop()
			b2 := b.MustMulScalar(ts.FloatScalar(2), false)
			defer b2.MustDrop()
			l1 := wc.MustSum(gotch.Float, false)
			defer l1.MustDrop()
			l2 := b2.MustSum(gotch.Float, false)
			defer l2.MustDrop()
			l3 := big.MustSum(gotch.Float, false)
			defer l3.MustDrop()
			l12 := l1.MustAdd(l2, false)
			defer l12.MustDrop()
			loss := l12.MustAdd(l3, false)
			defer loss.MustDrop()
			return loss.Backward()
		}
		zero := func() {
			for _, p := range []*ts.Tensor{w, big, b} {
				g := p.MustGrad(false)
				g.MustZero_()
				g.MustDrop()
			}
		}
		peer := append([]float32{3, 2, 1, 0, -1, -2}, make([]float32, 256*256)...) // w, big
		d := &peerOf{peer: append(peer, 10, 20, 30)}                               // b
		if err := step(); err != nil {
			return err
		}
		if err := allReduceGrads(d, params); err != nil {
			return err
		}
		want := map[string][]float32{"w": {2, 2, 2, 2, 2, 2}, "b": {6, 11, 16}}
		for _, p := range []model.Param{params[0], params[3]} {
			g := p.T.MustGrad(false)
			got, err := torchx.Float32s(g)
			g.MustDrop()
			if err != nil {
				return err
			}
			if fmt.Sprint(got) != fmt.Sprint(want[p.Name]) {
				return fmt.Errorf("grad %s = %v, want %v", p.Name, got, want[p.Name])
			}
		}
		g := big.MustGrad(false)
		got, err := torchx.Float32s(g)
		g.MustDrop()
		if err != nil {
			return err
		}
		for i, v := range got {
			if v != 0.5 {
				return fmt.Errorf("grad big[%d] = %v, want 0.5", i, v)
			}
		}
		// Leak check: RSS after 400 more reductions grows less than 4 MiB;
		// one leaked 256 KiB gradient copy per call would add 100 MiB.
		for i := 0; i < 50; i++ {
			zero()
			if err := step(); err != nil {
				return err
			}
			if err := allReduceGrads(d, params); err != nil {
				return err
			}
		}
		// Each call also leaves a 256 KiB Go buffer for the collector; how
		// much garbage the heap may hold before a GC depends on what earlier
		// tests left live, so collect and return it before both readings.
		settle := func() { runtime.GC(); debug.FreeOSMemory() }
		settle()
		before := rssKiB(t)
		for i := 0; i < 400; i++ {
			zero()
			if err := step(); err != nil {
				return err
			}
			if err := allReduceGrads(d, params); err != nil {
				return err
			}
		}
		settle()
		if grew := rssKiB(t) - before; grew > 4096 {
			return fmt.Errorf("RSS grew %d KiB over 400 all-reduces", grew)
		}
		if d.calls != 451 {
			return fmt.Errorf("%d all-reduce calls, want 451", d.calls)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPrimaryOnly(t *testing.T) {
	c := &CheckpointConfig{Dir: "x"}
	if primaryOnly(c, nil) != c || primaryOnly(c, &peerOf{}) != c {
		t.Fatal("rank 0 / single process lost its checkpoints")
	}
	if primaryOnly(c, &rank1{}) != nil {
		t.Fatal("rank 1 would write checkpoints")
	}
}

type rank1 struct{ peerOf }

func (*rank1) Rank() int { return 1 }

func rssKiB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	var size, res int
	if _, err := fmt.Sscan(string(b), &size, &res); err != nil {
		t.Fatal(err)
	}
	return res * os.Getpagesize() / 1024
}
