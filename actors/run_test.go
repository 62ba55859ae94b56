package actors

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowssl/flowssl/augment"
	"github.com/flowssl/flowssl/data"
)

// fakeSource yields 1×1 images whose pixel is the index.
type fakeSource struct {
	n   int
	bad map[int]bool
}

func (f fakeSource) Len() int { return f.n }
func (f fakeSource) Get(i int) (data.Sample, error) {
	return data.Sample{Index: i, Label: i % 3, Name: fmt.Sprint("img", i), Image: &augment.Image{W: 1, H: 1, C: 1, Pix: []uint8{uint8(i)}}}, nil
}
func (f fakeSource) Labels() []int        { return nil }
func (f fakeSource) ClassNames() []string { return nil }

// fakeAug makes two views per sample from the index, the epoch and a
// worker-independent value, and sleeps a little out of order so workers
// finish out of order.
func fakeAug(bad map[int]bool, active, maxActive *atomic.Int64) AugmentFunc {
	return func(s data.Sample, epoch int) ([]View, []int64, error) {
		if active != nil {
			n := active.Add(1)
			defer active.Add(-1)
			for {
				m := maxActive.Load()
				if n <= m || maxActive.CompareAndSwap(m, n) {
					break
				}
			}
		}
		if bad[s.Index] {
			return nil, nil, errors.New("truncated JPEG")
		}
		time.Sleep(time.Duration((s.Index*7)%5) * 100 * time.Microsecond)
		v := float32(s.Image.Pix[0]) + 1000*float32(epoch)
		return []View{{C: 1, H: 1, W: 2, Data: []float32{v, -v}}, {C: 1, H: 1, W: 1, Data: []float32{v + 0.5}}}, []int64{int64(s.Index), 1}, nil
	}
}

type recStepper struct {
	mu      sync.Mutex
	batches []*Batch
	epochs  []int
	delay   time.Duration
	failAt  int
}

func (r *recStepper) Step(b *Batch) error {
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAt > 0 && b.GlobalIter == r.failAt {
		return errors.New("loss is NaN")
	}
	r.batches = append(r.batches, b)
	return nil
}

func (r *recStepper) EpochEnd(e int) error { r.epochs = append(r.epochs, e); return nil }

func runFake(t *testing.T, workers int, o Options) *recStepper {
	t.Helper()
	st := o.Stepper.(*recStepper)
	o.Workers = workers
	if o.Prefetch == 0 {
		o.Prefetch = 2
	}
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRunOrderAndContent(t *testing.T) {
	var seqs [][]float32
	for _, workers := range []int{1, 3} {
		st := runFake(t, workers, Options{
			Source: fakeSource{n: 10}, Augmenter: fakeAug(nil, nil, nil), Stepper: &recStepper{},
			Sampler:   Sampler{N: 10, BatchSize: 4, Shuffle: true, Seed: 1, World: 1},
			MaxEpochs: 2,
		})
		if len(st.batches) != 6 {
			t.Fatalf("%d workers: %d batches, want 6 (3 per epoch)", workers, len(st.batches))
		}
		if !slices.Equal(st.epochs, []int{0, 1}) {
			t.Fatalf("epoch ends %v", st.epochs)
		}
		var seq []float32
		for i, b := range st.batches {
			if b.GlobalIter != i || b.Iter != i%3 || b.Epoch != i/3 {
				t.Fatalf("batch %d numbered %d/%d/%d", i, b.Epoch, b.Iter, b.GlobalIter)
			}
			if b.LastInEpoch != (i%3 == 2) {
				t.Fatalf("batch %d LastInEpoch=%v", i, b.LastInEpoch)
			}
			v0, v1 := b.Views[0], b.Views[1]
			if v0.N != len(b.Indices) || v0.W != 2 || len(v0.Data) != v0.N*2 || v1.N != v0.N {
				t.Fatalf("batch %d views %+v %+v", i, v0, v1)
			}
			for j, idx := range b.Indices {
				want := float32(idx) + 1000*float32(b.Epoch)
				if v0.Data[2*j] != want || v0.Data[2*j+1] != -want || v1.Data[j] != want+0.5 {
					t.Fatalf("batch %d sample %d (index %d): views do not belong to it", i, j, idx)
				}
				if b.Labels[j] != idx%3 || b.ViewLabels[0][j] != int64(idx) {
					t.Fatalf("batch %d sample %d: labels %v %v", i, j, b.Labels, b.ViewLabels)
				}
			}
			seq = append(seq, v0.Data...)
		}
		// Each epoch covers every index once, in the sampler's order.
		s := Sampler{N: 10, BatchSize: 4, Shuffle: true, Seed: 1, World: 1}
		var got []int
		for _, b := range st.batches[:3] {
			got = append(got, b.Indices...)
		}
		if !slices.Equal(got, s.Order(0)) {
			t.Fatalf("epoch 0 order %v, sampler says %v", got, s.Order(0))
		}
		seqs = append(seqs, seq)
	}
	if !slices.Equal(seqs[0], seqs[1]) {
		t.Fatal("1 and 3 workers gave different batches")
	}
}

func TestRunResumeMidEpoch(t *testing.T) {
	full := runFake(t, 2, Options{Source: fakeSource{n: 12}, Augmenter: fakeAug(nil, nil, nil), Stepper: &recStepper{},
		Sampler: Sampler{N: 12, BatchSize: 4, Shuffle: true, Seed: 5, World: 1}, MaxEpochs: 3})
	part := runFake(t, 2, Options{Source: fakeSource{n: 12}, Augmenter: fakeAug(nil, nil, nil), Stepper: &recStepper{},
		Sampler: Sampler{N: 12, BatchSize: 4, Shuffle: true, Seed: 5, World: 1}, MaxEpochs: 3, StartEpoch: 1, StartIter: 4})
	if len(part.batches) != 5 {
		t.Fatalf("resumed run stepped %d batches, want 5", len(part.batches))
	}
	for i, b := range part.batches {
		f := full.batches[4+i]
		if b.GlobalIter != f.GlobalIter || !slices.Equal(b.Indices, f.Indices) || !slices.Equal(b.Views[0].Data, f.Views[0].Data) {
			t.Fatalf("resumed batch %d differs from the uninterrupted run", b.GlobalIter)
		}
	}
}

func TestRunMaxItersAcrossEpochs(t *testing.T) {
	st := runFake(t, 2, Options{Source: fakeSource{n: 8}, Augmenter: fakeAug(nil, nil, nil), Stepper: &recStepper{},
		Sampler: Sampler{N: 8, BatchSize: 4, World: 1}, MaxIters: 5})
	if len(st.batches) != 5 || st.batches[4].Epoch != 2 {
		t.Fatalf("%d batches, last epoch %d; want 5 ending in epoch 2", len(st.batches), st.batches[len(st.batches)-1].Epoch)
	}
}

func TestRunSkipsBadImages(t *testing.T) {
	var skipped atomic.Int64
	st := runFake(t, 2, Options{Source: fakeSource{n: 8}, Augmenter: fakeAug(map[int]bool{3: true}, nil, nil), Stepper: &recStepper{},
		Sampler: Sampler{N: 8, BatchSize: 4, World: 1}, MaxEpochs: 1, SkipBad: true,
		OnSkip: func(err error) { skipped.Add(1) }})
	if skipped.Load() != 1 {
		t.Fatalf("OnSkip called %d times, want 1", skipped.Load())
	}
	if len(st.batches) != 2 || len(st.batches[0].Indices) != 3 || st.batches[0].Skipped != 1 {
		t.Fatalf("batches %d, first has %d samples", len(st.batches), len(st.batches[0].Indices))
	}
	// With on_bad_image: error the run fails and names the sample.
	err := Run(context.Background(), Options{Source: fakeSource{n: 8}, Augmenter: fakeAug(map[int]bool{3: true}, nil, nil), Stepper: &recStepper{},
		Sampler: Sampler{N: 8, BatchSize: 4, World: 1}, MaxEpochs: 1, Workers: 2, Prefetch: 1})
	if err == nil || !contains(err.Error(), "sample 3 (img3)") {
		t.Fatalf("err = %v, want one naming sample 3", err)
	}
}

func TestRunStepErrorStops(t *testing.T) {
	err := Run(context.Background(), Options{Source: fakeSource{n: 40}, Augmenter: fakeAug(nil, nil, nil), Stepper: &recStepper{failAt: 3},
		Sampler: Sampler{N: 40, BatchSize: 4, World: 1}, MaxEpochs: 5, Workers: 2, Prefetch: 2})
	if err == nil || !contains(err.Error(), "NaN") {
		t.Fatalf("err = %v", err)
	}
}

// With a slow trainer, the work in flight stays within prefetch batches:
// the Batcher's ready queue and every mailbox stay bounded, and the heap
// does not grow with the run.
func TestRunBackpressureSlowTrainer(t *testing.T) {
	m := NewMetrics()
	var active, maxActive atomic.Int64
	stop := make(chan struct{})
	var maxReady, maxMailbox atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			for _, s := range m.Stages() {
				sn := s.Snapshot()
				if sn.Name == "batcher" && sn.Depth > maxReady.Load() {
					maxReady.Store(sn.Depth)
				}
				if sn.Mailbox > maxMailbox.Load() {
					maxMailbox.Store(sn.Mailbox)
				}
			}
		}
	}()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	st := &recStepper{delay: 3 * time.Millisecond}
	err := Run(context.Background(), Options{Source: fakeSource{n: 64}, Augmenter: fakeAug(nil, &active, &maxActive), Stepper: st,
		Sampler: Sampler{N: 64, BatchSize: 4, World: 1}, MaxEpochs: 4, Workers: 3, Prefetch: 2, Metrics: m})
	close(stop)
	if err != nil {
		t.Fatal(err)
	}
	st.batches = nil
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	if r := maxReady.Load(); r > 2 {
		t.Fatalf("batcher held %d ready batches, prefetch is 2", r)
	}
	// Mailboxes: credits, demands and at most prefetch×batch views in flight.
	if mb := maxMailbox.Load(); mb > 2*4+4 {
		t.Fatalf("a mailbox reached %d messages", mb)
	}
	if a := maxActive.Load(); a > 3 {
		t.Fatalf("%d augment calls at once with 3 workers", a)
	}
	if grow := int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc); grow > 4<<20 {
		t.Fatalf("heap grew by %d bytes over the run", grow)
	}
	for _, s := range m.Stages() {
		sn := s.Snapshot()
		if sn.Name == "trainer" && sn.In != 64 {
			t.Fatalf("trainer handled %d messages, want 64 batches", sn.In)
		}
	}
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	st := &recStepper{delay: 2 * time.Millisecond}
	go func() {
		// Cancel once a few batches went through, however slow the machine.
		for {
			st.mu.Lock()
			n := len(st.batches)
			st.mu.Unlock()
			if n >= 3 {
				cancel()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := Run(ctx, Options{Source: fakeSource{n: 1000}, Augmenter: fakeAug(nil, nil, nil), Stepper: st,
		Sampler: Sampler{N: 1000, BatchSize: 4, World: 1}, MaxEpochs: 100, Workers: 2, Prefetch: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	st.mu.Lock()
	n := len(st.batches)
	st.mu.Unlock()
	// 100 epochs are 25000 batches: the run stopped within a few of the cancel.
	if n < 3 || n > 50 {
		t.Fatalf("%d batches stepped; the cancel came after 3", n)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
