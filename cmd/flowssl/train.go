package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/sugarme/gotch"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/internal/logx"
	"github.com/flowssl/flowssl/model"
)

func init() { extraCommands = append(extraCommands, trainCmd) }

type trainFlags struct {
	workDir, resume, device, metricsAddr, onBad string
	opts                                        []string
	seed                                        int64
	deterministic, autoResume                   bool
	workers, threads, prefetch                  int
	dist                                        *distFlags // multi-node flags (node.go)
	amp                                         string     // --amp
	channelsLast                                bool       // --channels-last
	channelsLastSet                             bool       // --channels-last given (or sent by rank 0)
}

func trainCmd() *cobra.Command {
	var f trainFlags
	c := &cobra.Command{
		Use:   "train CONFIG",
		Short: "Train a self-supervised model from a config",
		Long: "train runs the config's algorithm over its data as a dataflow of actors\n" +
			"(Loader → augment workers → Batcher → Trainer) and writes checkpoints and logs to --work-dir.\n" +
			"The data folder comes from the config (data.train.data_source.data_prefix); override it with\n" +
			"--cfg-options data.train.data_source.data_prefix=DIR.",
		Args: configArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.opts = overrides(f.opts, args)
			return runTrain(cmd, args[0], f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.workDir, "work-dir", "", "where checkpoints and logs go (default work_dirs/<config name>)")
	fl.StringArrayVar(&f.opts, "cfg-options", nil, "override a config key: a.b.c=v (repeatable)")
	fl.StringVar(&f.resume, "resume-from", "", "checkpoint to resume from (weights, optimizer, epoch)")
	fl.BoolVar(&f.autoResume, "auto-resume", false, "resume from the latest checkpoint in the work dir, if any")
	fl.Int64Var(&f.seed, "seed", 0, "random seed")
	fl.BoolVar(&f.deterministic, "deterministic", false, "bit-for-bit repeatable CPU runs (libtorch uses one thread)")
	fl.StringVar(&f.device, "device", "cpu", "cpu or cuda[:i]")
	fl.IntVar(&f.workers, "workers", 0, "augment workers (default: data.workers_per_gpu)")
	fl.IntVar(&f.threads, "threads", 0, "libtorch intra-op threads (default: cores left after the workers)")
	fl.IntVar(&f.prefetch, "prefetch", 2, "batches prepared ahead of the training step")
	fl.StringVar(&f.metricsAddr, "metrics-addr", "", "serve per-actor metrics for Prometheus on this address (host:port)")
	fl.StringVar(&f.onBad, "on-bad-image", "skip", "skip (with a warning) or error on an undecodable image")
	fl.StringVar(&f.amp, "amp", "", "mixed precision: off, fp16 (CUDA, loss scaling) or bf16; default: fp16 when the config has fp16 and the device is CUDA")
	fl.BoolVar(&f.channelsLast, "channels-last", false, "lay convolution weights and batches out NHWC (torch.channels_last); default: on for --device cpu, where oneDNN's convolutions run NHWC without re-laying every input (BENCHMARKS.md, \"End to end\"), off for CUDA")
	f.dist = &distFlags{}
	f.dist.register(fl, false)
	return c
}

// parseDevice reads --device.
func parseDevice(s string) (gotch.Device, error) {
	switch {
	case s == "" || s == "cpu":
		return gotch.CPU, nil
	case s == "cuda":
		return gotch.CudaBuilder(0), checkCuda(0)
	case strings.HasPrefix(s, "cuda:"):
		var i uint
		if _, err := fmt.Sscanf(s, "cuda:%d", &i); err != nil {
			return gotch.CPU, fmt.Errorf("--device %q: want cpu, cuda or cuda:N", s)
		}
		return gotch.CudaBuilder(i), checkCuda(int(i))
	}
	return gotch.CPU, fmt.Errorf("--device %q: want cpu, cuda or cuda:N", s)
}

func checkCuda(i int) error {
	n := gotch.CUDA.DeviceCount()
	if n == 0 {
		return fmt.Errorf("--device cuda:%d: CUDA not available in this libtorch (%s; build against a CUDA libtorch: LIBTORCH=... make build, or FLOWSSL_LINK=shared with a CUDA libflowssl_tch.so)", i, model.LibraryInfo())
	}
	if int(n) <= i {
		return fmt.Errorf("--device cuda:%d: libtorch sees %d CUDA devices (is flowssl built with LIBTORCH pointing at a CUDA libtorch?)", i, n)
	}
	return nil
}

// defaultWorkDir is MMSelfSup's work_dirs/<config name without extension>.
func defaultWorkDir(config string) string {
	base := filepath.Base(config)
	return filepath.Join("work_dirs", strings.TrimSuffix(base, filepath.Ext(base)))
}

// splitCores chooses libtorch's thread count. Measured on 2 cores
// (BENCHMARKS.md, "cores"): the step is the bottleneck and the augment
// workers mostly wait for credit, so libtorch gets every core and the
// workers share them.
func splitCores(workers int) int {
	_ = workers
	return max(1, numCPU())
}

// channelsLastGiven is --channels-last when it was given, else nil.
func (f trainFlags) channelsLastGiven() *bool {
	if !f.channelsLastSet {
		return nil
	}
	v := f.channelsLast
	return &v
}

// channelsLastFor is --channels-last where given, else on for the CPU:
// oneDNN keeps its CPU convolutions NHWC, and with NCHW tensors every
// convolution, forward and backward, re-lays its input and output
// (BENCHMARKS.md, "End to end": +30 % images/s for SimCLR at 96 px).
func channelsLastFor(dev gotch.Device, flag, given bool) bool {
	if given {
		return flag
	}
	return !dev.IsCuda()
}

func runTrain(cmd *cobra.Command, config string, f trainFlags) error {
	cfg, err := loadConfig(config, f.opts)
	if err != nil {
		return err
	}
	dev, err := parseDevice(f.device)
	if err != nil {
		return err
	}
	if dev.IsCuda() {
		// SSL batches have fixed shapes: let cuDNN pick the fastest kernels once.
		gotch.CUDA.CudnnSetBenchmark(true)
	}
	f.channelsLastSet = f.channelsLastSet || cmd.Flags().Changed("channels-last")
	channelsLast := channelsLastFor(dev, f.channelsLast, f.channelsLastSet)
	workDir := f.workDir
	if workDir == "" {
		workDir = defaultWorkDir(config)
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return err
	}
	lg, err := logx.New(logx.Options{JSONDir: workDir})
	if err != nil {
		return err
	}
	defer lg.Close()
	skip := true
	switch f.onBad {
	case "skip":
	case "error":
		skip = false
	default:
		return fmt.Errorf("--on-bad-image %q: want skip or error", f.onBad)
	}
	workers := f.workers
	threads := f.threads
	if f.deterministic {
		threads = 1
	} else if threads == 0 {
		w := workers
		if w == 0 {
			w = 2
		}
		threads = splitCores(w)
	}
	// Written next to the checkpoints so the run can be reproduced.
	if err := os.WriteFile(filepath.Join(workDir, filepath.Base(strings.TrimSuffix(config, filepath.Ext(config)))+".yaml"), []byte(cfg.Text), 0o644); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dr := &distRun{}
	if f.dist != nil {
		if ctx, dr, err = f.dist.setup(ctx, config, cfg, f, logx.Slog(lg.Logger)); err != nil {
			return err
		}
	}
	res, err := actors.Train(ctx, cfg, actors.Setup{
		WorkDir: workDir, Seed: f.seed, Deterministic: f.deterministic, Device: dev, Workers: workers, Threads: threads,
		Prefetch: f.prefetch, ResumeFrom: f.resume, AutoResume: f.autoResume, MetricsAddr: f.metricsAddr, SkipBad: skip,
		Version: version, Logger: lg.Logger, Views: buildViews, Dist: dr.dist(),
		AMP: f.amp, ChannelsLast: channelsLast,
	})
	if err = dr.close(err); err != nil {
		return err
	}
	lg.Info().Int("epochs", res.Epochs).Int("iters", res.Iters).Str("elapsed", res.Elapsed.Round(1e9).String()).
		Str("checkpoint", res.Checkpoint).Msg("done")
	fmt.Fprintln(cmd.OutOrStdout(), res.Checkpoint)
	return nil
}
