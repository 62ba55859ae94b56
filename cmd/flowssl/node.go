package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/actors/dist"
	"github.com/flowssl/flowssl/configs"
)

func init() { extraCommands = append(extraCommands, nodeCmd) }

// distFlags are the multi-node flags of `train` (rank 0) and `node`.
type distFlags struct {
	nodes, rank               int
	bind, advertise, join     string
	token                     string
	tlsCert, tlsKey, tlsCA    string
	heartbeat, timeout, joinT time.Duration

	started *dist.Node // set by `node`, which joins before it knows the config
}

func (d *distFlags) register(fl *pflag.FlagSet, node bool) {
	if node {
		fl.StringVar(&d.join, "join", "", "the coordinator's (rank 0's) address, host:port (required)")
		fl.IntVar(&d.rank, "rank", -1, "this node's rank (default: the lowest free one)")
		fl.StringVar(&d.bind, "bind", "127.0.0.1:0", "address to listen on for the other nodes")
	} else {
		fl.IntVar(&d.nodes, "nodes", 1, "train on this many nodes: this process is rank 0 and waits for the others (`flowssl node --join`)")
		fl.StringVar(&d.bind, "bind", "127.0.0.1:29500", "with --nodes > 1: address rank 0 listens on")
		fl.DurationVar(&d.heartbeat, "heartbeat", dist.DefaultHeartbeat, "with --nodes > 1: heartbeat interval between nodes")
		fl.DurationVar(&d.timeout, "peer-timeout", dist.DefaultTimeout, "with --nodes > 1: a node silent this long stops the run")
	}
	fl.StringVar(&d.advertise, "advertise", "", "address the other nodes dial to reach this one (default: the bound address)")
	fl.StringVar(&d.token, "token", "", "cluster token every node must present (default $FLOWSSL_TOKEN)")
	fl.StringVar(&d.tlsCert, "tls-cert", "", "PEM certificate for mutual TLS between nodes (with --tls-key and --tls-ca)")
	fl.StringVar(&d.tlsKey, "tls-key", "", "PEM key of --tls-cert")
	fl.StringVar(&d.tlsCA, "tls-ca", "", "PEM CA that signed every node's certificate")
	fl.DurationVar(&d.joinT, "join-timeout", dist.DefaultJoinTimeout, "how long to wait for the other nodes to join")
}

// config builds the dist configuration from the flags.
func (d *distFlags) config(world, rank int, payload []byte) (dist.Config, error) {
	c := dist.Config{World: world, Rank: rank, Bind: d.bind, Advertise: d.advertise, Join: d.join, Token: d.token,
		Heartbeat: d.heartbeat, Timeout: d.timeout, JoinTimeout: d.joinT, Payload: payload}
	if c.Token == "" {
		c.Token = os.Getenv("FLOWSSL_TOKEN")
	}
	switch n := btoi(d.tlsCert != "") + btoi(d.tlsKey != "") + btoi(d.tlsCA != ""); n {
	case 0:
	case 3:
		c.TLS = &dist.TLSFiles{Cert: d.tlsCert, Key: d.tlsKey, CA: d.tlsCA}
	default:
		return c, errors.New("--tls-cert, --tls-key and --tls-ca go together")
	}
	return c, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runPayload is what rank 0 tells the nodes: the resolved config and the
// flags that must agree across ranks.
type runPayload struct {
	Name          string `json:"name"`
	Config        string `json:"config"` // resolved YAML (print-config's)
	Seed          int64  `json:"seed"`
	Deterministic bool   `json:"deterministic"`
	OnBadImage    string `json:"on_bad_image"`
	// ChannelsLast is rank 0's --channels-last when given; otherwise each
	// node takes its own device's default.
	ChannelsLast *bool `json:"channels_last,omitempty"`
}

// distRun is a started multi-node membership (or none).
type distRun struct {
	node *dist.Node
	log  *slog.Logger
}

// setup joins this process to the run when it is one: `train --nodes N`
// starts rank 0 and waits for the others; `node` has already joined. The
// returned context is cancelled when a node fails, so the dataflow stops
// even between all-reduces.
func (d *distFlags) setup(ctx context.Context, config string, cfg *configs.Config, f trainFlags, log *slog.Logger) (context.Context, *distRun, error) {
	n := d.started
	if n == nil {
		if d.nodes <= 1 {
			return ctx, &distRun{}, nil
		}
		text, err := configs.Dump(cfg, "yaml")
		if err != nil {
			return nil, nil, err
		}
		payload, err := json.Marshal(runPayload{Name: strings.TrimSuffix(filepath.Base(config), filepath.Ext(config)),
			Config: string(text), Seed: f.seed, Deterministic: f.deterministic, OnBadImage: f.onBad,
			ChannelsLast: f.channelsLastGiven()})
		if err != nil {
			return nil, nil, err
		}
		c, err := d.config(d.nodes, 0, payload)
		if err != nil {
			return nil, nil, err
		}
		c.Logger = log
		fmt.Fprintf(os.Stderr, "flowssl: rank 0 of %d waiting for nodes on %s\n", d.nodes, d.bind)
		if n, err = dist.Start(ctx, c); err != nil {
			return nil, nil, err
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-n.Done():
			cancel(n.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, &distRun{node: n, log: log}, nil
}

// dist is the Setup.Dist value (a nil interface when single-process).
func (r *distRun) dist() actors.Distributed {
	if r.node == nil {
		return nil
	}
	return r.node
}

// close leaves the run and turns a failure caused by another node into
// that node's error, which says what happened.
func (r *distRun) close(err error) error {
	if r.node == nil {
		return err
	}
	nodeErr := r.node.Err()
	if s := r.node.Stats(); s.AllReduces > 0 && r.log != nil {
		r.log.Info("dist: gradient all-reduce", "steps", s.AllReduces,
			"mb_per_step", float64(s.AllReduceElems)*4/1e6/float64(s.AllReduces),
			"ms_per_step", float64(s.AllReduceTime.Milliseconds())/float64(s.AllReduces),
			"mb_sent_per_step", float64(s.AllReduceBytesSent)/1e6/float64(s.AllReduces))
	}
	if cerr := r.node.Close(err); cerr != nil && nodeErr == nil {
		nodeErr = cerr
	}
	if nodeErr != nil {
		return fmt.Errorf("rank %d: %w", r.node.Rank(), nodeErr)
	}
	return err
}

func nodeCmd() *cobra.Command {
	var d distFlags
	var f trainFlags
	c := &cobra.Command{
		Use:   "node",
		Short: "Join a multi-node training run started with `flowssl train CONFIG --nodes N`",
		Long: "node joins rank 0 at --join with the cluster token, receives the run's resolved config, seed and\n" +
			"flags from it, and trains its shard of the data: same weights on every node, gradients averaged\n" +
			"every step, checkpoints written by rank 0 only. MoCo and DenseCL shuffle the key batch across the\n" +
			"nodes and enqueue every node's keys, MoCo v3, SimCLR and Barlow Twins contrast or correlate over\n" +
			"every node's batch, SwAV's Sinkhorn-Knopp sums over every node's batch, NPID and ODC gather each\n" +
			"step's memory update, DeepCluster (sync) and ODC extract the dataset in shards and cluster on\n" +
			"rank 0, and SyncBN layers use the statistics of every node's batch (actors/dist's package doc\n" +
			"lists what crosses the nodes). Logs go to --work-dir (default work_dirs/<config name>/rank<R>).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if d.join == "" {
				return errors.New("--join: the coordinator's address is required")
			}
			c, err := d.config(0, d.rank, nil)
			if err != nil {
				return err
			}
			if c.Rank == 0 {
				return errors.New("--rank 0 is the coordinator: start it with `flowssl train CONFIG --nodes N`")
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			n, err := dist.Start(ctx, c)
			if err != nil {
				return err
			}
			var p runPayload
			if err := json.Unmarshal(n.Payload(), &p); err != nil {
				return (&distRun{node: n}).close(fmt.Errorf("rank 0's run description: %w", err))
			}
			if f.workDir == "" {
				f.workDir = filepath.Join("work_dirs", p.Name, fmt.Sprintf("rank%d", n.Rank()))
			}
			if err := os.MkdirAll(f.workDir, 0o755); err != nil {
				return (&distRun{node: n}).close(err)
			}
			// Not the work dir itself: train copies the config there.
			path := filepath.Join(f.workDir, "from-rank0", p.Name+".yaml")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return (&distRun{node: n}).close(err)
			}
			if err := os.WriteFile(path, []byte(p.Config), 0o644); err != nil {
				return (&distRun{node: n}).close(err)
			}
			f.seed, f.deterministic, f.onBad = p.Seed, p.Deterministic, p.OnBadImage
			if p.ChannelsLast != nil {
				f.channelsLast, f.channelsLastSet = *p.ChannelsLast, true
			}
			d.started = n
			f.dist = &d
			return runTrain(cmd, path, f)
		},
	}
	fl := c.Flags()
	d.register(fl, true)
	fl.StringVar(&f.workDir, "work-dir", "", "where this node's logs go (default work_dirs/<config name>/rank<R>)")
	fl.StringVar(&f.device, "device", "cpu", "cpu or cuda[:i]")
	fl.IntVar(&f.workers, "workers", 0, "augment workers (default: data.workers_per_gpu)")
	fl.IntVar(&f.threads, "threads", 0, "libtorch intra-op threads (default: cores left after the workers)")
	fl.IntVar(&f.prefetch, "prefetch", 2, "batches prepared ahead of the training step")
	return c
}
