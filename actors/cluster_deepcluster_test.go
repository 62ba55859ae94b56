package actors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/cluster"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
)

// dcTrace records what a DeepCluster run did, in order.
type dcTrace struct {
	mu     sync.Mutex
	events []dcEvent
	delay  time.Duration
}

type dcEvent struct {
	op      string  // extract, cluster, assign_labels, uniform_indices, reweight, init_head, train_epoch, step, submit, clustered
	epoch   int     // the source epoch of a clustering op, the epoch of train_epoch/step/uniform_indices
	labels  *int64  // step / assign_labels: the label table in force
	table   []int64 // step: a copy of it
	indices []int   // step: the batch
	at      time.Time
}

func (tr *dcTrace) add(e dcEvent) {
	tr.mu.Lock()
	e.at = time.Now()
	tr.events = append(tr.events, e)
	tr.mu.Unlock()
}

func (tr *dcTrace) all() []dcEvent {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.events)
}

// dcTraces maps a ClusterTraceHook's id to its trace (test registry).
var dcTraces sync.Map

// clusterTraceHook wires a dcTrace into the run's DeepClusterHook and
// records every step's labels and indices.
type clusterTraceHook struct {
	tr *dcTrace
	dc *deepClusterHook
}

func init() {
	RegisterHook("ClusterTraceHook", func(cfg map[string]any, _ int) (Hook, error) {
		v, ok := dcTraces.Load(cfg["id"])
		if !ok {
			return nil, fmt.Errorf("no trace %v", cfg["id"])
		}
		return &clusterTraceHook{tr: v.(*dcTrace)}, nil
	})
}

func (h *clusterTraceHook) Name() string  { return "ClusterTraceHook" }
func (h *clusterTraceHook) Priority() int { return PriorityLowest }

func (h *clusterTraceHook) Attach(r *Runner) error {
	for _, x := range r.hooks {
		if d, ok := x.(*deepClusterHook); ok {
			h.dc = d
		}
	}
	if h.dc == nil {
		return fmt.Errorf("no DeepClusterHook")
	}
	h.dc.trace = func(op string, epoch int) {
		e := dcEvent{op: op, epoch: epoch}
		if op == "assign_labels" {
			if l := h.labels(r); l != nil {
				e.labels = l
			}
		}
		h.tr.add(e)
	}
	if h.tr.delay > 0 {
		h.dc.wrap = func(c cluster.Clusterer) cluster.Clusterer { return slowClusterer{c, h.tr.delay} }
	}
	return nil
}

func (h *clusterTraceHook) labels(r *Runner) *int64 {
	if l := r.Algorithm.(clusterAlgo).(interface{ PseudoLabels() []int64 }).PseudoLabels(); len(l) > 0 {
		return &l[0]
	}
	return nil
}

func (h *clusterTraceHook) BeforeTrainIter(s *RunState) error {
	table := slices.Clone(s.Runner.Algorithm.(interface{ PseudoLabels() []int64 }).PseudoLabels())
	h.tr.add(dcEvent{op: "step", epoch: s.Epoch, labels: h.labels(s.Runner), table: table, indices: slices.Clone(s.Runner.lastBatch.Indices)})
	return nil
}

// slowClusterer makes each clustering take at least delay longer.
type slowClusterer struct {
	c     cluster.Clusterer
	delay time.Duration
}

func (s slowClusterer) Cluster(x *ts.Tensor, rng *rand.Rand) (*cluster.Result, error) {
	time.Sleep(s.delay)
	return s.c.Cluster(x, rng)
}

// dcView is a cheap one-view augmenter: the 16-px Shapes image, flipped
// at random when train is set, scaled to [-1, 1].
func dcView(train bool) AugmentFunc {
	return func(s data.Sample, epoch int) ([]View, []int64, error) {
		im := s.Image
		flip := train && rand.New(rand.NewPCG(uint64(epoch), uint64(s.Index))).IntN(2) == 1
		d := make([]float32, 3*im.H*im.W)
		for c := 0; c < 3; c++ {
			for y := 0; y < im.H; y++ {
				for x := 0; x < im.W; x++ {
					sx := x
					if flip {
						sx = im.W - 1 - x
					}
					d[(c*im.H+y)*im.W+x] = float32(im.Pix[(y*im.W+sx)*im.C+c%im.C])/127.5 - 1
				}
			}
		}
		return []View{{C: 3, H: im.H, W: im.W, Data: d}}, []int64{-1}, nil
	}
}

// dcConfigFile writes a tiny DeepCluster config (32 Shapes images of
// 16 px, batch 8, k = 4) over the shipped CPU config.
func dcConfigFile(t *testing.T, id, mode string, epochs int) *configs.Config {
	t.Helper()
	base, err := filepath.Abs("../configs/selfsup/deepcluster/deepcluster-sobel_resnet18_shapes-64px_cpu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`_base_: %s
data:
  samples_per_gpu: 8
  workers_per_gpu: 1
  drop_last: true
  train:
    data_source: {num_samples: 32, size: 16}
custom_hooks:
  - type: DeepClusterHook
    extractor:
      samples_per_gpu: 16
      workers_per_gpu: 1
      dataset:
        type: DeepClusterDataset
        data_source: {type: Shapes, num_samples: 32, size: 16, seed: 0}
        pipeline: []
    clustering: {type: Kmeans, k: 4, pca_dim: 8, mode: %s}
    unif_sampling: true
    reweight: true
    reweight_pow: 0.5
    initial: true
    interval: 1
  - type: ClusterTraceHook
    id: %s
runner: {max_epochs: %d}
checkpoint_config: {interval: 1, max_keep_ckpts: -1}
log_config: {interval: 100}
`, base, mode, id, epochs)
	path := filepath.Join(t.TempDir(), "dc.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path, configs.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func dcTrain(t *testing.T, cfg *configs.Config, dir, resume string, m *Metrics) *Result {
	t.Helper()
	res, err := Train(context.Background(), cfg, Setup{
		WorkDir: dir, Seed: 11, Deterministic: true, Workers: 1, Threads: 1, ResumeFrom: resume, Version: "test",
		Logger: zerolog.Nop(), Metrics: m,
		Views: func(ds map[string]any, _ uint64) (Augmenter, error) {
			return dcView(ds["pipeline"] == nil), nil // the extractor's dataset has pipeline: []
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func newTrace(t *testing.T, delay time.Duration) (string, *dcTrace) {
	id := strings.ReplaceAll(t.Name(), "/", "_")
	tr := &dcTrace{delay: delay}
	dcTraces.Store(id, tr)
	t.Cleanup(func() { dcTraces.Delete(id) })
	return id, tr
}

// dcState reads the DeepClusterHook state of a checkpoint.
func dcState(t *testing.T, path string) *checkpoint.Dict {
	t.Helper()
	ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	all, err := ck.Extra.Dict(stateKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := all.Dict("DeepClusterHook")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func dcLabels(t *testing.T, d *checkpoint.Dict, src int) []int64 {
	t.Helper()
	res, err := d.Dict("results")
	if err != nil {
		t.Fatal(err)
	}
	one, err := res.Dict(fmt.Sprint(src))
	if err != nil {
		t.Fatalf("results %d: %v", src, err)
	}
	x, err := one.Tensor("labels")
	if err != nil {
		t.Fatal(err)
	}
	l, err := x.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Sync mode is MMSelfSup's order: cluster (extract, k-means, assign
// labels, uniform indices, re-weight, re-initialise the head) before the
// first epoch and after every epoch but the last, each epoch training
// only on the labels of the clustering right before it, in the uniform
// order drawn from them. A run resumed from the epoch-1 checkpoint redoes
// that epoch's clustering and ends with the same weights and labels.
func TestDeepClusterSyncOrderAndResume(t *testing.T) {
	const epochs = 3
	id, tr := newTrace(t, 0)
	cfg := dcConfigFile(t, id, "sync", epochs)
	dir := t.TempDir()
	res := dcTrain(t, cfg, dir, "", nil)
	if res.Iters != 12 {
		t.Fatalf("ran %d iterations, want 12", res.Iters)
	}
	ev := tr.all()

	// The clustering operations, in order, without the steps and plans.
	var ops []string
	for _, e := range ev {
		if e.op != "step" && e.op != "uniform_indices" {
			ops = append(ops, fmt.Sprintf("%s %d", e.op, e.epoch))
		}
	}
	var want []string
	for src := -1; src < epochs-1; src++ {
		for _, op := range []string{"extract", "cluster", "assign_labels", "reweight", "init_head"} {
			want = append(want, fmt.Sprintf("%s %d", op, src))
		}
		want = append(want, fmt.Sprintf("train_epoch %d", src+1))
	}
	if !slices.Equal(ops, want) {
		t.Fatalf("operations\n%v\nwant MMSelfSup's\n%v", ops, want)
	}

	// Every step of epoch e uses the table assigned by the clustering
	// after epoch e−1; the uniform order is drawn after the labels are
	// assigned and before the epoch's first step.
	table := map[int]*int64{}
	assigned := map[int]int{} // src → event position
	planned := map[int]int{}
	firstStep := map[int]int{}
	orders := map[int][]int{}
	for i, e := range ev {
		switch e.op {
		case "assign_labels":
			table[e.epoch], assigned[e.epoch] = e.labels, i
		case "uniform_indices":
			planned[e.epoch] = i
		case "step":
			if _, ok := firstStep[e.epoch]; !ok {
				firstStep[e.epoch] = i
			}
			if e.labels != table[e.epoch-1] {
				t.Fatalf("a step of epoch %d trained on another label table than the clustering after epoch %d", e.epoch, e.epoch-1)
			}
			orders[e.epoch] = append(orders[e.epoch], e.indices...)
		}
	}
	for e := 0; e < epochs; e++ {
		p, ok := planned[e]
		if !ok || p < assigned[e-1] || p > firstStep[e] {
			t.Fatalf("epoch %d: uniform order drawn at event %d (labels assigned at %d, first step at %d)", e, p, assigned[e-1], firstStep[e])
		}
	}

	// The epochs' orders are UniformIndices of the labels before them.
	final := dcState(t, filepath.Join(dir, "epoch_3.pth"))
	labels2 := dcLabels(t, final, 1)
	rng := rand.New(rand.NewPCG(11, uint64(2)^0xdc5a3e1f))
	want2, err := cluster.UniformIndices(labels2, 4, 32, rng)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range orders[2] {
		if int64(v) != want2[i] {
			t.Fatalf("epoch 2 order %v, want the uniform draw %v", orders[2], want2[:32])
		}
	}
	sizes, _ := cluster.Histogram(labels2, 4)
	drawn := map[int64]int{}
	for _, v := range orders[2] {
		drawn[labels2[v]]++
	}
	for c, n := range sizes { // ⌊32/4⌋+1 = 9 draws per cluster before the cut to 32
		if n > 0 && drawn[int64(c)] < 4 {
			t.Fatalf("cluster %d (size %d) drawn %d times in epoch 2, want about 8 (uniform over clusters): %v", c, n, drawn[int64(c)], sizes)
		}
	}

	// Resume from the end of epoch 2: the clustering after it is redone
	// before training, with the same result.
	id2, tr2 := newTrace(t, 0)
	cfg2 := dcConfigFile(t, id2, "sync", epochs)
	_ = id2
	dir2 := t.TempDir()
	res2 := dcTrain(t, cfg2, dir2, filepath.Join(dir, "epoch_2.pth"), nil)
	if res2.Iters != 12 {
		t.Fatalf("resumed run ended at iteration %d, want 12", res2.Iters)
	}
	ev2 := tr2.all()
	if len(ev2) == 0 || ev2[0].op != "extract" || ev2[0].epoch != 1 {
		t.Fatalf("resumed run began with %v, want the clustering after epoch 2 (source 1)", ev2[:1])
	}
	sameState(t, stateBytes(t, filepath.Join(dir, "epoch_3.pth")), stateBytes(t, filepath.Join(dir2, "epoch_3.pth")))
	if got := dcLabels(t, dcState(t, filepath.Join(dir2, "epoch_3.pth")), 1); !slices.Equal(got, labels2) {
		t.Fatal("the resumed run clustered differently after epoch 2")
	}
	if _, err := os.Stat(filepath.Join(dir, "cluster_epoch_1.npy")); err != nil {
		t.Fatalf("cluster_epoch_1.npy: %v", err)
	}
}

// Async mode: the Clusterer actor clusters while training goes on. With
// every clustering slowed by 1 s (longer than an epoch here), steps run
// while each job is in flight, the trainer's waiting time stays a small
// fraction of the run (trainer stage metrics), the step is held only for
// the bank copy (deepcluster-hold) while the clusterer stage is busy for
// seconds, epoch e trains on labels from epoch e−2 or earlier, and a
// resumed run restores the bank, labels and queued jobs.
func TestDeepClusterAsyncNeverWaits(t *testing.T) {
	const epochs, delay = 5, time.Second
	id, tr := newTrace(t, delay)
	cfg := dcConfigFile(t, id, "async", epochs)
	dir := t.TempDir()
	m := NewMetrics()
	t0 := time.Now()
	res := dcTrain(t, cfg, dir, "", m)
	elapsed := time.Since(t0)
	if res.Iters != 4*epochs {
		t.Fatalf("ran %d iterations, want 24", res.Iters)
	}
	ev := tr.all()
	snap := map[string]Snapshot{}
	for _, st := range m.Stages() {
		snap[st.Name] = st.Snapshot()
	}
	var submitted []int
	var start time.Time
	overlapped := 0
	inFlight := map[int]time.Time{}
	table := map[int]*int64{-1: nil}
	for _, e := range ev {
		switch e.op {
		case "train_epoch":
			if e.epoch == 0 {
				start = e.at
			}
		case "submit":
			submitted = append(submitted, e.epoch)
			inFlight[e.epoch] = e.at
		case "clustered":
			delete(inFlight, e.epoch)
		case "assign_labels":
			table[e.epoch] = e.labels
		case "step":
			if len(inFlight) > 0 {
				overlapped++
			}
			ok := false
			for src, l := range table {
				if l == e.labels && (src <= e.epoch-2 || src == -1) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("a step of epoch %d trained on labels newer than epoch %d", e.epoch, e.epoch-2)
			}
		}
	}
	if len(submitted) != epochs-2 {
		t.Fatalf("submitted clusterings after epochs %v, want %d (none whose labels no epoch could use)", submitted, epochs-2)
	}
	if overlapped < 4 {
		t.Fatalf("%d steps ran while a clustering was in flight, want training to go on meanwhile", overlapped)
	}
	train := elapsed - start.Sub(t0)
	tw := snap["trainer"].Wait
	hold := snap["deepcluster-hold"].Wait
	t.Logf("training %v, trainer wait %v (%.1f%%), clusterer busy %v, step held by clustering %v (initial extraction included)",
		train.Round(time.Millisecond), tw.Round(time.Millisecond), 100*tw.Seconds()/train.Seconds(), snap["clusterer"].Busy.Round(time.Millisecond), hold.Round(time.Millisecond))
	if snap["clusterer"].Busy < delay {
		t.Fatalf("clusterer busy %v, want at least one %v clustering", snap["clusterer"].Busy, delay)
	}
	if f := tw.Seconds() / train.Seconds(); f > 0.25 {
		t.Fatalf("trainer waited %.0f%% of the run", 100*f)
	}
	if hold >= 2*delay { // the initial clustering (one delay) is the only one that holds the step
		t.Fatalf("the step was held %v by clustering", hold)
	}

	// Resume from epoch 3's checkpoint: state restored, run completes.
	st := dcState(t, filepath.Join(dir, "epoch_3.pth"))
	bank, err := st.Tensor("bank")
	if err != nil || len(bank.Shape) != 2 || bank.Shape[0] != 32 || bank.Shape[1] != 512 {
		t.Fatalf("bank %v (%v), want 32×512", bank, err)
	}
	id2, tr2 := newTrace(t, 10*time.Millisecond)
	_ = id2
	res2 := dcTrain(t, dcConfigFile(t, id2, "async", epochs), t.TempDir(), filepath.Join(dir, "epoch_3.pth"), nil)
	if res2.Iters != 4*epochs {
		t.Fatalf("resumed run ended at iteration %d", res2.Iters)
	}
	// Epoch 3's labels were fixed before the checkpoint when the Loader had
	// already asked for its order; otherwise they are the newest restored
	// clustering of epoch 1 or earlier.
	var want []int64
	if ch, err := st.Dict("chosen"); err == nil {
		if v, ok := ch.Get("3"); ok {
			want = dcLabels(t, st, int(v.(int64)))
		}
	}
	if want == nil {
		res, _ := st.Dict("results")
		best := -2
		for _, k := range res.StringKeys() {
			var src int
			fmt.Sscan(k, &src)
			if src <= 1 && src > best {
				best = src
			}
		}
		want = dcLabels(t, st, best)
	}
	for _, e := range tr2.all() {
		if e.op == "step" && e.epoch == 3 {
			if !slices.Equal(e.table, want) {
				t.Fatalf("resumed epoch 3 trained on %v, the checkpoint's labels for it are %v", e.table, want)
			}
			break
		}
		if e.op == "extract" {
			t.Fatal("the resumed async run extracted features again instead of restoring its bank")
		}
	}
}

// Every shipped config's DeepClusterHook (DeepCluster's and ODC's) builds,
// with MMSelfSup's defaults where a key is absent; bad keys are refused
// with their name.
func TestDeepClusterHookConfigs(t *testing.T) {
	for _, c := range []struct {
		name      string
		k, pca    int
		async     bool
		unif, mem bool
	}{
		{"selfsup/deepcluster/deepcluster-sobel_resnet50_8xb64-steplr-200e_in1k.yaml", 10000, 256, false, true, false},
		{"selfsup/deepcluster/deepcluster-sobel_resnet18_shapes-32px_cpu.yaml", 10, 32, false, true, false},
		{"selfsup/odc/odc_resnet50_8xb64-steplr-440e_in1k.yaml", 10000, -1, false, false, true},
	} {
		cfg, err := configs.Load(c.name, configs.LoadOptions{NoDisk: true})
		if err != nil {
			t.Fatal(err)
		}
		v, err := tree.Lookup(cfg.Tree, "custom_hooks")
		if err != nil {
			t.Fatal(err)
		}
		hooks, err := BuildCustomHooks(tree.ToPlain(v).([]any))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var h *deepClusterHook
		for _, x := range hooks {
			if d, ok := x.(*deepClusterHook); ok {
				h = d
			}
		}
		if h == nil {
			t.Fatalf("%s: no DeepClusterHook", c.name)
		}
		g := h.cfg
		if g.k != c.k || g.pcaDim != c.pca || g.async != c.async || g.unifSampling != c.unif || g.initMemory != c.mem || g.clusterType != "Kmeans" || !g.initial {
			t.Errorf("%s: parsed %+v", c.name, g)
		}
	}
	for _, c := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"extractor": map[string]any{"dataset": map[string]any{}}, "clustering": map[string]any{"type": "Kmeans", "k": 4, "mode": "later"}}, "clustering.mode"},
		{map[string]any{"extractor": map[string]any{"dataset": map[string]any{}}, "clustering": map[string]any{"type": "Kmeans"}}, "clustering.k"},
		{map[string]any{"extractor": map[string]any{"dataset": map[string]any{}}, "clustering": map[string]any{"type": "Kmeans", "k": 4}, "reweight_power": 1}, "reweight_power"},
		{map[string]any{"clustering": map[string]any{"type": "Kmeans", "k": 4}}, "extractor"},
		{map[string]any{"extractor": map[string]any{"dataset": map[string]any{}}, "clustering": map[string]any{"type": "PIC", "sigmaa": 1}}, "sigmaa"},
	} {
		if _, err := buildDeepClusterHook(c.cfg, PriorityNormal); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want one naming %s", c.cfg, err, c.want)
		}
	}
}
