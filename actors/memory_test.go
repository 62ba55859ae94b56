package actors

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// slowWrite is an update that takes delay and then sets *dst.
type slowWrite struct {
	dst   *[]int
	v     int
	delay time.Duration
	err   error
}

func (m slowWrite) apply() (any, error) {
	time.Sleep(m.delay)
	if m.err != nil {
		return nil, m.err
	}
	*m.dst = append(*m.dst, m.v)
	return nil, nil
}

// readAll is a request answering a copy of *src.
type readAll struct{ src *[]int }

func (m readAll) apply() (any, error) { return append([]int(nil), *m.src...), nil }

// The Memory actor protocol: an update returns to the step at once while
// the actor works on it; a later request is answered only after every
// earlier update has landed (MMSelfSup's order); a failing update fails the
// run, a failing request returns its error to the asker; after stop the
// client refuses.
func TestMemoryActorOrderingAndNonBlocking(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	props := func(st *Stage, p actor.Producer) *actor.Props { return actor.PropsFromProducer(p, st.Props()...) }
	failed := make(chan error, 1)
	var state []int
	closed := false
	c, stop, err := spawnMemory(sys.Root, props, NewMetrics().Stage("memory", 1), func(err error) { failed <- err },
		func() error { return nil }, func() { closed = true })
	if err != nil {
		t.Fatal(err)
	}
	const delay = 200 * time.Millisecond
	t0 := time.Now()
	for i := 1; i <= 3; i++ {
		if err := c.tell(slowWrite{dst: &state, v: i, delay: delay}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d > delay/2 {
		t.Fatalf("three updates held the sender for %v; each should return at once", d)
	}
	v, err := c.ask(readAll{&state})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.([]int); len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("request answered %v, want every earlier update [1 2 3] applied in order", got)
	}
	if d := time.Since(t0); d < 3*delay {
		t.Fatalf("request answered after %v, before the three updates (%v) could have landed", d, 3*delay)
	}
	if err := c.tell(slowWrite{dst: &state, err: errors.New("bad row")}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		if !strings.Contains(err.Error(), "bad row") {
			t.Fatalf("failed with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a failing update did not fail the run")
	}
	if _, err := c.ask(slowWrite{dst: &state, err: errors.New("bad ask")}); err == nil || !strings.Contains(err.Error(), "bad ask") {
		t.Fatalf("failing request returned %v", err)
	}
	stop()
	if !closed {
		t.Fatal("stop did not close the memory on its thread")
	}
	if _, err := c.ask(readAll{&state}); !errors.Is(err, errMemoryStopped) {
		t.Fatalf("ask after stop: %v", err)
	}
}
