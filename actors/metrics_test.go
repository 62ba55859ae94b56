package actors

import (
	"bytes"
	"strings"
	"testing"
	"time"
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
