package actors

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

func TestMetricsRoundTripAndTable(t *testing.T) {
	m := NewMetrics()
	a := m.Stage("augment", 2)
	tr := m.Stage("trainer", 1)
	for i := 0; i < 10; i++ {
		a.in.Add(1)
		a.lat.add(time.Duration(i+1) * time.Millisecond)
	}
	a.busy.Add(int64(time.Second))
	a.SetDepth(3)
	tr.AddWait(500 * time.Millisecond)
	var buf bytes.Buffer
	if err := m.WritePrometheus(&buf); err != nil {
		t.Fatal(err)
	}
	s, err := ParseMetrics(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Values["flowssl_actor_messages_in_total"]["augment"]; got != 10 {
		t.Fatalf("in = %v", got)
	}
	if got := s.Values["flowssl_actor_queue_depth"]["augment"]; got != 3 {
		t.Fatalf("queue = %v", got)
	}
	if got := s.Values["flowssl_actor_queue_depth"]["trainer"]; got != -1 {
		t.Fatalf("trainer queue = %v, want -1 (none)", got)
	}
	if got := s.Values["flowssl_actor_latency_seconds{0.5}"]["augment"]; got != 0.005 {
		t.Fatalf("p50 = %v, want 5ms", got)
	}
	if got := s.Values["flowssl_actor_latency_seconds{0.99}"]["augment"]; got != 0.010 {
		t.Fatalf("p99 = %v, want 10ms", got)
	}
	// A second scrape one (virtual) second later: rates and busy fractions.
	prev := *s
	prev.At = s.At.Add(-time.Second)
	prev.Values = map[string]map[string]float64{}
	for k, v := range s.Values {
		prev.Values[k] = map[string]float64{}
		for st, x := range v {
			prev.Values[k][st] = x
		}
	}
	prev.Values["flowssl_actor_messages_in_total"]["augment"] = 0
	prev.Values["flowssl_actor_busy_seconds_total"]["augment"] = 0
	prev.Values["flowssl_actor_wait_seconds_total"]["trainer"] = 0
	var out bytes.Buffer
	if err := WriteTable(&out, &prev, s); err != nil {
		t.Fatal(err)
	}
	txt := out.String()
	for _, want := range []string{"augment", "10.0", "50%", "trainer"} {
		if !strings.Contains(txt, want) {
			t.Errorf("table lacks %q:\n%s", want, txt)
		}
	}
	if strings.Index(txt, "augment") > strings.Index(txt, "trainer") {
		t.Errorf("stages not in pipeline order:\n%s", txt)
	}
}

func TestBottleneck(t *testing.T) {
	t0 := time.Now()
	prev := []Snapshot{{Name: "augment", Workers: 2, At: t0}, {Name: "trainer", Workers: 1, At: t0}}
	cur := []Snapshot{{Name: "augment", Workers: 2, Busy: 1860 * time.Millisecond, At: t0.Add(time.Second)},
		{Name: "trainer", Workers: 1, Busy: 600 * time.Millisecond, Wait: 400 * time.Millisecond, At: t0.Add(time.Second)}}
	if got := Bottleneck(prev, cur); got != "augment 93% busy, trainer waiting 40%" {
		t.Fatalf("got %q", got)
	}
}

// A handler still running when a snapshot is taken counts the part that has
// elapsed; before, a step straddling two log intervals was charged wholly to
// the second, which then read "trainer 253% busy".
func TestBusyCountsHandlersInFlight(t *testing.T) {
	s := NewMetrics().Stage("trainer", 1)
	release := make(chan struct{})
	done := make(chan struct{})
	recv := s.receive(func(actor.ReceiverContext, *actor.MessageEnvelope) { <-release })
	go func() {
		recv(nil, &actor.MessageEnvelope{Message: "step"})
		close(done)
	}()
	time.Sleep(150 * time.Millisecond)
	mid := s.Snapshot()
	if mid.Busy < 100*time.Millisecond || mid.Busy > time.Second {
		t.Fatalf("busy %v while a handler has run about 150 ms", mid.Busy)
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	<-done
	end := s.Snapshot()
	if end.Busy < mid.Busy+50*time.Millisecond || end.In != 1 {
		t.Fatalf("after the handler: busy %v (mid %v), in %d", end.Busy, mid.Busy, end.In)
	}
	if b := Busy(mid, end); b > 1.05 {
		t.Fatalf("busy fraction %.2f over an interval the one worker spent in one handler", b)
	}
	if again := s.Snapshot(); again.Busy != end.Busy {
		t.Fatalf("idle stage's busy moved from %v to %v", end.Busy, again.Busy)
	}
}
