package actors

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flowssl/flowssl/data"
)

// A Sampler.Plan gives each epoch's order; the Loader hands out nothing
// of an epoch before its plan arrives, however far ahead the Batcher
// asks, and a nil plan falls back to the sampler's own order.
func TestLoaderWaitsForEpochPlan(t *testing.T) {
	release := make(chan struct{})
	var step1Before atomic.Bool
	var released atomic.Bool
	plan := func(e int) <-chan EpochPlan {
		ch := make(chan EpochPlan, 1)
		switch e {
		case 1:
			go func() {
				<-release
				released.Store(true)
				ch <- EpochPlan{Indices: []int{5, 5, 4, 3, 2, 1, 0, 9, 9}} // cut to N = 6
			}()
		default:
			ch <- EpochPlan{}
		}
		return ch
	}
	aug := fakeAug(nil, nil, nil)
	watch := AugmentFunc(func(s data.Sample, epoch int) ([]View, []int64, error) {
		if epoch == 1 && !released.Load() {
			step1Before.Store(true)
		}
		return aug(s, epoch)
	})
	st := &recStepper{}
	go func() {
		time.Sleep(300 * time.Millisecond) // epoch 0 is long done by now
		close(release)
	}()
	s := Sampler{N: 6, BatchSize: 2, World: 1, Plan: plan}
	runFake(t, 2, Options{Source: fakeSource{n: 6}, Augmenter: watch, Stepper: st, Sampler: s, MaxEpochs: 3, Prefetch: 4})
	if step1Before.Load() {
		t.Fatal("a sample of epoch 1 was augmented before its plan arrived")
	}
	var got [3][]int
	for _, b := range st.batches {
		got[b.Epoch] = append(got[b.Epoch], b.Indices...)
	}
	want := [3][]int{s.Order(0), {5, 5, 4, 3, 2, 1}, s.Order(2)}
	if !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) || !slices.Equal(got[2], want[2]) {
		t.Fatalf("orders %v, want %v", got, want)
	}

	// A bad plan ends the run with an error naming the epoch.
	bad := Sampler{N: 6, BatchSize: 2, World: 1, Plan: func(e int) <-chan EpochPlan {
		ch := make(chan EpochPlan, 1)
		ch <- EpochPlan{Indices: []int{0, 1}}
		return ch
	}}
	err := Run(context.Background(), Options{Source: fakeSource{n: 6}, Augmenter: aug, Stepper: &recStepper{}, Sampler: bad, Workers: 1, Prefetch: 2, MaxEpochs: 1})
	if err == nil || !strings.Contains(err.Error(), "epoch 0 plan") {
		t.Fatalf("short plan: err %v", err)
	}
}
