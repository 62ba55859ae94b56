package dist

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"
)

// Defaults for Config's zero values.
const (
	DefaultBind        = "127.0.0.1:0"
	DefaultHeartbeat   = 500 * time.Millisecond
	DefaultTimeout     = 10 * time.Second
	DefaultJoinTimeout = 5 * time.Minute
	// DefaultBucketElems is 1 Mi float32 (4 MiB) per bucket: big enough
	// that per-message overhead is small, small enough that owners start
	// summing while later buckets are still on the wire.
	DefaultBucketElems = 1 << 20
)

// Config describes one node of a run.
type Config struct {
	// World is the number of ranks; the coordinator's value is the one
	// that counts (a joiner with another one is refused).
	World int
	// Rank is this node's rank: 0 makes it the coordinator; -1 on a
	// joiner lets the coordinator assign the lowest free rank.
	Rank int
	// Bind is the host:port to listen on (default 127.0.0.1:0, loopback
	// only: listening elsewhere must be asked for).
	Bind string
	// Advertise is the host:port peers dial (default: the bound address).
	Advertise string
	// Join is the coordinator's address; required unless Rank is 0.
	Join string
	// Token is the cluster's shared secret, required.
	Token string
	// TLS, if set, encrypts and authenticates every connection (mutual
	// TLS: both sides present a certificate the CA signed).
	TLS *TLSFiles
	// Heartbeat and Timeout bound failure detection: a peer silent for
	// Timeout fails the node. The coordinator's values are adopted by all.
	Heartbeat, Timeout time.Duration
	// JoinTimeout bounds the wait for the member list.
	JoinTimeout time.Duration
	// BucketElems is the all-reduce bucket size in float32 elements
	// (coordinator's value adopted by all).
	BucketElems int
	// Payload is what the coordinator hands to every joiner (Node.Payload).
	Payload []byte
	// Logger receives protoactor's and this package's log lines; nil
	// discards them.
	Logger *slog.Logger
}

// TLSFiles names PEM files for mutual TLS between nodes.
type TLSFiles struct {
	Cert, Key string // this node's certificate and key
	CA        string // the CA that signed every node's certificate
}

func (c *Config) defaults() error {
	if c.Bind == "" {
		c.Bind = DefaultBind
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = DefaultJoinTimeout
	}
	if c.BucketElems <= 0 {
		c.BucketElems = DefaultBucketElems
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Token == "":
		return errors.New("dist: a cluster token is required (--token or FLOWSSL_TOKEN)")
	case c.Rank == 0 && c.World < 1:
		return fmt.Errorf("dist: world size %d", c.World)
	case c.Rank != 0 && c.Join == "":
		return fmt.Errorf("dist: rank %d needs the coordinator's address to join", c.Rank)
	case c.Rank < -1 || (c.World > 0 && c.Rank >= c.World):
		return fmt.Errorf("dist: rank %d of world %d", c.Rank, c.World)
	case c.Timeout < 2*c.Heartbeat:
		return fmt.Errorf("dist: timeout %s must be at least two heartbeats (%s)", c.Timeout, c.Heartbeat)
	}
	return nil
}

// splitHostPort parses host:port with a numeric port.
func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("dist: address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("dist: address %q: bad port", addr)
	}
	return host, port, nil
}

// tlsConfigs loads the server and client sides of mutual TLS.
func (t *TLSFiles) tlsConfigs() (server, client *tls.Config, err error) {
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("dist: --tls-cert/--tls-key: %w", err)
	}
	pem, err := os.ReadFile(t.CA)
	if err != nil {
		return nil, nil, fmt.Errorf("dist: --tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("dist: --tls-ca %s: no PEM certificate", t.CA)
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13}
	client = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS13}
	return server, client, nil
}
