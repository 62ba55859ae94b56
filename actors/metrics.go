package actors

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Metrics holds one Stage per pipeline stage. Every actor gets the same
// receiver, sender and mailbox middleware from its Stage, so counting stays
// out of actor bodies.
type Metrics struct {
	mu     sync.Mutex
	stages []*Stage
	start  time.Time
	otel   *OTel // nil: protoactor's own metrics are off
}

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics { return &Metrics{start: time.Now()} }

// Stage returns (creating it on first use) the stage called name, whose
// actors number workers.
func (m *Metrics) Stage(name string, workers int) *Stage {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.stages {
		if s.Name == name {
			return s
		}
	}
	s := &Stage{Name: name, Workers: workers, lat: newLatencies(1024)}
	m.stages = append(m.stages, s)
	return s
}

// Stages lists the stages in creation order.
func (m *Metrics) Stages() []*Stage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.stages)
}

// Stage counts one pipeline stage's traffic and time.
type Stage struct {
	Name    string
	Workers int

	in, out, posted, received atomic.Int64
	busy, wait                atomic.Int64 // nanoseconds
	// Handlers still running: their count and the sum of their start times
	// (UnixNano), so a snapshot can count the part of a long handler that
	// has already elapsed. Without it a step that straddles two log
	// intervals is charged wholly to the second, which then reads >100%.
	running, runningSince atomic.Int64
	lastBusy              atomic.Int64 // the busy time of the last snapshot
	depth                 atomic.Int64 // stage-defined gauge (ready batches, open demand)
	hasDepth              atomic.Bool
	lat                   *latencies
}

// Props returns the options that attach s's middleware to an actor.
func (s *Stage) Props() []actor.PropsOption {
	return []actor.PropsOption{
		actor.WithReceiverMiddleware(s.receive),
		actor.WithSenderMiddleware(s.send),
		actor.WithMailbox(actor.Unbounded(s)),
	}
}

func (s *Stage) receive(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		if lifecycle(env.Message) {
			next(c, env)
			return
		}
		t0 := time.Now()
		s.runningSince.Add(t0.UnixNano())
		s.running.Add(1)
		next(c, env)
		d := time.Since(t0)
		s.in.Add(1)
		// busy grows by d while the running sum loses its (now − t0): move
		// both before anyone reads a snapshot in between counts it twice.
		s.busy.Add(int64(d))
		s.running.Add(-1)
		s.runningSince.Add(-t0.UnixNano())
		s.lat.add(d)
	}
}

func (s *Stage) send(next actor.SenderFunc) actor.SenderFunc {
	return func(c actor.SenderContext, target *actor.PID, env *actor.MessageEnvelope) {
		s.out.Add(1)
		next(c, target, env)
	}
}

// MailboxStarted implements actor.MailboxMiddleware.
func (s *Stage) MailboxStarted() {}

// MessagePosted implements actor.MailboxMiddleware.
func (s *Stage) MessagePosted(any) { s.posted.Add(1) }

// MessageReceived implements actor.MailboxMiddleware.
func (s *Stage) MessageReceived(any) { s.received.Add(1) }

// MailboxEmpty implements actor.MailboxMiddleware.
func (s *Stage) MailboxEmpty() {}

// SetDepth records the stage's own queue gauge.
func (s *Stage) SetDepth(n int64) { s.depth.Store(n); s.hasDepth.Store(true) }

// AddWait records time the stage spent waiting for input.
func (s *Stage) AddWait(d time.Duration) { s.wait.Add(int64(d)) }

// Snapshot is a point-in-time copy of a stage's counters.
type Snapshot struct {
	Name       string
	Workers    int
	In, Out    int64
	Mailbox    int64 // messages posted but not yet received
	Depth      int64 // the stage's own gauge, -1 if it has none
	Busy, Wait time.Duration
	P50, P99   time.Duration
	At         time.Time
}

// Snapshot copies the counters.
func (s *Stage) Snapshot() Snapshot {
	d := int64(-1)
	if s.hasDepth.Load() {
		d = s.depth.Load()
	}
	p50, p99 := s.lat.quantiles()
	now := time.Now()
	busy := s.busy.Load()
	if n := s.running.Load(); n > 0 {
		// Elapsed time of the handlers in flight; a handler that finishes
		// between these loads may be counted twice or not at all for one
		// snapshot, which the clamp below and the next snapshot absorb.
		busy += max(0, n*now.UnixNano()-s.runningSince.Load())
	}
	if busy < s.lastBusy.Load() {
		busy = s.lastBusy.Load() // keep the counter monotone for Prometheus
	}
	s.lastBusy.Store(busy)
	return Snapshot{
		Name: s.Name, Workers: s.Workers, In: s.in.Load(), Out: s.out.Load(),
		Mailbox: s.posted.Load() - s.received.Load(), Depth: d,
		Busy: time.Duration(busy), Wait: time.Duration(s.wait.Load()),
		P50: p50, P99: p99, At: now,
	}
}

// Busy returns the fraction of [prev, cur] the stage's actors spent in
// Receive, per worker.
func Busy(prev, cur Snapshot) float64 {
	dt := cur.At.Sub(prev.At)
	if dt <= 0 || cur.Workers == 0 {
		return 0
	}
	return float64(cur.Busy-prev.Busy) / float64(dt) / float64(cur.Workers)
}

// Waiting returns the fraction of [prev, cur] the stage waited for input.
func Waiting(prev, cur Snapshot) float64 {
	dt := cur.At.Sub(prev.At)
	if dt <= 0 {
		return 0
	}
	return float64(cur.Wait-prev.Wait) / float64(dt)
}

// Bottleneck names the busiest stage between two sets of snapshots and how
// long the trainer waited, e.g. "augment 93% busy, trainer waiting 40%".
func Bottleneck(prev, cur []Snapshot) string {
	best, bestBusy := "", -1.0
	wait := 0.0
	for i := range cur {
		if i >= len(prev) {
			break
		}
		b := Busy(prev[i], cur[i])
		if b > bestBusy {
			best, bestBusy = cur[i].Name, b
		}
		if cur[i].Name == "trainer" {
			wait = Waiting(prev[i], cur[i])
		}
	}
	return fmt.Sprintf("%s %.0f%% busy, trainer waiting %.0f%%", best, 100*bestBusy, 100*wait)
}

// WritePrometheus writes the stages in Prometheus' text exposition format.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	var b strings.Builder
	type metric struct {
		name, help, kind string
		val              func(Snapshot) float64
	}
	ms := []metric{
		{"flowssl_actor_messages_in_total", "Messages handled by the stage's actors.", "counter", func(s Snapshot) float64 { return float64(s.In) }},
		{"flowssl_actor_messages_out_total", "Messages sent by the stage's actors.", "counter", func(s Snapshot) float64 { return float64(s.Out) }},
		{"flowssl_actor_mailbox_depth", "Messages posted to the stage's mailboxes and not yet received.", "gauge", func(s Snapshot) float64 { return float64(s.Mailbox) }},
		{"flowssl_actor_queue_depth", "The stage's own queue (ready batches, open demand); -1 if none.", "gauge", func(s Snapshot) float64 { return float64(s.Depth) }},
		{"flowssl_actor_busy_seconds_total", "Time the stage's actors spent handling messages.", "counter", func(s Snapshot) float64 { return s.Busy.Seconds() }},
		{"flowssl_actor_wait_seconds_total", "Time the stage waited for input.", "counter", func(s Snapshot) float64 { return s.Wait.Seconds() }},
		{"flowssl_actor_workers", "Actors in the stage.", "gauge", func(s Snapshot) float64 { return float64(s.Workers) }},
	}
	snaps := make([]Snapshot, 0)
	for _, s := range m.Stages() {
		snaps = append(snaps, s.Snapshot())
	}
	for _, mt := range ms {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", mt.name, mt.help, mt.name, mt.kind)
		for _, s := range snaps {
			fmt.Fprintf(&b, "%s{stage=%q} %g\n", mt.name, s.Name, mt.val(s))
		}
	}
	fmt.Fprintf(&b, "# HELP flowssl_actor_latency_seconds Per-message handling time over the last 1024 messages.\n# TYPE flowssl_actor_latency_seconds summary\n")
	for _, s := range snaps {
		fmt.Fprintf(&b, "flowssl_actor_latency_seconds{stage=%q,quantile=\"0.5\"} %g\n", s.Name, s.P50.Seconds())
		fmt.Fprintf(&b, "flowssl_actor_latency_seconds{stage=%q,quantile=\"0.99\"} %g\n", s.Name, s.P99.Seconds())
	}
	fmt.Fprintf(&b, "# HELP flowssl_uptime_seconds Seconds since the metrics registry was created.\n# TYPE flowssl_uptime_seconds gauge\nflowssl_uptime_seconds %g\n", time.Since(m.start).Seconds())
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if o := m.otelBridge(); o != nil {
		return o.WritePrometheus(w)
	}
	return nil
}

// latencies is a ring of the most recent handling times.
type latencies struct {
	mu  sync.Mutex
	buf []time.Duration
	n   int
}

func newLatencies(size int) *latencies { return &latencies{buf: make([]time.Duration, size)} }

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.buf[l.n%len(l.buf)] = d
	l.n++
	l.mu.Unlock()
}

func (l *latencies) quantiles() (p50, p99 time.Duration) {
	l.mu.Lock()
	k := min(l.n, len(l.buf))
	xs := slices.Clone(l.buf[:k])
	l.mu.Unlock()
	if k == 0 {
		return 0, 0
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	return xs[(k-1)/2], xs[(k*99-1)/100]
}

// lifecycle reports protoactor's own messages, which are not pipeline traffic.
func lifecycle(m any) bool {
	switch m.(type) {
	case actor.SystemMessage, actor.AutoReceiveMessage, *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		return true
	}
	return false
}
