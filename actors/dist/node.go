package dist

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// actorName is the well-known name of every node's endpoint actor.
const actorName = "flowssl-dist"

// maxMessage bounds one gRPC message: remote batches queued messages, so
// several buckets may travel together.
const maxMessage = 1 << 30

// window is gRPC's per-stream and per-connection flow-control window.
const window = 64 << 20

// ErrRefused wraps the coordinator's reason for turning a joiner away.
var ErrRefused = errors.New("dist: refused by the coordinator")

// Node is one rank of a multi-process run. Its collectives are safe for
// one caller at a time (the training thread).
type Node struct {
	cfg   Config
	sys   *actor.ActorSystem
	rem   *remote.Remote
	sub   *eventstream.Subscription
	addr  string // this node's advertised address
	ctx   context.Context
	stopc context.CancelFunc

	mu       sync.Mutex
	rank     int
	world    int
	session  uint64
	addrs    []string // by rank
	peers    []*actor.PID
	payload  []byte
	joined   chan struct{} // closed when the member list is known
	lastSeen []time.Time
	bye      []bool
	err      error
	failed   chan struct{}
	ops      map[uint64]*op
	seq      uint64
	// coordinator only, while forming
	joiners map[string]int // advertised address → rank

	stats     Stats
	closeOnce sync.Once
	closing   *atomic.Bool // mutes protoactor's log
}

// Stats counts what the collectives moved.
type Stats struct {
	AllReduces     int
	AllReduceElems int64         // float32 elements reduced, summed over calls
	AllReduceTime  time.Duration // wall time inside AllReduceMean
	BytesSent      int64         // collective payload bytes this node sent
	// AllReduceBytesSent is the part of BytesSent that all-reduces sent.
	AllReduceBytesSent int64
}

// Start opens the node's listener and forms the group: the coordinator
// (rank 0) waits until World-1 nodes have joined, a joiner until the
// coordinator welcomes or refuses it. ctx bounds the whole run: when it
// is done, the node fails with ctx's error.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	host, port, err := splitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("--bind: %w", err)
	}
	// Gradients are tens of MB a step: windows of 64 MiB spare HTTP/2
	// flow control most of its round trips.
	serverOpts := []grpc.ServerOption{grpc.MaxRecvMsgSize(maxMessage), grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window),
		grpc.ReadBufferSize(1 << 20), grpc.WriteBufferSize(1 << 20)}
	dialOpts := []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
		grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window), grpc.WithReadBufferSize(1 << 20), grpc.WithWriteBufferSize(1 << 20)}
	if cfg.TLS != nil {
		srv, cli, err := cfg.TLS.tlsConfigs()
		if err != nil {
			return nil, err
		}
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(srv)))
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(credentials.NewTLS(cli)))
	} else {
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	remoteOpts := []remote.ConfigOption{remote.WithServerOptions(serverOpts...), remote.WithDialOptions(dialOpts...)}
	if cfg.Advertise != "" {
		if _, _, err := splitHostPort(cfg.Advertise); err != nil {
			return nil, fmt.Errorf("--advertise: %w", err)
		}
		remoteOpts = append(remoteOpts, remote.WithAdvertisedHost(cfg.Advertise))
	}
	closing := &atomic.Bool{}
	logger := slog.New(remoteLog{cfg.Logger.Handler(), closing})
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	rem := remote.NewRemote(sys, remote.Configure(host, port, remoteOpts...))
	if err := startRemote(rem); err != nil {
		sys.Shutdown()
		return nil, fmt.Errorf("--bind %s: %w", cfg.Bind, err)
	}
	nctx, cancel := context.WithCancel(ctx)
	n := &Node{cfg: cfg, sys: sys, rem: rem, addr: sys.Address(), ctx: nctx, stopc: cancel, rank: cfg.Rank, world: cfg.World, closing: closing,
		joined: make(chan struct{}), failed: make(chan struct{}), ops: map[uint64]*op{}, joiners: map[string]int{}}
	if _, err := sys.Root.SpawnNamed(actor.PropsFromFunc(n.receive), actorName); err != nil {
		n.shutdown()
		return nil, fmt.Errorf("dist: %w", err)
	}
	n.sub = sys.EventStream.Subscribe(n.onEvent)
	go func() {
		<-nctx.Done()
		n.fail(fmt.Errorf("dist: %w", context.Cause(nctx)))
	}()
	if err := n.form(); err != nil {
		n.shutdown()
		return nil, err
	}
	go n.heartbeats()
	return n, nil
}

// startRemote turns remote.Start's panic on a failed listen into an error.
func startRemote(r *remote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	r.Start()
	return nil
}

// Addr is the address peers reach this node on.
func (n *Node) Addr() string { return n.addr }

// Rank is this node's rank.
func (n *Node) Rank() int { return n.rank }

// World is the number of ranks.
func (n *Node) World() int { return n.world }

// Members lists the ranks' addresses.
func (n *Node) Members() []string { return append([]string(nil), n.addrs...) }

// Payload is what the coordinator sent with the member list (its own
// Config.Payload on rank 0).
func (n *Node) Payload() []byte { return n.payload }

// Done is closed when the node fails.
func (n *Node) Done() <-chan struct{} { return n.failed }

// Err is the failure, or nil.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// Stats returns the collectives' counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// form runs the join protocol.
func (n *Node) form() error {
	if n.rank == 0 {
		n.mu.Lock()
		n.addrs = make([]string, n.world)
		n.addrs[0] = n.addr
		n.payload = n.cfg.Payload
		var sid [8]byte
		_, _ = rand.Read(sid[:])
		n.session = binary.LittleEndian.Uint64(sid[:]) | 1
		if n.world == 1 {
			n.membersKnownLocked()
		}
		n.mu.Unlock()
		n.cfg.Logger.Info("dist: coordinator waiting for nodes", "addr", n.addr, "world", n.world)
	} else {
		hello := &frame{Kind: kHello, Rank: int32(n.rank), World: int32(n.world), Text: n.cfg.Token, Addr: n.addr}
		coord := actor.NewPID(n.cfg.Join, actorName)
		// Resent until answered: the coordinator may still be starting,
		// and remote drops what it cannot deliver.
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				n.sys.Root.Send(coord, hello.encode())
				select {
				case <-n.joined:
					return
				case <-n.failed:
					return
				case <-t.C:
				}
			}
		}()
	}
	select {
	case <-n.joined:
		return nil
	case <-n.failed:
		return n.Err()
	case <-time.After(n.cfg.JoinTimeout):
		if n.rank == 0 {
			n.mu.Lock()
			err := fmt.Errorf("dist: only %d of %d nodes joined within %s", len(n.joiners)+1, n.world, n.cfg.JoinTimeout)
			// Those that did join learn it now rather than at their own timeout.
			for addr := range n.joiners {
				n.sys.Root.Send(actor.NewPID(addr, actorName), (&frame{Kind: kRefused, Text: err.Error()}).encode())
			}
			n.mu.Unlock()
			time.Sleep(200 * time.Millisecond) // let remote deliver the refusals
			return err
		}
		return fmt.Errorf("dist: no answer from the coordinator at %s within %s", n.cfg.Join, n.cfg.JoinTimeout)
	}
}

// membersKnownLocked finishes forming once addrs is complete.
func (n *Node) membersKnownLocked() {
	n.peers = make([]*actor.PID, n.world)
	n.lastSeen = make([]time.Time, n.world)
	n.bye = make([]bool, n.world)
	now := time.Now()
	for r, a := range n.addrs {
		n.peers[r] = actor.NewPID(a, actorName)
		n.lastSeen[r] = now
	}
	close(n.joined)
}

// receive is the endpoint actor: it decodes and dispatches.
func (n *Node) receive(c actor.Context) {
	bv, ok := c.Message().(*wrapperspb.BytesValue)
	if !ok {
		return
	}
	f, err := decode(bv.Value)
	if err != nil {
		n.cfg.Logger.Warn("dist: dropped a malformed message", "err", err)
		return
	}
	n.handle(f)
}

func (n *Node) handle(f *frame) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch f.Kind {
	case kHello:
		n.onHelloLocked(f)
		return
	case kWelcome:
		n.onWelcomeLocked(f)
		return
	case kRefused:
		if n.rank != 0 && n.session == 0 {
			n.failLocked(fmt.Errorf("%w at %s: %s", ErrRefused, n.cfg.Join, f.Text))
		}
		return
	}
	if n.session == 0 || f.Session != n.session || f.Rank < 0 || int(f.Rank) >= n.world || int(f.Rank) == n.rank {
		n.cfg.Logger.Warn("dist: dropped a message from outside the session", "kind", f.Kind.String())
		return
	}
	n.lastSeen[f.Rank] = time.Now()
	switch f.Kind {
	case kHeartbeat:
	case kBye:
		n.bye[f.Rank] = true
		n.checkOpsLocked()
	case kAbort:
		n.failLocked(fmt.Errorf("dist: rank %d (%s) stopped: %s", f.Rank, n.addrs[f.Rank], f.Text))
	default:
		n.onCollectiveLocked(f)
	}
}

// onHelloLocked is the coordinator's side of joining.
func (n *Node) onHelloLocked(f *frame) {
	if n.rank != 0 || f.Addr == "" {
		return
	}
	to := actor.NewPID(f.Addr, actorName)
	refuse := func(why string) {
		n.cfg.Logger.Warn("dist: refused a node", "addr", f.Addr, "reason", why)
		n.sys.Root.Send(to, (&frame{Kind: kRefused, Text: why}).encode())
	}
	if subtle.ConstantTimeCompare([]byte(f.Text), []byte(n.cfg.Token)) != 1 {
		refuse("wrong cluster token")
		return
	}
	if int(f.World) != n.world && f.World != 0 {
		refuse(fmt.Sprintf("world size %d, the run has %d", f.World, n.world))
		return
	}
	if r, ok := n.joiners[f.Addr]; ok {
		if n.peers != nil {
			n.sys.Root.Send(to, n.welcomeLocked(r).encode())
		}
		return
	}
	if n.peers != nil {
		refuse(fmt.Sprintf("the run is full (%d nodes)", n.world))
		return
	}
	want := int(f.Rank)
	if want < 0 {
		for r := 1; r < n.world; r++ {
			if n.addrs[r] == "" {
				want = r
				break
			}
		}
	}
	switch {
	case want <= 0 || want >= n.world:
		refuse(fmt.Sprintf("rank %d is not in 1..%d", f.Rank, n.world-1))
		return
	case n.addrs[want] != "":
		refuse(fmt.Sprintf("rank %d is taken by %s", want, n.addrs[want]))
		return
	}
	n.addrs[want] = f.Addr
	n.joiners[f.Addr] = want
	n.cfg.Logger.Info("dist: node joined", "rank", want, "addr", f.Addr)
	if len(n.joiners) < n.world-1 {
		return
	}
	n.membersKnownLocked()
	for addr, r := range n.joiners {
		n.sys.Root.Send(actor.NewPID(addr, actorName), n.welcomeLocked(r).encode())
	}
}

func (n *Node) welcomeLocked(rank int) *frame {
	return &frame{Kind: kWelcome, Session: n.session, Rank: int32(rank), World: int32(n.world), Addrs: n.addrs,
		Ints:  []int64{int64(n.cfg.BucketElems), n.cfg.Heartbeat.Milliseconds(), n.cfg.Timeout.Milliseconds()},
		Bytes: n.payload}
}

// onWelcomeLocked is the joiner's side.
func (n *Node) onWelcomeLocked(f *frame) {
	if n.rank == 0 || n.session != 0 || len(f.Addrs) != int(f.World) || len(f.Ints) != 3 || f.Session == 0 {
		return
	}
	if int(f.Rank) >= len(f.Addrs) || f.Addrs[f.Rank] != n.addr {
		return
	}
	n.session, n.rank, n.world = f.Session, int(f.Rank), int(f.World)
	n.addrs = f.Addrs
	n.payload = f.Bytes
	n.cfg.BucketElems = int(f.Ints[0])
	n.cfg.Heartbeat = time.Duration(f.Ints[1]) * time.Millisecond
	n.cfg.Timeout = time.Duration(f.Ints[2]) * time.Millisecond
	n.membersKnownLocked()
}

// send frames f for rank r, stamping session and sender.
func (n *Node) sendLocked(r int, f *frame) {
	f.Session, f.Rank = n.session, int32(n.rank)
	n.stats.BytesSent += int64(4*len(f.Floats) + len(f.Bytes))
	if f.Kind == kPart || f.Kind == kSum {
		n.stats.AllReduceBytesSent += int64(4 * len(f.Floats))
	}
	n.sys.Root.Send(n.peers[r], f.encode())
}

// heartbeats tells every peer this node is alive and fails the node when
// a peer has been silent for longer than the timeout.
func (n *Node) heartbeats() {
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-n.failed:
			return
		case <-t.C:
		}
		n.mu.Lock()
		now := time.Now()
		for r := range n.peers {
			if r == n.rank || n.bye[r] {
				continue
			}
			if silent := now.Sub(n.lastSeen[r]); silent > n.cfg.Timeout {
				n.failLocked(fmt.Errorf("dist: rank %d (%s) silent for %s (timeout %s): the node died or the network cut it off",
					r, n.addrs[r], silent.Round(time.Millisecond), n.cfg.Timeout))
				break
			}
			n.sendLocked(r, &frame{Kind: kHeartbeat})
		}
		n.mu.Unlock()
	}
}

// onEvent fails the node when remote loses the connection to a peer that
// has not said goodbye.
func (n *Node) onEvent(ev any) {
	t, ok := ev.(*remote.EndpointTerminatedEvent)
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.peers == nil {
		return
	}
	for r, a := range n.addrs {
		if a == t.Address && r != n.rank && !n.bye[r] {
			n.failLocked(fmt.Errorf("dist: lost the connection to rank %d (%s)", r, a))
		}
	}
}

func (n *Node) fail(err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failLocked(err)
}

func (n *Node) failLocked(err error) {
	if n.err != nil {
		return
	}
	n.err = err
	close(n.failed)
	if !n.closing.Load() {
		n.cfg.Logger.Error("dist: node failed", "err", err)
	}
}

// Close leaves the run. With a nil err it says goodbye and waits (up to
// the timeout) for every peer's goodbye, so that nothing still in flight
// is cut off; with an error it tells the peers to stop. Close returns the
// node's own failure if it had one.
func (n *Node) Close(err error) error {
	n.closing.Store(true)
	n.mu.Lock()
	failed := n.err
	if n.peers != nil && failed == nil {
		for r := range n.peers {
			if r == n.rank {
				continue
			}
			if err != nil {
				n.sendLocked(r, &frame{Kind: kAbort, Text: err.Error()})
			} else {
				n.sendLocked(r, &frame{Kind: kBye})
			}
		}
	}
	n.mu.Unlock()
	if failed == nil {
		deadline := time.Now().Add(n.cfg.Timeout)
		for err == nil && time.Now().Before(deadline) && !n.allGone() {
			select {
			case <-n.failed:
				deadline = time.Now()
			case <-time.After(20 * time.Millisecond):
			}
		}
		// Let the endpoint writers flush the goodbye or the abort.
		time.Sleep(200 * time.Millisecond)
	}
	n.shutdown()
	return failed
}

func (n *Node) allGone() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for r, b := range n.bye {
		if r != n.rank && !b {
			return false
		}
	}
	return true
}

func (n *Node) shutdown() { n.closeOnce.Do(n.shutdownOnce) }

func (n *Node) shutdownOnce() {
	n.closing.Store(true)
	n.fail(errors.New("dist: node closed"))
	if n.stopc != nil {
		n.stopc()
	}
	if n.sub != nil {
		n.sys.EventStream.Unsubscribe(n.sub)
	}
	n.rem.Shutdown(false)
	n.sys.Shutdown()
}
