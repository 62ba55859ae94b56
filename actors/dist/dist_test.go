package dist

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// group starts world nodes on loopback: rank 0 first, then the joiners
// concurrently.
func group(t testing.TB, world int, mod func(r int, c *Config)) []*Node {
	t.Helper()
	cfg := func(r int) Config {
		c := Config{World: world, Rank: r, Token: "s3cret", Heartbeat: 100 * time.Millisecond, Timeout: 2 * time.Second,
			JoinTimeout: 20 * time.Second, BucketElems: 1000, Payload: []byte("config text")}
		if mod != nil {
			mod(r, &c)
		}
		return c
	}
	nodes := make([]*Node, world)
	errs := make([]error, world)
	var wg sync.WaitGroup
	c0 := cfg(0)
	wg.Add(1)
	go func() {
		defer wg.Done()
		nodes[0], errs[0] = Start(context.Background(), c0)
	}()
	addr := c0.Bind // the caller fixes the coordinator's port (freeAddr)
	for r := 1; r < world; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			c := cfg(r)
			c.Join = addr
			nodes[r], errs[r] = Start(context.Background(), c)
		}(r)
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.shutdown()
		}
	})
	return nodes
}

// freeAddr reserves a loopback port for a coordinator.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func withCoordinator(addr string, more func(r int, c *Config)) func(r int, c *Config) {
	return func(r int, c *Config) {
		if r == 0 {
			c.Bind = addr
		}
		if more != nil {
			more(r, c)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	f := &frame{Kind: kWelcome, Session: 7, Rank: 2, World: 3, Seq: 9, Index: 4, Count: 5, Total: -1, Text: "tok",
		Addr: "127.0.0.1:1", Addrs: []string{"a", "", "c"}, Ints: []int64{1, -2}, Floats: []float32{1.5, float32(math.Inf(-1))},
		Bytes: []byte{0, 1, 2}}
	g, err := decode(f.encode().Value)
	if err != nil {
		t.Fatal(err)
	}
	if g.Kind != f.Kind || g.Session != 7 || g.Rank != 2 || g.World != 3 || g.Seq != 9 || g.Index != 4 || g.Count != 5 ||
		g.Total != -1 || g.Text != "tok" || g.Addr != f.Addr || strings.Join(g.Addrs, ",") != "a,,c" || g.Ints[1] != -2 ||
		g.Floats[0] != 1.5 || !math.IsInf(float64(g.Floats[1]), -1) || string(g.Bytes) != "\x00\x01\x02" {
		t.Fatalf("round trip: %+v", g)
	}
	for _, cut := range []int{0, 1, 10, len(f.encode().Value) - 1} {
		if _, err := decode(f.encode().Value[:cut]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", cut)
		}
	}
}

// inputs gives rank r a buffer whose float32 sums depend on order.
func inputs(r, n int) []float32 {
	b := make([]float32, n)
	for i := range b {
		b[i] = float32(math.Sin(float64(i*(r+3)))) * float32(math.Pow(10, float64((i+r)%7-3)))
	}
	return b
}

// Three ranks: every rank gets the mean summed in rank order (bit for
// bit, the reference computed here), broadcast and all-gather carry rank
// 0's bytes and every row in rank order.
func TestCollectives(t *testing.T) {
	const world, n = 3, 4500 // 5 buckets of 1000, the last partial
	nodes := group(t, world, withCoordinator(freeAddr(t), nil))
	want := make([]float32, n)
	for i := range want {
		s := inputs(0, n)[i]
		for r := 1; r < world; r++ {
			s += inputs(r, n)[i]
		}
		want[i] = s / world
	}
	for round := 0; round < 3; round++ {
		bufs := make([][]float32, world)
		errs := make([]error, world)
		blobs := make([][]byte, world)
		rows := make([][][]float32, world)
		var wg sync.WaitGroup
		big := make([]byte, 9000) // 3 chunks of 4000 bytes
		for i := range big {
			big[i] = byte(i * 7)
		}
		for r, nd := range nodes {
			wg.Add(1)
			go func(r int, nd *Node) {
				defer wg.Done()
				bufs[r] = inputs(r, n)
				if errs[r] = nd.AllReduceMean(bufs[r]); errs[r] != nil {
					return
				}
				var data []byte
				if r == 0 {
					data = big
				}
				if blobs[r], errs[r] = nd.Broadcast(data); errs[r] != nil {
					return
				}
				rows[r], errs[r] = nd.AllGather([]float32{float32(r), float32(10 * r)})
			}(r, nd)
		}
		wg.Wait()
		for r := range nodes {
			if errs[r] != nil {
				t.Fatalf("round %d rank %d: %v", round, r, errs[r])
			}
			for i := range want {
				if math.Float32bits(bufs[r][i]) != math.Float32bits(want[i]) {
					t.Fatalf("round %d rank %d element %d: %v, want %v (rank-order sum)", round, r, i, bufs[r][i], want[i])
				}
			}
			if string(blobs[r]) != string(big) {
				t.Fatalf("rank %d: broadcast differs (%d bytes)", r, len(blobs[r]))
			}
			for q, row := range rows[r] {
				if len(row) != 2 || row[0] != float32(q) || row[1] != float32(10*q) {
					t.Fatalf("rank %d: all-gather row %d = %v", r, q, row)
				}
			}
		}
	}
	for _, nd := range nodes {
		if string(nd.Payload()) != "config text" || nd.World() != world || len(nd.Members()) != world {
			t.Fatalf("rank %d: payload %q world %d members %v", nd.Rank(), nd.Payload(), nd.World(), nd.Members())
		}
		if s := nd.Stats(); s.AllReduces != 3 || s.AllReduceElems != 3*n {
			t.Fatalf("rank %d stats %+v", nd.Rank(), s)
		}
	}
	var wg sync.WaitGroup
	for _, nd := range nodes {
		wg.Add(1)
		go func(nd *Node) {
			defer wg.Done()
			if err := nd.Close(nil); err != nil {
				t.Errorf("rank %d close: %v", nd.Rank(), err)
			}
		}(nd)
	}
	wg.Wait()
}

// A node with the wrong token is refused and told why; a node with the
// right one still joins afterwards.
func TestWrongTokenRefused(t *testing.T) {
	addr := freeAddr(t)
	coord := make(chan error, 1)
	var n0 *Node
	go func() {
		var err error
		n0, err = Start(context.Background(), Config{World: 2, Rank: 0, Bind: addr, Token: "right", JoinTimeout: 20 * time.Second})
		coord <- err
	}()
	_, err := Start(context.Background(), Config{Rank: -1, Join: addr, Token: "wrong", JoinTimeout: 10 * time.Second})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "wrong cluster token") {
		t.Fatalf("wrong token: %v, want a refusal naming the token", err)
	}
	n1, err := Start(context.Background(), Config{Rank: -1, Join: addr, Token: "right", JoinTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-coord; err != nil {
		t.Fatal(err)
	}
	if n1.Rank() != 1 || n1.World() != 2 {
		t.Fatalf("joined as rank %d of %d", n1.Rank(), n1.World())
	}
	n1.shutdown()
	n0.shutdown()
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{World: 2}, "token"},
		{Config{World: 2, Rank: 1, Token: "x"}, "coordinator's address"},
		{Config{World: 2, Rank: 2, Token: "x", Join: "127.0.0.1:1"}, "rank 2 of world 2"},
		{Config{World: 2, Token: "x", Bind: "nohost"}, "--bind"},
		{Config{World: 2, Token: "x", Heartbeat: time.Second, Timeout: time.Second}, "two heartbeats"},
	} {
		_, err := Start(context.Background(), c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

// A rank that vanishes without a goodbye (its process killed) makes the
// other fail within the timeout, with the error naming it.
func TestPeerDeathDetected(t *testing.T) {
	nodes := group(t, 2, withCoordinator(freeAddr(t), nil))
	buf := inputs(0, 10)
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- nodes[0].AllReduceMean(buf) }()
	// Kill rank 1 abruptly: no Bye, no Abort.
	nodes[1].closeOnce.Do(func() {
		nodes[1].rem.Shutdown(false)
		nodes[1].sys.Shutdown()
	})
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "rank 1") {
			t.Fatalf("err %v, want one naming rank 1", err)
		}
		if el := time.Since(t0); el > 3*time.Second {
			t.Fatalf("detected after %s, timeout is 2s", el)
		}
		t.Logf("detected in %s: %v", time.Since(t0).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("all-reduce still waiting 10s after the peer died")
	}
	select {
	case <-nodes[0].Done():
	default:
		t.Fatal("Done not closed")
	}
}

// An error on one rank (Close with the error) stops the others at once.
func TestAbortPropagates(t *testing.T) {
	nodes := group(t, 2, withCoordinator(freeAddr(t), nil))
	done := make(chan error, 1)
	go func() { done <- nodes[1].AllReduceMean(make([]float32, 5)) }()
	_ = nodes[0].Close(errors.New("loss is nan"))
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "rank 0") || !strings.Contains(err.Error(), "loss is nan") {
			t.Fatalf("err %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no abort")
	}
}

// writeCert makes a self-signed CA-capable certificate for 127.0.0.1.
func writeCert(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// With TLS the collectives work; a node without TLS, or with a
// certificate the cluster's CA did not sign, never gets in.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "cluster")
	files := &TLSFiles{Cert: cert, Key: key, CA: cert}
	addr := freeAddr(t)
	nodes := group(t, 2, withCoordinator(addr, func(_ int, c *Config) { c.TLS = files }))
	var wg sync.WaitGroup
	bufs := [][]float32{{1, 2}, {3, 5}}
	for r, nd := range nodes {
		wg.Add(1)
		go func(r int, nd *Node) {
			defer wg.Done()
			if err := nd.AllReduceMean(bufs[r]); err != nil {
				t.Error(err)
			}
		}(r, nd)
	}
	wg.Wait()
	if bufs[1][0] != 2 || bufs[1][1] != 3.5 {
		t.Fatalf("over TLS: %v", bufs[1])
	}
	strayCert, strayKey := writeCert(t, dir, "stray")
	for name, tlsf := range map[string]*TLSFiles{"plain": nil, "foreign cert": {Cert: strayCert, Key: strayKey, CA: cert}} {
		_, err := Start(context.Background(), Config{Rank: -1, Join: addr, Token: "s3cret", TLS: tlsf, JoinTimeout: 1500 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "no answer") {
			t.Fatalf("%s node: %v, want no answer", name, err)
		}
	}
}

// A peer that is alive but cut off (here: frozen, so it neither answers
// nor sends heartbeats, and its connections stay open) is declared dead
// after the timeout.
func TestSilentPeerTimesOut(t *testing.T) {
	nodes := group(t, 2, withCoordinator(freeAddr(t), nil))
	nodes[1].mu.Lock()
	defer nodes[1].mu.Unlock()
	t0 := time.Now()
	err := nodes[0].AllReduceMean(make([]float32, 3))
	el := time.Since(t0)
	if err == nil || !strings.Contains(err.Error(), "silent") || !strings.Contains(err.Error(), "rank 1") {
		t.Fatalf("err %v", err)
	}
	if el < time.Second || el > 3*time.Second {
		t.Fatalf("failed after %s, want the 2s timeout plus at most a heartbeat", el)
	}
}

// When not every node joins in time, the coordinator gives up and tells
// the nodes that did join, which stop at once instead of at their own
// timeout.
func TestJoinTimeout(t *testing.T) {
	addr := freeAddr(t)
	coord := make(chan error, 1)
	go func() {
		_, err := Start(context.Background(), Config{World: 3, Rank: 0, Bind: addr, Token: "k", JoinTimeout: 2 * time.Second})
		coord <- err
	}()
	t0 := time.Now()
	_, err := Start(context.Background(), Config{Rank: -1, Join: addr, Token: "k", JoinTimeout: 30 * time.Second})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "only 2 of 3 nodes joined") {
		t.Fatalf("joined node: %v", err)
	}
	if el := time.Since(t0); el > 10*time.Second {
		t.Fatalf("joined node waited %s", el)
	}
	if err := <-coord; err == nil || !strings.Contains(err.Error(), "only 2 of 3") {
		t.Fatalf("coordinator: %v", err)
	}
}
