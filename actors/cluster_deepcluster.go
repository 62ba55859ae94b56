package actors

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/cluster"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/eval"
	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/flowssl/flowssl/model"
)

// DeepClusterHook (components.md §8.2) for the DeepCluster algorithm.
//
// The custom_hooks entry builds a deepClusterHook (so it runs at its
// configured priority among the runner's hooks); the DeepCluster
// extension then wires it to the run: the data source and extractor
// pipeline, the training sampler's per-epoch plan (uniform sampling over
// clusters), checkpointed state and, in async mode, the Clusterer actor.
//
// # Labels and prefetching
//
// The dataflow prepares batches ahead of the step, across epoch
// boundaries. Pseudo-labels therefore never travel with the samples: the
// model keeps the label table and looks each sample up by index when the
// batch is stepped (model.DeepCluster.SetPseudoLabels). Only the order of
// an epoch depends on a clustering (uniform sampling); the Loader asks the
// hook for it when it starts the epoch (Sampler.Plan).
//
// # clustering.mode: sync
//
// Exactly MMSelfSup's order: before the first epoch (initial) and after
// every interval-th epoch, on the runner's thread: extract the features of
// the whole set with the current model (eval mode), cluster, assign the
// labels, draw the next epoch's uniform order, re-weight, re-initialise
// the head. The Loader holds the next epoch back until its order exists,
// so nothing is prefetched with stale assumptions; the cost is that
// training stops while clustering runs. The clustering after the last
// epoch is skipped (MMSelfSup runs it and discards it).
//
// # clustering.mode: async
//
// The step never waits for clustering. The features are not extracted in
// a separate pass: every training step hands its neck output (detached,
// train-mode, on the augmented view) to a feature bank that starts from
// the initial extraction; a sample the epoch did not draw keeps its last
// feature. After epoch e the bank is copied and sent to the Clusterer
// actor, which clusters it on its own thread while epoch e+1 trains. The
// labels used by epoch e+1 are the newest clustering of features from
// epoch e−1 or earlier that has finished when the epoch starts (the Loader
// fixes the choice when it asks for the epoch's order); when a clustering
// takes longer than an epoch, training goes on with older labels instead
// of waiting, and a queued job is superseded by a newer one. The cost is
// one epoch of lag and features from the training views rather than from
// the extract pipeline; the initial clustering is still a full extraction
// before the first step.
//
// # Several nodes
//
// In sync mode each rank extracts a contiguous shard of the set (batch
// aligned, so the features are those one process computes), the shards
// are all-gathered, rank 0 clusters and broadcasts the labels, and every
// rank installs them (MMSelfSup's distributed extraction and broadcast of
// new_labels); each rank's plan for the next epoch follows from the same
// labels and seed. Async mode is refused on several nodes: each node's
// Clusterer finishes at its own time, so the nodes would train on labels
// of different clusterings.
//
// # State
//
// The installed labels, the finished clusterings still to be used, the
// epochs' choices, and in async mode the feature bank and the queued jobs
// go into checkpoints (flowssl_state.DeepClusterHook). A run resumed from
// an epoch-end checkpoint redoes the clustering that followed that epoch
// (checkpoints are written before this hook's after_train_epoch, as mmcv
// orders CheckpointHook before custom hooks of the same priority) with the
// same seed, so it gets the same labels.
type deepClusterHook struct {
	priority int
	cfg      dcConfig

	// Wired by the extension; nil for algorithms that run the hook
	// themselves (ODC's memory extension).
	run *dcRun

	// Seams for tests, set before the extension is built (an Attacher
	// hook): trace receives every operation, wrap decorates the
	// clustering algorithm.
	trace func(op string, epoch int)
	wrap  func(cluster.Clusterer) cluster.Clusterer
}

// dcConfig is DeepClusterHook's arguments.
type dcConfig struct {
	extractor    map[string]any
	batch        int
	workers      int
	clusterType  string
	clusterArgs  map[string]any
	k, pcaDim    int
	async        bool
	unifSampling bool
	reweight     bool
	reweightPow  float64
	initMemory   bool
	initial      bool
	interval     int
}

func init() {
	RegisterHook("DeepClusterHook", buildDeepClusterHook)
	RegisterExtension("DeepCluster", buildDeepClusterExtension)
}

func buildDeepClusterHook(m map[string]any, priority int) (Hook, error) {
	c := dcConfig{batch: 32, workers: 1, reweightPow: 0.5, initial: true, interval: 1}
	for k, v := range m {
		var err error
		switch k {
		case "type", "priority", "data_loaders", "dist_mode":
		case "extractor":
			ex, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("extractor: want a dict, got %v", v)
			}
			c.extractor = ex
			for ek, ev := range ex {
				switch ek {
				case "imgs_per_gpu", "samples_per_gpu":
					c.batch, err = dcInt(ev, 1)
				case "workers_per_gpu":
					c.workers, err = dcInt(ev, 0)
				case "dataset", "prefetch", "img_norm_cfg", "persistent_workers":
				default:
					err = fmt.Errorf("unknown key (known: dataset, samples_per_gpu, workers_per_gpu, prefetch, img_norm_cfg, persistent_workers)")
				}
				if err != nil {
					return nil, fmt.Errorf("extractor.%s: %w", ek, err)
				}
			}
			if _, ok := ex["dataset"].(map[string]any); !ok {
				return nil, fmt.Errorf("extractor.dataset: want a dict")
			}
		case "clustering":
			cm, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("clustering: want a dict, got %v", v)
			}
			if err := c.parseClustering(cm); err != nil {
				return nil, fmt.Errorf("clustering.%w", err)
			}
		case "unif_sampling":
			c.unifSampling, err = dcBool(v)
		case "reweight":
			c.reweight, err = dcBool(v)
		case "init_memory":
			c.initMemory, err = dcBool(v)
		case "initial":
			c.initial, err = dcBool(v)
		case "reweight_pow":
			f, ok := number(v)
			if !ok {
				err = fmt.Errorf("want a number, got %v", v)
			}
			c.reweightPow = f
		case "interval":
			c.interval, err = dcInt(v, 1)
		default:
			err = fmt.Errorf("unknown key (known: extractor, clustering, unif_sampling, reweight, reweight_pow, init_memory, initial, interval, dist_mode)")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	if c.extractor == nil {
		return nil, fmt.Errorf("extractor: required")
	}
	if c.clusterType == "" {
		return nil, fmt.Errorf("clustering: required")
	}
	return &deepClusterHook{priority: priority, cfg: c}, nil
}

func (c *dcConfig) parseClustering(m map[string]any) error {
	c.clusterArgs = map[string]any{}
	c.k, c.pcaDim = 0, 256
	for k, v := range m {
		var err error
		switch k {
		case "type":
			s, _ := v.(string)
			if s != "Kmeans" && s != "PIC" {
				err = fmt.Errorf("%v: want Kmeans or PIC", v)
			}
			c.clusterType = s
		case "mode":
			switch v {
			case "sync":
				c.async = false
			case "async":
				c.async = true
			default:
				err = fmt.Errorf("%v: want sync or async", v)
			}
		case "k":
			c.k, err = dcInt(v, 1)
		case "pca_dim":
			c.pcaDim, err = dcInt(v, -1)
			if err == nil && c.pcaDim == 0 {
				err = fmt.Errorf("want -1 or a positive dimension")
			}
		default:
			c.clusterArgs[k] = v
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	if c.clusterType == "" {
		return fmt.Errorf("type: required (Kmeans or PIC)")
	}
	if c.clusterType == "Kmeans" {
		if c.k < 1 {
			return fmt.Errorf("k: required for Kmeans")
		}
		if len(c.clusterArgs) > 0 {
			return fmt.Errorf("%s: unknown Kmeans key (known: type, k, pca_dim, mode)", firstKey(c.clusterArgs))
		}
	}
	_, err := c.newClusterer()
	return err
}

func firstKey(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[0]
}

// newClusterer builds MMSelfSup's Kmeans(k, pca_dim) or PIC(...).
func (c *dcConfig) newClusterer() (cluster.Clusterer, error) {
	if c.clusterType == "Kmeans" {
		return cluster.NewKmeans(c.k, c.pcaDim), nil
	}
	p := cluster.NewPIC()
	p.PCADim = c.pcaDim
	for k, v := range c.clusterArgs {
		var err error
		switch k {
		case "sigma":
			p.Sigma, _ = number(v)
		case "alpha":
			p.Alpha, _ = number(v)
		case "nnn":
			p.NNN, err = dcInt(v, 1)
		case "distribute_singletons":
			p.DistributeSingletons, err = dcBool(v)
		default:
			err = fmt.Errorf("unknown PIC key (known: type, sigma, nnn, alpha, distribute_singletons, pca_dim, mode)")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return p, p.Validate()
}

func dcInt(v any, lo int) (int, error) {
	f, ok := number(v)
	if !ok || f != math.Trunc(f) || f < float64(lo) {
		return 0, fmt.Errorf("want an integer ≥ %d, got %v", lo, v)
	}
	return int(f), nil
}

func dcBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("want a bool, got %v", v)
	}
	return b, nil
}

func (h *deepClusterHook) Name() string  { return "DeepClusterHook" }
func (h *deepClusterHook) Priority() int { return h.priority }

// BeforeRun refuses a DeepClusterHook nothing carries out.
func (h *deepClusterHook) BeforeRun(s *RunState) error {
	if h.run == nil && s.Runner.Algorithm.Type() != "ODC" { // ODC's memory extension runs it (memory_odc.go)
		return fmt.Errorf("model type %s: DeepClusterHook works with DeepCluster (and ODC)", s.Runner.Algorithm.Type())
	}
	return nil
}

func (h *deepClusterHook) BeforeTrainEpoch(s *RunState) error {
	if h.run == nil {
		return nil
	}
	return h.run.beforeEpoch(s.Epoch)
}

func (h *deepClusterHook) AfterTrainEpoch(s *RunState) error {
	if h.run == nil {
		return nil
	}
	return h.run.afterEpoch(s)
}

// clusterAlgo is what the hook needs of the algorithm.
type clusterAlgo interface {
	model.Algorithm
	NumClasses() int
	SetPseudoLabels(labels []int64) error
	SetClassWeights(w []float32) error
	ResetHead() error
	ClusterFeatures(x *ts.Tensor) (*ts.Tensor, error)
	SetFeatureSink(f model.FeatureSink)
}

// dcResult is one clustering: labels over the data set and the number of
// clusters they use.
type dcResult struct {
	labels []int64
	k      int
}

// dcJob is an async clustering of the features gathered up to the end of
// epoch src (Runner → Clusterer).
type dcJob struct {
	src   int
	feats []float32
}

// noSource marks "no clustering".
const noSource = math.MinInt32

// initialSource is the source of the clustering before the first epoch.
const initialSource = -1

// dcRun is the hook wired to one run.
type dcRun struct {
	cfg      dcConfig
	algo     clusterAlgo
	runner   *Runner
	extract  *inlineExtractor
	n        int
	seed     int64
	device   gotch.Device
	workDir  string
	hold     *Stage // wait = time the step was held by clustering
	metrics  *Metrics
	stage    *Stage // the Clusterer actor's
	log      func(msg string, kv ...any)
	start    int // first epoch of this process (after a resume)
	maxEpoch int
	dist     Distributed // multi-node: sharded extraction, rank 0 clusters

	// newClusterer makes the clustering algorithm (a seam for tests).
	newClusterer func() (cluster.Clusterer, error)
	// trace, when set, receives each operation in order (tests).
	trace func(op string, epoch int)

	mu        sync.Mutex
	results   map[int]*dcResult // by source epoch
	chosen    map[int]int       // epoch → source of its labels (async)
	installed int               // source of the labels in the model
	waiters   []dcWaiter
	initDone  bool

	// async
	bank      []float32 // N×dim, runner thread only
	dim       int
	jobs      map[int][]float32 // submitted, not finished
	lastSub   int
	clusterer *actor.PID
	root      *actor.RootContext
	pinned    *model.Pinned
}

type dcWaiter struct {
	epoch int
	ch    chan EpochPlan
}

// dcExtension is the Stateful Spawner side of the hook (it is not a Hook:
// the custom_hooks entry already is).
type dcExtension struct{ r *dcRun }

func buildDeepClusterExtension(env *ExtensionEnv) (Extension, error) {
	var hook *deepClusterHook
	for _, h := range env.Runner.hooks {
		if d, ok := h.(*deepClusterHook); ok {
			if hook != nil {
				return nil, fmt.Errorf("custom_hooks: DeepCluster takes one DeepClusterHook")
			}
			hook = d
		}
	}
	if hook == nil {
		return nil, fmt.Errorf("custom_hooks: DeepCluster needs a DeepClusterHook (its pseudo-labels)")
	}
	if hook.cfg.async && env.Setup != nil && multiRank(env.Setup.Dist) {
		return nil, fmt.Errorf("custom_hooks DeepClusterHook.clustering.mode: async is single-process only (each node would pick its labels by its own clusterer's timing); use sync on several nodes")
	}
	algo, ok := env.Runner.Algorithm.(clusterAlgo)
	if !ok {
		return nil, fmt.Errorf("DeepClusterHook: algorithm %T cannot take pseudo-labels", env.Runner.Algorithm)
	}
	c := hook.cfg
	if c.initMemory {
		return nil, fmt.Errorf("custom_hooks DeepClusterHook.init_memory: DeepCluster has no memory bank")
	}
	if c.async && !c.initial {
		return nil, fmt.Errorf("custom_hooks DeepClusterHook.clustering.mode: async needs initial: true (its feature bank starts from the initial extraction)")
	}
	if c.clusterType == "Kmeans" && c.k > algo.NumClasses() {
		return nil, fmt.Errorf("custom_hooks DeepClusterHook.clustering.k: %d clusters, but model.head.num_classes is %d", c.k, algo.NumClasses())
	}
	ds := c.extractor["dataset"].(map[string]any)
	srcCfg, _ := tree.ToPlain(ds["data_source"]).(map[string]any)
	src := env.Source
	if srcCfg != nil {
		s, err := data.Build(srcCfg)
		if err != nil {
			return nil, fmt.Errorf("custom_hooks DeepClusterHook.extractor.dataset.data_source: %w", err)
		}
		src = s
	}
	if src.Len() != env.Source.Len() {
		return nil, fmt.Errorf("custom_hooks DeepClusterHook.extractor.dataset: %d samples, the training set has %d (one label each)", src.Len(), env.Source.Len())
	}
	if env.Setup.Views == nil {
		return nil, fmt.Errorf("DeepClusterHook: no view builder")
	}
	aug, err := env.Setup.Views(ds, uint64(env.Setup.Seed))
	if err != nil {
		return nil, fmt.Errorf("custom_hooks DeepClusterHook.extractor.dataset: %w", err)
	}
	dev := env.Setup.Device
	if dev.Name == "" {
		dev = gotch.CPU
	}
	maxEpoch := env.Runner.MaxEpochs
	if maxEpoch == 0 && env.Runner.ItersPerEpoch > 0 {
		maxEpoch = (env.Runner.MaxIters + env.Runner.ItersPerEpoch - 1) / env.Runner.ItersPerEpoch
	}
	log := env.Log
	r := &dcRun{
		cfg: c, algo: algo, runner: env.Runner, n: env.Source.Len(), seed: env.Setup.Seed, device: dev,
		workDir: env.Setup.WorkDir, maxEpoch: maxEpoch, dist: env.Setup.Dist,
		extract: &inlineExtractor{Source: src, Augmenter: aug, BatchSize: c.batch, Workers: max(1, c.workers), Device: dev},
		hold:    env.Metrics.Stage("deepcluster-hold", 1),
		metrics: env.Metrics,
		stage:   env.Metrics.Stage("clusterer", 1),
		log: func(msg string, kv ...any) {
			ev := log.Info()
			for i := 0; i+1 < len(kv); i += 2 {
				ev = ev.Interface(kv[i].(string), kv[i+1])
			}
			ev.Msg(msg)
		},
		newClusterer: c.newClusterer,
		trace:        hook.trace,
		results:      map[int]*dcResult{}, chosen: map[int]int{}, installed: noSource,
		jobs: map[int][]float32{}, lastSub: noSource,
	}
	if hook.wrap != nil {
		r.newClusterer = func() (cluster.Clusterer, error) {
			c, err := c.newClusterer()
			if err != nil {
				return nil, err
			}
			return hook.wrap(c), nil
		}
	}
	hook.run = r
	if env.Sampler != nil {
		env.Sampler.Plan = r.plan
	}
	if c.async {
		algo.SetFeatureSink(r.collect)
	}
	return &dcExtension{r}, nil
}

func (e *dcExtension) Name() string { return "DeepClusterHook" }

// Spawn starts the Clusterer actor (async) and runs the clustering the
// first epoch needs (initial, or the one a resumed run owes), before the
// first step.
func (e *dcExtension) Spawn(root *actor.RootContext, props func(st *Stage, p actor.Producer) *actor.Props, fail func(error)) (func(), error) {
	r := e.r
	var stop func()
	if r.cfg.async {
		r.pinned = model.NewPinned()
		if err := r.pinned.Do(func() error { _, err := model.SetGradMode(false); return err }); err != nil {
			r.pinned.Close()
			return nil, err
		}
		r.root = root
		r.clusterer = root.Spawn(props(r.stage, func() actor.Actor { return &clustererActor{r: r, fail: fail} }))
		stop = func() {
			_ = root.PoisonFuture(r.clusterer).Wait()
			r.pinned.Close()
		}
	}
	err := r.runner.Pinned.Do(func() error { return r.catchUp() })
	if err != nil {
		if stop != nil {
			stop()
		}
		return nil, err
	}
	t0 := time.Now()
	return func() {
		if stop != nil {
			stop()
		}
		r.summary(time.Since(t0))
	}, nil
}

// summary logs how much the clustering cost the step: the trainer's
// waiting for batches, the time the step was held by clustering (sync
// clustering, bank copies) and the Clusterer actor's busy time.
func (r *dcRun) summary(run time.Duration) {
	var tw time.Duration
	if r.metrics != nil {
		for _, st := range r.metrics.Stages() {
			if st.Name == "trainer" {
				tw = st.Snapshot().Wait
			}
		}
	}
	hold, busy := r.hold.Snapshot().Wait, r.stage.Snapshot().Busy
	pct := func(d time.Duration) float64 { return math.Round(1000*d.Seconds()/max(run.Seconds(), 1e-9)) / 10 }
	r.log("clustering cost", "mode", map[bool]string{false: "sync", true: "async"}[r.cfg.async],
		"run_s", math.Round(run.Seconds()*10)/10,
		"trainer_wait_s", math.Round(tw.Seconds()*10)/10, "trainer_wait_pct", pct(tw),
		"step_held_s", math.Round(hold.Seconds()*10)/10, "step_held_pct", pct(hold),
		"clusterer_busy_s", math.Round(busy.Seconds()*10)/10)
}

// catchUp (runner thread) brings the state to the start epoch: the
// initial clustering, or the one after the epoch a resumed run ended on,
// and re-submits async jobs a checkpoint carried.
func (r *dcRun) catchUp() error {
	s := r.start
	r.mu.Lock()
	_, haveInitial := r.results[initialSource]
	r.mu.Unlock()
	if s == 0 && r.cfg.initial && !haveInitial {
		if err := r.clusterNow(initialSource, 0, true); err != nil {
			return err
		}
	} else if !r.cfg.async {
		if src := r.due(s); src != noSource {
			r.mu.Lock()
			_, ok := r.results[src]
			r.mu.Unlock()
			if !ok {
				if err := r.clusterNow(src, s, false); err != nil {
					return err
				}
			}
		}
	}
	r.mu.Lock()
	r.initDone = true
	jobs := make([]int, 0, len(r.jobs))
	for src := range r.jobs {
		jobs = append(jobs, src)
	}
	r.mu.Unlock()
	sort.Ints(jobs)
	if r.cfg.async {
		if s > 0 && s%r.cfg.interval == 0 && r.lastSub < s-1 && s+1 < r.maxEpoch && r.bank != nil {
			r.submit(s - 1) // the checkpoint was written before after_train_epoch submitted it
		}
		for _, src := range jobs {
			r.mu.Lock()
			f := r.jobs[src]
			r.mu.Unlock()
			r.root.Send(r.clusterer, &dcJob{src: src, feats: f})
		}
	}
	r.notify()
	return nil
}

// due is the sync source of epoch e's labels and order: the clustering
// right before it, or noSource when none precedes it.
func (r *dcRun) due(e int) int {
	switch {
	case e == 0 && r.cfg.initial:
		return initialSource
	case e > 0 && e%r.cfg.interval == 0:
		return e - 1
	}
	return noSource
}

// choose is the async source of epoch e's labels (r.mu held): fixed the
// first time it is asked, the newest finished clustering of features from
// epoch e−2 or earlier, else the labels in use.
func (r *dcRun) choose(e int) int {
	if src, ok := r.chosen[e]; ok {
		return src
	}
	best := noSource
	for src := range r.results {
		if src <= e-2 && src > best {
			best = src
		}
	}
	if best == noSource {
		best = r.installed
	}
	if best != noSource {
		r.chosen[e] = best
	}
	return best
}

// source returns epoch e's source and whether it is known yet (r.mu held).
func (r *dcRun) source(e int) (int, bool) {
	if !r.initDone {
		return noSource, false
	}
	if r.cfg.async {
		return r.choose(e), true
	}
	src := r.due(e)
	if src == noSource {
		return noSource, true
	}
	_, ok := r.results[src]
	return src, ok
}

// plan is the Sampler's per-epoch hook (Loader's goroutine).
func (r *dcRun) plan(e int) <-chan EpochPlan {
	ch := make(chan EpochPlan, 1)
	if !r.cfg.unifSampling {
		ch <- EpochPlan{}
		return ch
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.planLocked(e); ok {
		ch <- p
		return ch
	}
	r.waiters = append(r.waiters, dcWaiter{epoch: e, ch: ch})
	return ch
}

// planLocked draws epoch e's uniform order if its labels are known.
func (r *dcRun) planLocked(e int) (EpochPlan, bool) {
	src, ok := r.source(e)
	if !ok {
		return EpochPlan{}, false
	}
	if src == noSource {
		return EpochPlan{}, true
	}
	res := r.results[src]
	if r.trace != nil {
		r.trace("uniform_indices", e)
	}
	// MMSelfSup seeds numpy with the epoch; here (seed, epoch).
	rng := rand.New(rand.NewPCG(uint64(r.seed), uint64(e)^0xdc5a3e1f))
	idx, err := cluster.UniformIndices(res.labels, res.k, r.n, rng)
	if err != nil {
		return EpochPlan{Err: err}, true
	}
	out := make([]int, len(idx))
	for i, v := range idx {
		out[i] = int(v)
	}
	return EpochPlan{Indices: out}, true
}

// notify answers the Loader's waiting plan requests that can be answered.
func (r *dcRun) notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	keep := r.waiters[:0]
	for _, w := range r.waiters {
		if p, ok := r.planLocked(w.epoch); ok {
			w.ch <- p
			continue
		}
		keep = append(keep, w)
	}
	r.waiters = keep
}

// clusterNow (runner thread) extracts the features of the whole set with
// the current model, clusters them and installs the result: MMSelfSup's
// deepcluster(runner). epoch is the epoch the labels are for.
func (r *dcRun) clusterNow(src, epoch int, fillBank bool) error {
	t0 := time.Now()
	defer func() { r.hold.AddWait(time.Since(t0)) }()
	if r.trace != nil {
		r.trace("extract", src)
	}
	feats, dim, err := r.extractAll(max(epoch, 0))
	if err != nil {
		return fmt.Errorf("DeepClusterHook extract: %w", err)
	}
	if fillBank && r.cfg.async {
		r.bank, r.dim = feats, dim
		feats = append([]float32(nil), feats...)
	}
	var res *dcResult
	if !multiRank(r.dist) || r.dist.Rank() == 0 {
		if res, err = r.clusterFeatures(feats, dim, src); err != nil {
			return err
		}
	}
	if multiRank(r.dist) {
		var labels []int64
		var k int
		if res != nil {
			labels, k = res.labels, res.k
		}
		if labels, k, err = broadcastLabels(r.dist, labels, k); err != nil {
			return fmt.Errorf("DeepClusterHook: %w", err)
		}
		if len(labels) != r.n {
			return fmt.Errorf("DeepClusterHook: rank 0 sent %d labels for %d samples", len(labels), r.n)
		}
		res = &dcResult{labels: labels, k: k}
	}
	r.mu.Lock()
	r.results[src] = res
	r.mu.Unlock()
	return r.install(src, true)
}

// extractAll extracts the features of the whole set: on several nodes each
// rank its shard, gathered (extractShards).
func (r *dcRun) extractAll(epoch int) ([]float32, int, error) {
	ctx := context.Background()
	if !multiRank(r.dist) {
		return r.extract.Run(ctx, epoch, r.algo.ClusterFeatures)
	}
	return extractShards(ctx, r.dist, r.n, r.extract.BatchSize, func(lo, hi int) ([]float32, int, error) {
		r.log("dist: extracting this rank's shard", "rank", r.dist.Rank(), "from", lo, "to", hi, "samples", r.n)
		return r.extract.RunRange(ctx, epoch, lo, hi, r.algo.ClusterFeatures)
	})
}

// clusterFeatures clusters N×dim features on the calling (pinned) thread.
func (r *dcRun) clusterFeatures(feats []float32, dim, src int) (*dcResult, error) {
	if r.trace != nil {
		r.trace("cluster", src)
	}
	c, err := r.newClusterer()
	if err != nil {
		return nil, err
	}
	x, err := torchx.FromFloat32sOn(feats, r.device, int64(r.n), int64(dim))
	if err != nil {
		return nil, err
	}
	defer x.MustDrop()
	// faiss's seed changes every call in MMSelfSup; here (seed, source).
	rng := rand.New(rand.NewPCG(uint64(r.seed), uint64(int64(src))^0x6b6d65616e73))
	res, err := c.Cluster(x, rng)
	if err != nil {
		return nil, fmt.Errorf("DeepClusterHook clustering after epoch %d: %w", src+1, err)
	}
	defer res.Close()
	for _, w := range res.Warnings {
		r.log("clustering warning", "warning", w)
	}
	st, empty := res.Stats(), res.Empty()
	kv := []any{"after_epoch", src + 1, "k", res.K, "empty", empty.Count(), "min", st.Min, "max", st.Max,
		"imbalance", math.Round(st.Imbalance*1000) / 1000}
	if n := empty.Count(); n > 0 && n <= 16 {
		kv = append(kv, "empty_clusters", empty.String())
	}
	r.log("clustering", kv...)
	if res.K > r.algo.NumClasses() {
		return nil, fmt.Errorf("DeepClusterHook: %d clusters, but model.head.num_classes is %d", res.K, r.algo.NumClasses())
	}
	return &dcResult{labels: res.Labels, k: res.K}, nil
}

// install (runner thread) puts result src into the model: labels, the
// uniform order of the epochs waiting for them, re-weighting and, after a
// fresh clustering, a re-initialised head (MMSelfSup's order).
func (r *dcRun) install(src int, fresh bool) error {
	r.mu.Lock()
	res := r.results[src]
	r.mu.Unlock()
	if res == nil {
		return fmt.Errorf("DeepClusterHook: no clustering from epoch %d", src+1)
	}
	if err := r.algo.SetPseudoLabels(res.labels); err != nil {
		return err
	}
	if r.trace != nil {
		r.trace("assign_labels", src)
	}
	r.mu.Lock()
	r.installed = src
	r.prune()
	r.mu.Unlock()
	if fresh && r.workDir != "" {
		// MMSelfSup's cluster_epoch_{runner.epoch}.npy.
		name := fmt.Sprintf("cluster_epoch_%d.npy", max(src, 0))
		if err := eval.WriteNPY(filepath.Join(r.workDir, name), []int{len(res.labels)}, res.labels); err != nil {
			return fmt.Errorf("DeepClusterHook: %w", err)
		}
	}
	r.notify()
	if r.cfg.reweight {
		if r.trace != nil {
			r.trace("reweight", src)
		}
		w, err := cluster.ReweightLabels(res.labels, r.algo.NumClasses(), r.cfg.reweightPow)
		if err != nil {
			return err
		}
		if err := r.algo.SetClassWeights(w); err != nil {
			return err
		}
	}
	if fresh {
		if r.trace != nil {
			r.trace("init_head", src)
		}
		// libtorch's RNG is re-seeded from (seed, source) so that a resumed
		// run, which redoes this clustering, draws the same head.
		model.ManualSeed(r.seed*1_000_003 - 7919*int64(src+2))
		return r.algo.ResetHead()
	}
	return nil
}

// prune drops results no epoch can use any more (r.mu held).
func (r *dcRun) prune() {
	keep := map[int]bool{r.installed: true}
	for _, src := range r.chosen {
		keep[src] = true
	}
	newest := noSource
	for src := range r.results {
		newest = max(newest, src)
	}
	keep[newest] = true
	for src := range r.results {
		if !keep[src] && src < r.installed {
			delete(r.results, src)
		}
	}
	for e := range r.chosen {
		if r.chosen[e] < r.installed {
			delete(r.chosen, e)
		}
	}
}

// beforeEpoch (runner thread): async installs the labels chosen for the
// epoch; sync has installed them at the end of the previous epoch.
func (r *dcRun) beforeEpoch(e int) error {
	if r.trace != nil {
		r.trace("train_epoch", e)
	}
	if !r.cfg.async {
		return nil
	}
	r.mu.Lock()
	src := r.choose(e)
	cur := r.installed
	r.mu.Unlock()
	if src == noSource || src == cur {
		return nil
	}
	return r.install(src, true)
}

// afterEpoch (runner thread): sync clusters now; async hands the bank to
// the Clusterer. Nothing is clustered after the last epoch.
func (r *dcRun) afterEpoch(s *RunState) error {
	e := s.Epoch
	if (e+1)%r.cfg.interval != 0 || s.Iter+1 >= s.MaxIters {
		return nil
	}
	if !r.cfg.async {
		return r.clusterNow(e, e+1, false)
	}
	if e+2 >= r.maxEpoch { // its labels could only serve epoch e+2
		return nil
	}
	r.submit(e)
	return nil
}

// submit copies the bank and sends it to the Clusterer (runner thread).
func (r *dcRun) submit(src int) {
	t0 := time.Now()
	snap := append([]float32(nil), r.bank...)
	r.mu.Lock()
	r.jobs[src] = snap
	r.lastSub = src
	r.mu.Unlock()
	if r.trace != nil {
		r.trace("submit", src)
	}
	r.root.Send(r.clusterer, &dcJob{src: src, feats: snap})
	r.hold.AddWait(time.Since(t0))
}

// collect is the model's feature sink (runner thread): the batch's rows
// replace those samples' rows in the bank.
func (r *dcRun) collect(indices []int, feats []float32, dim int) {
	if r.bank == nil || dim != r.dim {
		return // no initial extraction to start from, or another feature size
	}
	for i, idx := range indices {
		copy(r.bank[idx*dim:(idx+1)*dim], feats[i*dim:(i+1)*dim])
	}
}

// clustererActor clusters the async jobs on its own pinned thread.
type clustererActor struct {
	r    *dcRun
	fail func(error)
}

func (a *clustererActor) Receive(ctx actor.Context) {
	job, ok := ctx.Message().(*dcJob)
	if !ok {
		return
	}
	r := a.r
	r.mu.Lock()
	superseded := r.lastSub > job.src
	if superseded {
		delete(r.jobs, job.src)
	}
	r.mu.Unlock()
	if superseded {
		return
	}
	var res *dcResult
	err := r.pinned.Do(func() error {
		var err error
		res, err = r.clusterFeatures(job.feats, r.dim, job.src)
		return err
	})
	if err != nil {
		a.fail(err)
		return
	}
	r.mu.Lock()
	r.results[job.src] = res
	delete(r.jobs, job.src)
	r.mu.Unlock()
	if r.trace != nil {
		r.trace("clustered", job.src)
	}
	r.notify()
}

// SaveState (runner thread) writes the clustering state.
func (e *dcExtension) SaveState() (*checkpoint.Dict, error) {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	d := checkpoint.NewDict()
	mode := "sync"
	if r.cfg.async {
		mode = "async"
	}
	d.Set("mode", mode)
	d.Set("installed", int64(r.installed))
	d.Set("last_submitted", int64(r.lastSub))
	res := checkpoint.NewDict()
	for src, x := range r.results {
		t, err := checkpoint.FromInt64([]int64{int64(len(x.labels))}, x.labels)
		if err != nil {
			return nil, err
		}
		one := checkpoint.NewDict()
		one.Set("labels", t)
		one.Set("k", int64(x.k))
		res.Set(strconv.Itoa(src), one)
	}
	d.Set("results", res)
	ch := checkpoint.NewDict()
	for ep, src := range r.chosen {
		ch.Set(strconv.Itoa(ep), int64(src))
	}
	d.Set("chosen", ch)
	if r.cfg.async && r.bank != nil {
		t, err := checkpoint.FromFloat32([]int64{int64(r.n), int64(r.dim)}, r.bank)
		if err != nil {
			return nil, err
		}
		d.Set("bank", t)
		jobs := checkpoint.NewDict()
		for src, f := range r.jobs {
			t, err := checkpoint.FromFloat32([]int64{int64(r.n), int64(r.dim)}, f)
			if err != nil {
				return nil, err
			}
			jobs.Set(strconv.Itoa(src), t)
		}
		d.Set("jobs", jobs)
	}
	d.Set("next_iter", int64(r.runner.state.Iter+1))
	return d, nil
}

// LoadState (runner thread) restores the state and the model's labels
// (without re-initialising the head: its weights come from the checkpoint).
func (e *dcExtension) LoadState(d *checkpoint.Dict) error {
	r := e.r
	getInt := func(key string) (int, error) {
		v, ok := d.Get(key)
		if !ok {
			return 0, fmt.Errorf("no %q", key)
		}
		x, ok := v.(int64)
		if !ok {
			return 0, fmt.Errorf("%q is %T", key, v)
		}
		return int(x), nil
	}
	if v, _ := d.Get("mode"); (v == "async") != r.cfg.async {
		return fmt.Errorf("checkpoint clustered in %v mode, the config asks for the other", v)
	}
	installed, err := getInt("installed")
	if err != nil {
		return err
	}
	lastSub, err := getInt("last_submitted")
	if err != nil {
		return err
	}
	next, err := getInt("next_iter")
	if err != nil {
		return err
	}
	results, err := d.Dict("results")
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = map[int]*dcResult{}
	for _, key := range results.StringKeys() {
		src, err := strconv.Atoi(key)
		if err != nil {
			return fmt.Errorf("results key %q", key)
		}
		one, err := results.Dict(key)
		if err != nil {
			return err
		}
		t, err := one.Tensor("labels")
		if err != nil {
			return err
		}
		labels, err := t.Int64s()
		if err != nil {
			return err
		}
		if len(labels) != r.n {
			return fmt.Errorf("results %s: %d labels for %d samples", key, len(labels), r.n)
		}
		k, _ := one.Get("k")
		kk, _ := k.(int64)
		r.results[src] = &dcResult{labels: labels, k: int(kk)}
	}
	r.chosen = map[int]int{}
	if ch, err := d.Dict("chosen"); err == nil {
		for _, key := range ch.StringKeys() {
			ep, err := strconv.Atoi(key)
			if err != nil {
				return fmt.Errorf("chosen key %q", key)
			}
			v, _ := ch.Get(key)
			src, _ := v.(int64)
			r.chosen[ep] = int(src)
		}
	}
	if r.cfg.async {
		t, err := d.Tensor("bank")
		if err != nil {
			return err
		}
		if len(t.Shape) != 2 || int(t.Shape[0]) != r.n {
			return fmt.Errorf("bank of shape %v for %d samples", t.Shape, r.n)
		}
		if r.bank, err = t.Float32s(); err != nil {
			return err
		}
		r.dim = int(t.Shape[1])
		r.jobs = map[int][]float32{}
		if jobs, err := d.Dict("jobs"); err == nil {
			for _, key := range jobs.StringKeys() {
				src, err := strconv.Atoi(key)
				if err != nil {
					return fmt.Errorf("jobs key %q", key)
				}
				t, err := jobs.Tensor(key)
				if err != nil {
					return err
				}
				if r.jobs[src], err = t.Float32s(); err != nil {
					return err
				}
			}
		}
	}
	r.lastSub = lastSub
	if ipe := r.runner.ItersPerEpoch; ipe > 0 {
		r.start = next / ipe
	}
	r.installed = noSource
	if res := r.results[installed]; res != nil {
		if err := r.algo.SetPseudoLabels(res.labels); err != nil {
			return err
		}
		r.installed = installed
		if r.cfg.reweight {
			w, err := cluster.ReweightLabels(res.labels, r.algo.NumClasses(), r.cfg.reweightPow)
			if err != nil {
				return err
			}
			if err := r.algo.SetClassWeights(w); err != nil {
				return err
			}
		}
	}
	return nil
}
