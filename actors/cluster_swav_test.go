package actors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/model"
)

// swavStep is what SwAVTraceHook records after each step.
type swavStep struct {
	epoch, iter int
	useQueue    bool
	protos      []float32
	loss        float64
}

var swavTraces sync.Map // id → *[]swavStep

type swavTraceHook struct{ out *[]swavStep }

func init() {
	RegisterHook("SwAVTraceHook", func(cfg map[string]any, _ int) (Hook, error) {
		v, ok := swavTraces.Load(cfg["id"])
		if !ok {
			return nil, fmt.Errorf("no trace %v", cfg["id"])
		}
		return &swavTraceHook{out: v.(*[]swavStep)}, nil
	})
}

func (h *swavTraceHook) Name() string  { return "SwAVTraceHook" }
func (h *swavTraceHook) Priority() int { return PriorityLowest }
func (h *swavTraceHook) AfterTrainIter(s *RunState) error {
	st := swavStep{epoch: s.Epoch, iter: s.Iter, useQueue: s.Runner.Algorithm.(*model.SwAV).UseQueue(), loss: s.Losses["loss"]}
	for _, e := range model.StateDict(s.Runner.VS) {
		if e.Name == "head.prototypes.weight" {
			c, err := model.ToCheckpointTensor(e.T)
			if err != nil {
				return err
			}
			if st.protos, err = c.Float32s(); err != nil {
				return err
			}
		}
	}
	*h.out = append(*h.out, st)
	return nil
}

// multiCrop is a stand-in for MultiViewDataset [2, 4]: two 16-px and four
// 8-px random crops of the 16-px image.
func multiCrop(s data.Sample, epoch int) ([]View, []int64, error) {
	im := s.Image
	var out []View
	for v := 0; v < 6; v++ {
		size := 16
		if v >= 2 {
			size = 8
		}
		r := rand.New(rand.NewPCG(uint64(epoch)<<20|uint64(s.Index), uint64(v)))
		x0, y0 := r.IntN(im.W-size+1), r.IntN(im.H-size+1)
		d := make([]float32, 3*size*size)
		for c := 0; c < 3; c++ {
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					d[(c*size+y)*size+x] = float32(im.Pix[((y0+y)*im.W+x0+x)*im.C+c%im.C])/127.5 - 1
				}
			}
		}
		out = append(out, View{C: 3, H: size, W: size, Data: d})
	}
	return out, nil, nil
}

func swavConfig(t *testing.T, id string) *configs.Config {
	t.Helper()
	base, err := filepath.Abs("../configs/selfsup/swav/swav_resnet18_shapes-32px-mcrop-2-4_cpu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`_base_: %s
model:
  head: {num_prototypes: 20}
data:
  samples_per_gpu: 8
  workers_per_gpu: 1
  train:
    data_source: {num_samples: 32, size: 16}
optimizer_config:
  frozen_layers_cfg: {prototypes: 3}
custom_hooks:
  - type: SwAVHook
    priority: VERY_HIGH
    batch_size: 8
    epoch_queue_starts: 1
    crops_for_assign: [0, 1]
    feat_dim: 128
    queue_length: 20
  - type: SwAVTraceHook
    id: %s
runner: {max_epochs: 3}
checkpoint_config: {interval: 1, max_keep_ckpts: -1}
log_config: {interval: 100}
`, base, id)
	path := filepath.Join(t.TempDir(), "swav.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path, configs.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func swavRun(t *testing.T, dir, resume string) []swavStep {
	t.Helper()
	var steps []swavStep
	id := fmt.Sprintf("%s_%p", t.Name(), &steps)
	swavTraces.Store(id, &steps)
	defer swavTraces.Delete(id)
	res, err := Train(t.Context(), swavConfig(t, id), Setup{
		WorkDir: dir, Seed: 5, Deterministic: true, Workers: 1, Threads: 1, ResumeFrom: resume, Version: "test",
		Views: func(map[string]any, uint64) (Augmenter, error) { return AugmentFunc(multiCrop), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iters != 12 {
		t.Fatalf("ran to iteration %d, want 12", res.Iters)
	}
	return steps
}

// SwAV through the runner: prototypes stay put (apart from their
// normalisation) for frozen_layers_cfg's first 3 iterations; the queue
// (20 rows rounded down to 16, 2 batches) exists from epoch 1, is used
// once full (from the third step of epoch 1) and reset per epoch; it goes
// into the checkpoint, and a run resumed from epoch 2 uses it from its
// first step and ends with the uninterrupted run's weights.
func TestSwAVHookFreezeQueueAndResume(t *testing.T) {
	dir := t.TempDir()
	steps := swavRun(t, dir, "")
	for i, s := range steps {
		for _, v := range []float64{s.loss} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("step %d loss %v", i, v)
			}
		}
		if i > 0 && i < 3 && !sameFloats(s.protos, steps[i-1].protos) {
			t.Fatalf("prototypes moved at iteration %d, frozen for 3", i)
		}
		if i >= 3 && sameFloats(s.protos, steps[i-1].protos) {
			t.Fatalf("prototypes did not move at iteration %d", i)
		}
		wantQ := s.epoch >= 1 && s.iter%4 >= 2 || s.epoch >= 2
		if s.useQueue != wantQ {
			t.Fatalf("epoch %d iter %d: use_queue %v, want %v", s.epoch, s.iter, s.useQueue, wantQ)
		}
	}
	ck, err := checkpoint.Load(filepath.Join(dir, "epoch_2.pth"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := ck.Extra.Dict(stateKey)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := all.Dict("SwAVHook")
	if err != nil {
		t.Fatal(err)
	}
	q, err := sw.Tensor("queue")
	if err != nil || len(q.Shape) != 3 || q.Shape[0] != 2 || q.Shape[1] != 16 || q.Shape[2] != 128 {
		t.Fatalf("saved queue %v (%v), want 2×16×128", q, err)
	}

	dir2 := t.TempDir()
	resumed := swavRun(t, dir2, filepath.Join(dir, "epoch_2.pth"))
	if len(resumed) != 4 || !resumed[0].useQueue {
		t.Fatalf("resumed run: %d steps, first uses the queue: %v", len(resumed), len(resumed) > 0 && resumed[0].useQueue)
	}
	if math.Abs(resumed[3].loss-steps[11].loss) > 1e-6*math.Max(1, math.Abs(steps[11].loss)) {
		t.Fatalf("resumed final loss %.7f, uninterrupted %.7f", resumed[3].loss, steps[11].loss)
	}
	sameState(t, stateBytes(t, filepath.Join(dir, "epoch_3.pth")), stateBytes(t, filepath.Join(dir2, "epoch_3.pth")))
}

// sameFloats compares up to the rounding of re-normalising unit rows.
func sameFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

// The reference SwAV config's SwAVHook: batch 32 ({{_base_.data.samples_per_gpu}}),
// queue 3840 from epoch 15 for crops [0, 1] of 128-d features.
func TestSwAVHookReferenceConfig(t *testing.T) {
	cfg, err := configs.Load("selfsup/swav/swav_resnet50_8xb32-mcrop-2-6-coslr-200e_in1k-224-96.yaml", configs.LoadOptions{NoDisk: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := tree.Lookup(cfg.Tree, "custom_hooks")
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := BuildCustomHooks(tree.ToPlain(v).([]any))
	if err != nil {
		t.Fatal(err)
	}
	h := hooks[0].(*swavHook)
	c := h.cfg
	if h.Priority() != PriorityVeryHigh || c.BatchSize != 32 || c.QueueLength != 3840 || c.EpochQueueStarts != 15 || c.FeatDim != 128 || len(c.CropsForAssign) != 2 {
		t.Fatalf("SwAVHook parsed as %+v, priority %d", c, h.Priority())
	}
	if _, err := buildSwAVHook(map[string]any{"queue_len": 10}, 0); err == nil || !strings.Contains(err.Error(), "queue_len") {
		t.Fatalf("unknown key: %v", err)
	}
}
