package actors

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/cluster"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/eval"
	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/flowssl/flowssl/memory"
	"github.com/flowssl/flowssl/model"
)

func init() {
	RegisterExtension("ODC", buildODCMemory)
	RegisterHook("ODCHook", buildODCHook)
}

// odcMemory is ODC's samples and centroids memory (memory.ODCMemory) run by
// a Memory actor (see memoryActor for the protocol), attached to the
// algorithm as its model.ODCBank. Per step the actor answers the batch's
// pseudo-labels and class weights, then, on the update the step sends
// without waiting, applies update_samples_memory followed (when the config
// has an ODCHook) by the hook's maintenance: centroids every centroids_update_interval iterations,
// small clusters every deal_with_small_clusters_interval, re-weighting
// every iteration, cluster-size statistics every evaluate_interval. The
// initial clustering is the config's DeepClusterHook with init_memory
// (extract the neck's features of the whole set, k-means, initialise the
// memory, re-weight, re-initialise the classifier); it runs when the
// actor starts, unless the run resumes, and again after every interval
// epochs if that falls inside the run. State (memory and loss weights) is
// saved in checkpoints, which MMSelfSup does not do.
//
// On several nodes every rank keeps a whole memory, as MMSelfSup's ranks
// do: each step's indices and features are all-gathered before the
// update (gatherUpdate), so every rank applies the same updates in the
// same order; the clustering extracts in shards and rank 0's k-means
// labels are broadcast (recluster). The maintenance is seeded by the
// iteration, so the ranks' memories stay the same.
type odcMemory struct {
	algo    *model.ODC
	cfg     memory.ODCMemoryConfig
	seed    int64
	device  gotch.Device
	stage   *Stage
	log     zerolog.Logger
	workDir string
	runner  *Runner
	dc      *odcClustering // nil: the config has no DeepClusterHook
	hook    *odcHook       // set by the ODCHook's BeforeRun
	dist    Distributed    // multi-node: sharded extraction, gathered updates

	pending *checkpoint.Dict
	client  *memoryClient

	// Owned by the actor's thread.
	mem      *memory.ODCMemory
	weights  []float32 // current loss weights; nil: plain CE
	ratio    float64   // change_ratio of the last update
	updated  bool
	restored bool
}

// odcClustering is DeepClusterHook's settings as ODC uses them.
type odcClustering struct {
	k, pcaDim      int
	reweight       bool
	reweightPow    float64
	initMemory     bool
	initial        bool
	interval       int
	src            data.Source
	aug            Augmenter
	batch, workers int
}

func buildODCMemory(env *ExtensionEnv) (Extension, error) {
	algo, ok := env.Runner.Algorithm.(*model.ODC)
	if !ok {
		return nil, fmt.Errorf("ODC memory: algorithm is %T", env.Runner.Algorithm)
	}
	cfg := algo.MemoryConfig()
	if n := env.Source.Len(); cfg.Length != n {
		return nil, fmt.Errorf("model.memory_bank.length %d: the training set has %d samples (one memory row each)", cfg.Length, n)
	}
	dev := env.Setup.Device
	if dev.Name == "" {
		dev = gotch.CPU
	}
	o := &odcMemory{algo: algo, cfg: cfg, seed: env.Setup.Seed, device: dev, stage: env.Metrics.Stage("memory", 1),
		log: env.Log, workDir: env.Setup.WorkDir, runner: env.Runner, ratio: math.NaN(), dist: env.Setup.Dist}
	if multiRank(o.dist) && cfg.Length >= 1<<24 {
		return nil, fmt.Errorf("model.memory_bank.length %d: several nodes gather sample indices as float32, exact below 2^24", cfg.Length)
	}
	var hooks []any
	if v, err := tree.Lookup(env.Config.Tree, "custom_hooks"); err == nil {
		hooks, _ = tree.ToPlain(v).([]any)
	}
	for i, h := range hooks {
		m, _ := h.(map[string]any)
		if m == nil || m["type"] != "DeepClusterHook" {
			continue
		}
		dc, err := parseODCClustering(env, m)
		if err != nil {
			return nil, fmt.Errorf("custom_hooks[%d] (DeepClusterHook): %w", i, err)
		}
		o.dc = dc
	}
	if o.dc == nil || !o.dc.initMemory {
		return nil, fmt.Errorf("ODC needs a DeepClusterHook with init_memory: true in custom_hooks to initialise its memory")
	}
	return o, nil
}

// hookInt reads an integer key of a hook's dict (absent: unchanged).
func hookInt(m map[string]any, key string, dst *int) error {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	switch x := v.(type) {
	case int:
		*dst = x
	case int64:
		*dst = int(x)
	case float64:
		if x != math.Trunc(x) {
			return fmt.Errorf("%s: want an integer, got %v", key, v)
		}
		*dst = int(x)
	default:
		return fmt.Errorf("%s: want an integer, got %v", key, v)
	}
	return nil
}

// hookBool reads a bool key of a hook's dict (absent: unchanged).
func hookBool(m map[string]any, key string, dst *bool) error {
	if v, ok := m[key]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%s: want a bool, got %v", key, v)
		}
		*dst = b
	}
	return nil
}

func parseODCClustering(env *ExtensionEnv, m map[string]any) (*odcClustering, error) {
	dc := &odcClustering{reweightPow: 0.5, initial: true, interval: 1, pcaDim: -1, batch: 64, workers: 1}
	for _, err := range []error{hookBool(m, "reweight", &dc.reweight), hookBool(m, "init_memory", &dc.initMemory),
		hookBool(m, "initial", &dc.initial), hookInt(m, "interval", &dc.interval)} {
		if err != nil {
			return nil, err
		}
	}
	if v, ok := m["reweight_pow"]; ok && v != nil {
		f, ok := v.(float64)
		if !ok {
			return nil, fmt.Errorf("reweight_pow: want a number, got %v", v)
		}
		dc.reweightPow = f
	}
	var unif bool
	if err := hookBool(m, "unif_sampling", &unif); err != nil {
		return nil, err
	}
	if unif {
		return nil, fmt.Errorf("unif_sampling: true is DeepCluster's; ODC samples uniformly over the data (false)")
	}
	cl, _ := m["clustering"].(map[string]any)
	if cl == nil || cl["type"] != "Kmeans" {
		return nil, fmt.Errorf("clustering: want type Kmeans, got %v", m["clustering"])
	}
	if err := hookInt(cl, "k", &dc.k); err != nil {
		return nil, fmt.Errorf("clustering.%w", err)
	}
	if err := hookInt(cl, "pca_dim", &dc.pcaDim); err != nil {
		return nil, fmt.Errorf("clustering.%w", err)
	}
	if nc := env.Runner.Algorithm.(*model.ODC).MemoryConfig().NumClasses; dc.k != nc {
		return nil, fmt.Errorf("clustering.k %d differs from model.memory_bank.num_classes %d", dc.k, nc)
	}
	ex, _ := m["extractor"].(map[string]any)
	if ex == nil {
		return nil, fmt.Errorf("extractor: missing")
	}
	if err := hookInt(ex, "imgs_per_gpu", &dc.batch); err != nil { // deprecated alias
		return nil, fmt.Errorf("extractor.%w", err)
	}
	if err := hookInt(ex, "samples_per_gpu", &dc.batch); err != nil {
		return nil, fmt.Errorf("extractor.%w", err)
	}
	if err := hookInt(ex, "workers_per_gpu", &dc.workers); err != nil {
		return nil, fmt.Errorf("extractor.%w", err)
	}
	ds, _ := ex["dataset"].(map[string]any)
	if ds == nil {
		return nil, fmt.Errorf("extractor.dataset: missing")
	}
	dc.src = env.Source
	if sc, ok := ds["data_source"].(map[string]any); ok {
		src, err := data.Build(sc)
		if err != nil {
			return nil, fmt.Errorf("extractor.dataset.data_source: %w", err)
		}
		dc.src = src
	}
	if dc.src.Len() != env.Source.Len() {
		return nil, fmt.Errorf("extractor.dataset has %d samples, the training set %d", dc.src.Len(), env.Source.Len())
	}
	if env.Setup.Views == nil {
		return nil, fmt.Errorf("no view builder for extractor.dataset")
	}
	aug, err := env.Setup.Views(ds, uint64(env.Setup.Seed))
	if err != nil {
		return nil, fmt.Errorf("extractor.dataset: %w", err)
	}
	dc.aug = aug
	dc.batch, dc.workers = max(1, dc.batch), max(1, dc.workers)
	return dc, nil
}

// Name keys the memory in checkpoints (after model.memory_bank).
func (o *odcMemory) Name() string { return "memory_bank" }

// Priority is DeepClusterHook's (NORMAL): the memory is also the hook that
// re-clusters after every interval epochs.
func (o *odcMemory) Priority() int { return PriorityNormal }

// AfterTrainEpoch is DeepClusterHook.after_train_epoch for ODC (the
// shipped configs set interval so large that it never runs).
func (o *odcMemory) AfterTrainEpoch(s *RunState) error {
	dc := o.dc
	if dc.interval <= 0 || (s.Epoch+1)%dc.interval != 0 || s.Iter+1 >= s.MaxIters {
		return nil
	}
	// The runner's thread is this one.
	return o.recluster(s.Epoch+1, func(f func() error) error { return f() })
}

// Spawn creates the memory on the actor's thread and, unless the run
// resumes, runs the initial clustering.
func (o *odcMemory) Spawn(root *actor.RootContext, props func(st *Stage, p actor.Producer) *actor.Props, fail func(error)) (func(), error) {
	init := func() error {
		mem, err := memory.NewODCMemory(o.cfg, o.device)
		if err != nil {
			return err
		}
		o.mem = mem
		if o.pending != nil {
			err := o.load(o.pending)
			o.pending = nil
			return err
		}
		return nil
	}
	closeFn := func() {
		if o.mem != nil {
			o.mem.Close()
			o.mem = nil
		}
	}
	c, stop, err := spawnMemory(root, props, o.stage, fail, init, closeFn)
	if err != nil {
		return nil, fmt.Errorf("ODC memory: %w", err)
	}
	o.client = c
	if !o.restored && o.dc.initial {
		// The runner's thread is idle until the trainer starts.
		if err := o.recluster(0, o.runner.Pinned.Do); err != nil {
			stop()
			return nil, err
		}
	}
	o.algo.SetBank(odcBank{o})
	return func() {
		o.algo.SetBank(nil)
		stop()
	}, nil
}

// recluster is DeepClusterHook.deepcluster for ODC: extract the neck's
// features of the whole set (model in eval mode), k-means, save the labels
// as cluster_epoch_{epoch}.npy, initialise the memory with features and
// labels, re-weight, and re-initialise the classifier through onRunner.
//
// On several nodes each rank extracts its shard and the shards are
// gathered (extractShards); rank 0 runs k-means and broadcasts the labels,
// and every rank initialises its memory from the same features and
// labels.
func (o *odcMemory) recluster(epoch int, onRunner func(func() error) error) error {
	pinned := model.NewPinned()
	defer pinned.Close()
	extract := func(src data.Source) (eval.Features, error) {
		return Extract(context.Background(), ExtractOptions{Source: src, Augmenter: o.dc.aug, Pinned: pinned, Device: o.device,
			BatchSize: o.dc.batch, Workers: o.dc.workers, Features: func(x *ts.Tensor) (*ts.Tensor, error) {
				if _, err := model.SetGradMode(false); err != nil {
					return nil, err
				}
				return o.algo.ClusterFeatures(x)
			}})
	}
	var feats eval.Features
	var err error
	if !multiRank(o.dist) {
		feats, err = extract(o.dc.src)
	} else {
		n := o.dc.src.Len()
		feats.N = n
		feats.Data, feats.D, err = extractShards(context.Background(), o.dist, n, o.dc.batch, func(lo, hi int) ([]float32, int, error) {
			o.log.Info().Int("rank", o.dist.Rank()).Int("from", lo).Int("to", hi).Int("samples", n).Msg("dist: extracting this rank's shard")
			if lo == hi {
				return nil, 0, nil
			}
			f, err := extract(sourceRange{o.dc.src, lo, hi})
			return f.Data, f.D, err
		})
	}
	if err != nil {
		return fmt.Errorf("ODC clustering: extract: %w", err)
	}
	var given []int64
	if multiRank(o.dist) {
		if o.dist.Rank() == 0 {
			v, err := o.client.ask(odcKmeans{o, feats, epoch})
			if err != nil {
				return fmt.Errorf("ODC clustering: %w", err)
			}
			given = v.([]int64)
		}
		if given, _, err = broadcastLabels(o.dist, given, o.dc.k); err != nil {
			return fmt.Errorf("ODC clustering: %w", err)
		}
		if len(given) != feats.N {
			return fmt.Errorf("ODC clustering: rank 0 sent %d labels for %d samples", len(given), feats.N)
		}
	}
	v, err := o.client.ask(odcInit{o, feats, epoch, given})
	if err != nil {
		return fmt.Errorf("ODC clustering: %w", err)
	}
	labels := v.([]int64)
	if err := os.MkdirAll(o.workDir, 0o755); err != nil {
		return err
	}
	if err := eval.WriteNPY(filepath.Join(o.workDir, fmt.Sprintf("cluster_epoch_%d.npy", epoch)), []int{len(labels)}, labels); err != nil {
		return err
	}
	return onRunner(o.algo.ResetHead)
}

// odcInit clusters the extracted features (unless labels are given: rank
// 0's, on several nodes) and initialises the memory (on the actor's
// thread); it answers the labels.
type odcInit struct {
	o      *odcMemory
	feats  eval.Features
	epoch  int
	labels []int64
}

// odcKmeans only clusters (rank 0 of several nodes); it answers the labels.
type odcKmeans struct {
	o     *odcMemory
	feats eval.Features
	epoch int
}

func (m odcKmeans) apply() (any, error) {
	var labels []int64
	err := torchx.Run(func(s *torchx.Scope) error {
		x := s.T(torchx.FromFloat32sOn(m.feats.Data, m.o.device, int64(m.feats.N), int64(m.feats.D)))
		var err error
		labels, err = m.o.kmeans(x, m.epoch)
		return err
	})
	return labels, err
}

// kmeans clusters x with the run's seed for epoch and logs the result.
func (o *odcMemory) kmeans(x *ts.Tensor, epoch int) ([]int64, error) {
	km := cluster.NewKmeans(o.dc.k, o.dc.pcaDim)
	res, err := km.Cluster(x, rand.New(rand.NewPCG(uint64(o.seed), uint64(epoch)<<1|1)))
	if err != nil {
		return nil, err
	}
	res.Close()
	for _, w := range res.Warnings {
		o.log.Warn().Msg("ODC k-means: " + w)
	}
	st := cluster.SizeStats(res.Sizes())
	o.log.Info().Int("epoch", epoch).Int("k", res.K).Int("empty", st.Empty).Int64("min", st.Min).Int64("max", st.Max).
		Float64("objective", last(res.Obj)).Msg("ODC clustering")
	return res.Labels, nil
}

func (m odcInit) apply() (any, error) {
	o := m.o
	labels := m.labels
	err := torchx.Run(func(s *torchx.Scope) error {
		x := s.T(torchx.FromFloat32sOn(m.feats.Data, o.device, int64(m.feats.N), int64(m.feats.D)))
		if labels == nil {
			var err error
			if labels, err = o.kmeans(x, m.epoch); err != nil {
				return err
			}
		}
		return o.mem.InitMemory(x, labels)
	})
	if err != nil {
		return nil, err
	}
	if o.dc.reweight {
		w, err := o.mem.Reweight(o.dc.reweightPow)
		if err != nil {
			return nil, err
		}
		o.weights = w
	}
	return labels, nil
}

func last(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[len(xs)-1]
}

// SaveState asks the actor for the memory and the loss weights.
//
// Before the actor runs (a multi-node run's start, where rank 0's state is
// snapshotted for the other ranks before the dataflow spawns anything) it
// returns the state waiting for Spawn, or an empty dict.
func (o *odcMemory) SaveState() (*checkpoint.Dict, error) {
	if o.client == nil {
		if o.pending != nil {
			return o.pending, nil
		}
		return checkpoint.NewDict(), nil
	}
	v, err := o.client.ask(odcSave{o})
	if err != nil {
		return nil, err
	}
	return v.(*checkpoint.Dict), nil
}

// LoadState restores the memory (for Spawn when the actor does not run
// yet: a resumed run then skips the initial clustering).
func (o *odcMemory) LoadState(d *checkpoint.Dict) error {
	if d.Len() == 0 {
		return nil // saved before the memory existed: nothing to restore
	}
	o.restored = true
	if o.client == nil {
		o.pending = d
		return nil
	}
	_, err := o.client.ask(odcLoad{o, d})
	return err
}

// load runs on the actor's thread.
func (o *odcMemory) load(d *checkpoint.Dict) error {
	st, err := tensorsFromDict(d, "feature_bank", "label_bank", "centroids")
	if err != nil {
		return fmt.Errorf("ODC memory state: %w", err)
	}
	defer memory.DropState(st)
	if err := o.mem.LoadState(st); err != nil {
		return err
	}
	o.weights = nil
	if w, err := d.Tensor("loss_weight"); err == nil {
		if o.weights, err = w.Float32s(); err != nil {
			return fmt.Errorf("ODC memory state loss_weight: %w", err)
		}
		if len(o.weights) != o.cfg.NumClasses {
			return fmt.Errorf("ODC memory state loss_weight has %d classes, want %d", len(o.weights), o.cfg.NumClasses)
		}
	}
	return nil
}

type odcSave struct{ o *odcMemory }

func (m odcSave) apply() (any, error) {
	st, err := m.o.mem.State()
	if err != nil {
		return nil, err
	}
	d, err := tensorsToDict(st)
	if err != nil {
		return nil, err
	}
	if m.o.weights != nil {
		w, err := checkpoint.FromFloat32([]int64{int64(len(m.o.weights))}, m.o.weights)
		if err != nil {
			return nil, err
		}
		d.Set("loss_weight", w)
	}
	return d, nil
}

type odcLoad struct {
	o *odcMemory
	d *checkpoint.Dict
}

func (m odcLoad) apply() (any, error) { return nil, m.o.load(m.d) }

// odcBank is the algorithm's model.ODCBank.
type odcBank struct{ o *odcMemory }

func (b odcBank) Labels(iter int, idx []int64) (model.ODCLabels, error) {
	v, err := b.o.client.ask(odcLabels{b.o, iter, idx})
	if err != nil {
		return model.ODCLabels{}, err
	}
	return v.(model.ODCLabels), nil
}

func (b odcBank) Update(iter int, idx []int64, feat *ts.Tensor) error {
	if multiRank(b.o.dist) {
		var err error
		if idx, feat, err = gatherUpdate(b.o.dist, idx, feat); err != nil {
			return fmt.Errorf("ODC memory update, iter %d: %w", iter+1, err)
		}
	}
	if err := b.o.client.tell(odcUpdate{b.o, iter, idx, feat}); err != nil {
		feat.MustDrop()
		return err
	}
	return nil
}

type odcLabels struct {
	o    *odcMemory
	iter int
	idx  []int64
}

func (m odcLabels) apply() (any, error) {
	o := m.o
	l, err := o.mem.Labels(m.idx)
	if err != nil {
		return nil, err
	}
	out := model.ODCLabels{Labels: l, ChangeRatio: math.NaN()}
	if o.updated {
		out.ChangeRatio = o.ratio
	}
	if o.weights != nil {
		if out.Weights, err = torchx.FromFloat32s(o.weights, int64(len(o.weights))); err != nil {
			l.MustDrop()
			return nil, err
		}
	}
	return out, nil
}

type odcUpdate struct {
	o    *odcMemory
	iter int
	idx  []int64
	feat *ts.Tensor
}

func (m odcUpdate) apply() (any, error) {
	defer m.feat.MustDrop()
	r, err := m.o.mem.UpdateSamples(m.idx, m.feat)
	if err != nil {
		return nil, fmt.Errorf("iter %d: %w", m.iter, err)
	}
	m.o.ratio, m.o.updated = r, true
	if m.o.hook != nil {
		return nil, m.o.maintain(m.o.hook, m.iter)
	}
	return nil, nil
}

// maintain is ODCHook.after_train_iter for iteration iter, on the actor's
// thread right after that iteration's samples update. It reads and writes
// only the memory, so running it before the optimizer step (rather than
// after it) changes nothing, and a checkpoint taken in after_train_iter
// already holds it.
func (o *odcMemory) maintain(h *odcHook, iter int) error {
	it := iter + 1
	if h.centroidsInterval > 0 && it%h.centroidsInterval == 0 {
		if err := o.mem.UpdateCentroids(nil); err != nil {
			return err
		}
	}
	if h.smallInterval > 0 && it%h.smallInterval == 0 {
		rep, err := o.mem.DealWithSmallClusters(rand.New(rand.NewPCG(uint64(o.seed)^0x6f6463, uint64(iter))))
		if err != nil {
			return err
		}
		if rep.Small.Any() {
			o.log.Debug().Int("iter", it).Uint("small", rep.Small.Count()).Int("moved", rep.Moved).Int("random_splits", rep.RandomSplits).
				Msg("ODC small clusters")
		}
	}
	// ODCHook calls set_reweight() every iteration with its default power
	// 0.5, whatever its reweight flag and reweight_pow say.
	w, err := o.mem.Reweight(0.5)
	if err != nil {
		return err
	}
	o.weights = w
	if h.evaluateInterval > 0 && it%h.evaluateInterval == 0 {
		st, err := o.mem.Stats()
		if err != nil {
			return err
		}
		o.log.Info().Int("iter", it).Int("empty", st.Empty).Int64("min", st.Min).Int64("max", st.Max).Msg("ODC cluster sizes")
	}
	return nil
}

// odcLabelBank answers the whole label bank.
type odcLabelBank struct{ o *odcMemory }

func (m odcLabelBank) apply() (any, error) { return m.o.mem.LabelBank() }

// odcHook is ODCHook: it attaches its intervals to the ODC memory, whose
// actor runs the per-iteration maintenance after each samples update
// (odcMemory.maintain), never on the step's thread; every 10 epochs the
// label bank is saved as cluster_epoch_{epoch+1}.npy.
type odcHook struct {
	centroidsInterval, smallInterval, evaluateInterval int
	priority                                           int
	mem                                                *odcMemory
}

func buildODCHook(cfg map[string]any, priority int) (Hook, error) {
	h := &odcHook{priority: priority}
	for _, kv := range []struct {
		key string
		dst *int
	}{{"centroids_update_interval", &h.centroidsInterval}, {"deal_with_small_clusters_interval", &h.smallInterval},
		{"evaluate_interval", &h.evaluateInterval}} {
		if _, ok := cfg[kv.key]; !ok {
			return nil, fmt.Errorf("%s: missing", kv.key)
		}
		if err := hookInt(cfg, kv.key, kv.dst); err != nil {
			return nil, err
		}
		if *kv.dst < 1 {
			return nil, fmt.Errorf("%s: %d must be ≥ 1", kv.key, *kv.dst)
		}
	}
	for k := range cfg {
		switch k {
		case "type", "priority", "centroids_update_interval", "deal_with_small_clusters_interval", "evaluate_interval",
			"reweight", "reweight_pow", "dist_mode":
		default:
			return nil, fmt.Errorf("%s: unknown ODCHook key", k)
		}
	}
	return h, nil
}

func (h *odcHook) Name() string  { return "ODCHook" }
func (h *odcHook) Priority() int { return h.priority }

func (h *odcHook) BeforeRun(s *RunState) error {
	for _, e := range s.Runner.Extensions {
		if o, ok := e.(*odcMemory); ok {
			h.mem, o.hook = o, h
			return nil
		}
	}
	return fmt.Errorf("needs an ODC model (its memory), have %s", s.Runner.Algorithm.Type())
}

func (h *odcHook) AfterTrainEpoch(s *RunState) error {
	if (s.Epoch+1)%10 != 0 {
		return nil
	}
	o := h.mem
	v, err := o.client.ask(odcLabelBank{o})
	if err != nil {
		return err
	}
	labels := v.([]int64)
	return eval.WriteNPY(filepath.Join(o.workDir, fmt.Sprintf("cluster_epoch_%d.npy", s.Epoch+1)), []int{len(labels)}, labels)
}
