package model

import (
	"testing"

	"github.com/flowssl/flowssl/internal/torchx"
)

// mirrorRank stands in for a two-rank run whose other rank holds the
// negated row.
type mirrorRank struct{ calls int }

func (m *mirrorRank) World() int { return 2 }
func (m *mirrorRank) Rank() int  { return 0 }

// AllReduceMean: the other rank holds −buf, so the mean is 0.
func (m *mirrorRank) AllReduceMean(buf []float32) error {
	clear(buf)
	return nil
}
func (m *mirrorRank) Broadcast(b []byte) ([]byte, error) { return b, nil }
func (m *mirrorRank) AllGather(row []float32) ([][]float32, error) {
	m.calls++
	neg := make([]float32, len(row))
	for i, v := range row {
		neg[i] = -v
	}
	return [][]float32{row, neg}, nil
}

// With two ranks, MoCo enqueues both ranks' keys (rank order) and
// advances the pointer by the global batch, as MMSelfSup's
// _dequeue_and_enqueue after concat_all_gather.
func TestMoCoEnqueuesEveryRanksKeys(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(3)
		a, _ := algoBuild(t, mocoCfg(8, 0.99))
		m := a.(*MoCo)
		before, err := torchx.Float32s(m.queue) // 16 × 8, row-major
		if err != nil {
			return err
		}
		c := &mirrorRank{}
		m.SetCollective(c)
		v := randViews(2, 32)
		defer algoDropAll(v)
		l, err := m.TrainStep(&StepInput{Views: v})
		if err != nil {
			return err
		}
		l.Drop()
		after, err := torchx.Float32s(m.queue)
		if err != nil {
			return err
		}
		// Gathers: key images and keys (batch shuffle), then the enqueue.
		if ptr := m.queuePtr.Int64Values()[0]; ptr != 4 || c.calls != 3 {
			t.Fatalf("queue_ptr %d after one step of 2 × 2 keys (gathers %d), want 4 (3)", ptr, c.calls)
		}
		for d := 0; d < 16; d++ {
			row := after[d*8 : d*8+8]
			for j := 0; j < 2; j++ {
				if row[j] == before[d*8+j] || row[j+2] != -row[j] {
					t.Fatalf("feature %d: slots %v: rank 1's keys (negated) should follow rank 0's", d, row[:4])
				}
			}
			for j := 4; j < 8; j++ {
				if row[j] != before[d*8+j] {
					t.Fatalf("feature %d slot %d changed beyond the gathered batch", d, j)
				}
			}
		}
		// queue_len must divide by the global batch.
		m2, _ := algoBuild(t, mocoCfg(6, 0.99))
		m2.(*MoCo).SetCollective(c)
		if _, err := m2.TrainStep(&StepInput{Views: v}); err == nil {
			t.Fatal("queue_len 6 with a global batch of 4: no error")
		}
		return nil
	})
}
