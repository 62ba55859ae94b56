package actors

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/data"
)

// firstView keeps the first of cropFlip's views: a single-view stand-in
// for the pipelines of NPID and ODC.
func firstView(seed uint64) AugmentFunc {
	two := cropFlip(seed)
	return func(s data.Sample, epoch int) ([]View, []int64, error) {
		v, l, err := two(s, epoch)
		if err != nil {
			return nil, nil, err
		}
		return v[:1], l, nil
	}
}

// memConfig loads a shipped CPU config shrunk to 48 samples in batches of
// 16 with a checkpoint every epoch.
func memConfig(t *testing.T, name string, epochs int, extra ...string) *configs.Config {
	t.Helper()
	opts := append([]string{
		"data.train.data_source.num_samples=48", "data.samples_per_gpu=16", "data.drop_last=True",
		"runner.max_epochs=" + itoa(epochs), "checkpoint_config.interval=1", "checkpoint_config.max_keep_ckpts=-1", "log_config.interval=1",
	}, extra...)
	ov, err := configs.ParseCfgOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(name, configs.LoadOptions{Overrides: ov})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func trainSingleView(t *testing.T, cfg *configs.Config, dir, resume string) *Result {
	t.Helper()
	res, err := Train(context.Background(), cfg, Setup{
		WorkDir: dir, Seed: 7, Deterministic: true, Workers: 2, ResumeFrom: resume, Version: "test", Logger: zerolog.Nop(),
		Views: func(map[string]any, uint64) (Augmenter, error) { return firstView(7), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// extState returns flowssl_state[name][key] of a checkpoint file.
func extState(t *testing.T, path, name, key string) *checkpoint.Tensor {
	t.Helper()
	ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	all, err := ck.Extra.Dict(stateKey)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	d, err := all.Dict(name)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	x, err := d.Tensor(key)
	if err != nil {
		t.Fatalf("%s: %s.%s: %v", path, name, key, err)
	}
	return x
}

// NPID through Train with its Memory actor: the bank is checkpointed (it
// changed from its random start, rows stay unit vectors), and a run
// resumed from epoch 1 ends with weights and bank bit-identical to the
// uninterrupted run's — the restored bank, the per-iteration negatives and
// the update order all match.
func TestTrainNPIDMemoryActorResume(t *testing.T) {
	const name = "selfsup/npid/npid_resnet18_shapes-64px_cpu.yaml"
	cfg := memConfig(t, name, 2, "model.memory_bank.length=48", "model.neg_num=16", "model.ensure_neg=True")
	da, db := t.TempDir(), t.TempDir()
	res := trainSingleView(t, cfg, da, "")
	if l := res.Losses["loss"]; math.IsNaN(l) || math.IsInf(l, 0) || l <= 0 {
		t.Fatalf("final NPID loss %v", l)
	}
	b1 := extState(t, filepath.Join(da, "epoch_1.pth"), "memory_bank", "feature_bank")
	b2 := extState(t, filepath.Join(da, "epoch_2.pth"), "memory_bank", "feature_bank")
	if len(b1.Shape) != 2 || b1.Shape[0] != 48 || b1.Shape[1] != 128 {
		t.Fatalf("feature_bank shape %v, want [48 128]", b1.Shape)
	}
	if bytes.Equal(b1.Data, b2.Data) {
		t.Fatal("the bank did not change between epochs 1 and 2")
	}
	v, err := b2.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 48; r++ {
		var s float64
		for _, x := range v[r*128 : (r+1)*128] {
			s += x * x
		}
		if math.Abs(s-1) > 1e-4 {
			t.Fatalf("bank row %d has norm² %g", r, s)
		}
	}
	trainSingleView(t, cfg, db, filepath.Join(da, "epoch_1.pth"))
	sameState(t, stateBytes(t, filepath.Join(da, "epoch_2.pth")), stateBytes(t, filepath.Join(db, "epoch_2.pth")))
	if r := extState(t, filepath.Join(db, "epoch_2.pth"), "memory_bank", "feature_bank"); !bytes.Equal(r.Data, b2.Data) {
		t.Fatal("the resumed run's bank differs from the uninterrupted run's")
	}
}
