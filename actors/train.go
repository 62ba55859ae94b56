package actors

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/internal/logx"
	"github.com/flowssl/flowssl/model"
)

// Setup is what a training run needs beyond its config: the command
// line's choices and the hooks into packages the dataflow does not import.
type Setup struct {
	WorkDir       string
	Seed          int64
	Deterministic bool
	Device        gotch.Device
	Workers       int // augment workers; 0: data.workers_per_gpu
	Threads       int // libtorch intra-op threads; 0: leave libtorch's default
	Prefetch      int // batches in flight ahead of the step; 0: 2
	ResumeFrom    string
	AutoResume    bool
	MetricsAddr   string
	SkipBad       bool
	Version       string
	Metrics       *Metrics // nil: a fresh registry
	Logger        zerolog.Logger
	// Views builds the augmenter for a dataset config (the CLI wires
	// augment's view builders here, so actors does not depend on them).
	Views func(dataset map[string]any, seed uint64) (Augmenter, error)
	// Dist, when set, makes this process one rank of a multi-node run: it
	// trains on its shard of the data, starts from rank 0's state,
	// averages gradients every step, and only rank 0 writes checkpoints.
	Dist Distributed
	// AMP is --amp: "" follows the config's fp16, or off, fp16, bf16.
	AMP string
	// ChannelsLast lays convolution weights and batches out NHWC.
	ChannelsLast bool
	// Hooks are extra runner hooks the caller owns (the CLI's progress
	// bar), added after the config's custom_hooks.
	Hooks []Hook
}

// Result summarises a finished run.
type Result struct {
	Epochs, Iters int
	Losses        map[string]float64
	Elapsed       time.Duration
	Checkpoint    string // latest checkpoint written, "" if none
}

// Train builds everything the config describes and runs it.
func Train(ctx context.Context, cfg *configs.Config, s Setup) (*Result, error) {
	spec, err := configs.DecodeSpec(cfg)
	if err != nil {
		return nil, err
	}
	if err := spec.CheckTrain(); err != nil {
		return nil, err
	}
	log := s.Logger
	if s.Device.Name == "" {
		s.Device = gotch.CPU
	}
	plain := func(path string) (map[string]any, error) {
		v, err := tree.Lookup(cfg.Tree, path)
		if err != nil {
			return nil, err
		}
		m, ok := tree.ToPlain(v).(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a dict", path)
		}
		return m, nil
	}
	dsCfg, err := plain("data.train")
	if err != nil {
		return nil, err
	}
	srcCfg, err := plain("data.train.data_source")
	if err != nil {
		return nil, err
	}
	src, err := data.Build(srcCfg)
	if err != nil {
		return nil, fmt.Errorf("data.train.data_source: %w", err)
	}
	if s.Views == nil {
		return nil, fmt.Errorf("train: no view builder")
	}
	aug, err := s.Views(dsCfg, uint64(s.Seed))
	if err != nil {
		return nil, fmt.Errorf("data.train: %w", err)
	}
	workers := s.Workers
	if workers <= 0 {
		workers = max(1, spec.Data.WorkersPerGPU)
	}
	sampler := Sampler{N: src.Len(), BatchSize: spec.Data.BatchSize(), Shuffle: spec.Data.Shuffle == nil || *spec.Data.Shuffle,
		DropLast: spec.Data.DropLast, Seed: uint64(s.Seed), World: 1}
	if s.Dist != nil {
		sampler.Rank, sampler.World = s.Dist.Rank(), s.Dist.World()
	}
	if err := sampler.Validate(); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	ipe := sampler.ItersPerEpoch()
	maxEpochs, maxIters := 0, 0
	byIter := spec.Runner != nil && spec.Runner.Type == "IterBasedRunner"
	switch {
	case spec.Runner != nil && spec.Runner.MaxIters != nil:
		maxIters = *spec.Runner.MaxIters
	case spec.Runner != nil && spec.Runner.MaxEpochs != nil:
		maxEpochs = *spec.Runner.MaxEpochs
	default:
		return nil, fmt.Errorf("runner: neither max_epochs nor max_iters is set")
	}
	if s.Threads > 0 {
		model.SetNumThreads(s.Threads)
	}

	if s.Metrics == nil {
		s.Metrics = NewMetrics()
	}
	r := &Runner{Pinned: model.NewPinned(), Device: s.Device, ItersPerEpoch: ipe, MaxEpochs: maxEpochs, MaxIters: maxIters,
		Seed: s.Seed, Log: log, BatchSize: sampler.BatchSize, Metrics: s.Metrics}
	defer r.Pinned.Close()
	if spec.OptimizerConfig != nil {
		r.UpdateInterval = spec.OptimizerConfig.Interval()
		r.FrozenLayers = spec.OptimizerConfig.FrozenLayers
		if gc := spec.OptimizerConfig.GradClip; gc != nil {
			r.ClipMaxNorm = gc.MaxNorm
			if gc.NormType != nil {
				r.ClipNormType = *gc.NormType
			}
		}
	}
	ckCfg := &CheckpointConfig{Dir: s.WorkDir, SaveOptimizr: true}
	if c := spec.CheckpointConfig; c != nil {
		r.CheckpointInterval = c.Interval
		r.CheckpointByIter = c.ByEpoch != nil && !*c.ByEpoch || (c.ByEpoch == nil && byIter)
		if c.MaxKeepCkpts != nil {
			ckCfg.MaxKeep = *c.MaxKeepCkpts
		}
		if c.SaveOptimizer != nil {
			ckCfg.SaveOptimizr = *c.SaveOptimizer
		}
		if c.OutDir != "" {
			ckCfg.Dir = c.OutDir
		}
	}
	if spec.LogConfig != nil {
		r.LogInterval = spec.LogConfig.Interval
	}
	r.Meta = func(epoch, iter int) *checkpoint.Dict {
		m := checkpoint.NewDict()
		m.Set("flowssl_version", s.Version)
		m.Set("config", cfg.Text)
		m.Set("deterministic", s.Deterministic)
		return m
	}
	amp, note, err := NewAMP(spec.FP16, s.AMP, s.Device, s.ChannelsLast)
	if err != nil {
		return nil, err
	}
	if note != "" {
		log.Warn().Msg(note)
	}
	r.ConfigureAMP(amp)

	modelCfg, err := plain("model")
	if err != nil {
		return nil, err
	}
	optCfg, err := plain("optimizer")
	if err != nil {
		return nil, err
	}
	var lrCfg map[string]any
	if spec.LRConfig != nil {
		if lrCfg, err = plain("lr_config"); err != nil {
			return nil, err
		}
	}
	err = r.Pinned.Do(func() error {
		model.ManualSeed(s.Seed)
		if _, err := model.SetGradMode(true); err != nil {
			return err
		}
		r.VS = nn.NewVarStore(s.Device)
		algo, err := model.BuildAlgorithm(r.VS, modelCfg)
		if err != nil {
			return err
		}
		r.Algorithm = algo
		if n, ok := algo.(model.Noter); ok {
			for _, note := range n.Notes() {
				log.Info().Msg(note)
			}
		}
		if r.Optimizer, err = model.BuildOptimizer(model.ParamsOf(r.VS), optCfg); err != nil {
			return fmt.Errorf("optimizer: %w", err)
		}
		if lrCfg != nil {
			epochs := maxEpochs
			if epochs == 0 {
				epochs = (maxIters + ipe - 1) / ipe
			}
			lr, err := model.BuildLRSchedule(lrCfg, ipe, epochs)
			if err != nil {
				return fmt.Errorf("lr_config: %w", err)
			}
			if maxIters > 0 {
				lr.MaxIters = maxIters
			}
			r.LR = lr
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var hooks []any
	if v, err := tree.Lookup(cfg.Tree, "custom_hooks"); err == nil {
		hooks, _ = tree.ToPlain(v).([]any)
	}
	custom, err := BuildCustomHooks(hooks)
	if err != nil {
		return nil, err
	}
	r.Init()
	for _, h := range custom {
		r.AddHook(h)
		if a, ok := h.(Attacher); ok {
			if err := r.Pinned.Do(func() error { return a.Attach(r) }); err != nil {
				return nil, fmt.Errorf("custom_hooks %s: %w", h.Name(), err)
			}
		}
	}
	for _, h := range s.Hooks {
		r.AddHook(h)
	}
	r.Extensions, err = BuildExtensions(r.Algorithm.Type(), &ExtensionEnv{Config: cfg, Setup: &s, Runner: r, Source: src,
		Sampler: &sampler, Metrics: s.Metrics, Log: log})
	if err != nil {
		return nil, err
	}
	for _, e := range r.Extensions {
		if h, ok := e.(Hook); ok {
			r.AddHook(h)
		}
	}

	// Resume.
	resume := s.ResumeFrom
	if resume == "" && s.AutoResume {
		if p, ok := LatestCheckpoint(ckCfg.Dir); ok {
			resume = p
		}
	}
	startEpoch, startIter := 0, 0
	if resume != "" {
		ck, err := checkpoint.Load(resume)
		if err != nil {
			return nil, fmt.Errorf("resume: %w", err)
		}
		_, iter, err := r.Restore(ck)
		if err != nil {
			return nil, fmt.Errorf("resume %s: %w", resume, err)
		}
		startIter, startEpoch = iter, iter/ipe
		log.Info().Str("checkpoint", resume).Int("epoch", startEpoch).Int("iter", startIter).Msg("resumed")
	}
	if resume == "" && spec.LoadFrom != nil && *spec.LoadFrom != "" {
		ck, err := checkpoint.Load(*spec.LoadFrom)
		if err != nil {
			return nil, fmt.Errorf("load_from: %w", err)
		}
		missing, unexpected, err := r.LoadWeights(ck)
		if err != nil {
			return nil, fmt.Errorf("load_from %s: %w", *spec.LoadFrom, err)
		}
		log.Info().Str("checkpoint", *spec.LoadFrom).Int("missing_keys", len(missing)).Int("unexpected_keys", len(unexpected)).
			Strs("missing", head(missing, 8)).Strs("unexpected", head(unexpected, 8)).Msg("load_from")
	}
	total := maxIters
	if total == 0 {
		total = maxEpochs * ipe
	}
	if s.Dist != nil {
		if startIter, err = r.joinDistributed(s.Dist, startIter); err != nil {
			return nil, err
		}
		startEpoch = startIter / ipe
	}
	if startIter >= total {
		return nil, fmt.Errorf("resume: %s already finished (%d of %d iterations)", resume, startIter, total)
	}

	if s.MetricsAddr != "" {
		ot, err := NewOTel()
		if err != nil {
			return nil, err
		}
		s.Metrics.UseOTel(ot)
		stop, addr, err := ServeMetrics(s.MetricsAddr, s.Metrics)
		if err != nil {
			return nil, err
		}
		defer stop()
		log.Info().Str("addr", addr).Msg("metrics on http://" + addr + "/metrics")
	}
	prefetch := s.Prefetch
	if prefetch <= 0 {
		prefetch = 2
	}
	if err := os.MkdirAll(ckCfg.Dir, 0o755); err != nil {
		return nil, err
	}
	log.Info().Str("model", r.Algorithm.Type()).Int("samples", src.Len()).Int("batch", sampler.BatchSize).
		Int("iters_per_epoch", ipe).Int("workers", workers).Int("threads", model.NumThreads()).
		Bool("channels_last", s.ChannelsLast).Msg("start")
	t0 := time.Now()
	err = Run(ctx, Options{
		Source: src, Augmenter: aug, Stepper: r, Sampler: sampler, Workers: workers, Prefetch: prefetch,
		SkipBad: s.SkipBad, StartEpoch: startEpoch, StartIter: startIter, MaxEpochs: maxEpochs, MaxIters: maxIters,
		Checkpoint: primaryOnly(ckCfg, s.Dist), Metrics: s.Metrics, Logger: logx.Slog(log), Extensions: r.Extensions,
		OnSkip: func(err error) { log.Warn().Err(err).Msg("skipped bad image") },
	})
	if err != nil {
		return nil, err
	}
	if err := r.Finish(); err != nil {
		return nil, err
	}
	res := &Result{Epochs: r.state.Epoch + 1, Iters: r.state.Iter + 1, Losses: r.state.Losses, Elapsed: time.Since(t0)}
	if p, ok := LatestCheckpoint(ckCfg.Dir); ok {
		res.Checkpoint = p
	}
	return res, nil
}

// ServeMetrics serves m for Prometheus on addr (host:port; port 0 picks
// one) and returns a stop func and the bound address.
func ServeMetrics(addr string, m *Metrics) (func(), string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_ = m.WritePrometheus(w)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, ln.Addr().String(), nil
}

func head(xs []string, n int) []string {
	if len(xs) > n {
		return append(xs[:n:n], fmt.Sprintf("... %d more", len(xs)-n))
	}
	return xs
}
