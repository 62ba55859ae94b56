package actors

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/data"
)

// odcView is a cheap one-view augmenter: the Shapes image scaled to
// [-1, 1], flipped at random (from epoch and index) when train is set.
func odcView(train bool) AugmentFunc {
	return func(s data.Sample, epoch int) ([]View, []int64, error) {
		im := s.Image
		flip := train && rand.New(rand.NewPCG(uint64(epoch)+1, uint64(s.Index))).IntN(2) == 1
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
		return []View{{C: 3, H: im.H, W: im.W, Data: d}}, nil, nil
	}
}

// odcConfigFile is the shipped ODC CPU config shrunk to 32 Shapes images
// of 16 px, batches of 8, 4 clusters of at least 3, centroids every 2
// iterations.
func odcConfigFile(t *testing.T, epochs int) *configs.Config {
	t.Helper()
	base, err := filepath.Abs("../configs/selfsup/odc/odc_resnet18_shapes-64px_cpu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`_base_: %s
model:
  head: {num_classes: 4}
  memory_bank: {length: 32, num_classes: 4, min_cluster: 3}
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
    clustering: {type: Kmeans, k: 4, pca_dim: -1}
    unif_sampling: false
    reweight: true
    reweight_pow: 0.5
    init_memory: true
    initial: true
    interval: 9999999999
  - type: ODCHook
    centroids_update_interval: 2
    deal_with_small_clusters_interval: 1
    evaluate_interval: 2
    reweight: true
    reweight_pow: 0.5
runner: {max_epochs: %d}
checkpoint_config: {interval: 1, max_keep_ckpts: -1}
log_config: {interval: 1}
`, base, epochs)
	path := filepath.Join(t.TempDir(), "odc.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path, configs.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func odcTrain(t *testing.T, cfg *configs.Config, dir, resume string) *Result {
	t.Helper()
	res, err := Train(context.Background(), cfg, Setup{
		WorkDir: dir, Seed: 5, Deterministic: true, Workers: 1, Threads: 1, ResumeFrom: resume, Version: "test", Logger: zerolog.Nop(),
		Views: func(ds map[string]any, _ uint64) (Augmenter, error) {
			return odcView(ds["pipeline"] == nil), nil // the extractor's dataset has pipeline: []
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ODC through Train with its Memory actor: the initial clustering labels
// every sample (cluster_epoch_0.npy) and initialises the memory, steps log
// acc and change_ratio, the checkpoint carries the memory and the loss
// weights (normalised, from the label bank), and a run resumed from
// epoch 1 (no re-clustering) ends bit-identical to the uninterrupted one
// in weights and memory.
func TestTrainODCMemoryActorResume(t *testing.T) {
	cfg := odcConfigFile(t, 2)
	da, db := t.TempDir(), t.TempDir()
	res := odcTrain(t, cfg, da, "")
	for _, k := range []string{"loss", "acc", "change_ratio"} {
		v, ok := res.Losses[k]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("last step logged %s = %v (have %v)", k, v, res.Losses)
		}
	}
	if r := res.Losses["change_ratio"]; r < 0 || r > 1 {
		t.Fatalf("change_ratio %v outside [0, 1]", r)
	}
	if _, err := os.Stat(filepath.Join(da, "cluster_epoch_0.npy")); err != nil {
		t.Fatalf("initial clustering labels: %v", err)
	}
	last := filepath.Join(da, "epoch_2.pth")
	shapes := map[string][]int64{"feature_bank": {32, 256}, "label_bank": {32}, "centroids": {4, 256}, "loss_weight": {4}}
	for k, want := range shapes {
		if got := extState(t, last, "memory_bank", k).Shape; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("memory_bank.%s has shape %v, want %v", k, got, want)
		}
	}
	labels, err := extState(t, last, "memory_bank", "label_bank").Int64s()
	if err != nil {
		t.Fatal(err)
	}
	count := make([]int, 4)
	for _, l := range labels {
		count[l]++
	}
	w, err := extState(t, last, "memory_bank", "loss_weight").Float32s()
	if err != nil {
		t.Fatal(err)
	}
	var sum, z float64
	for c, n := range count {
		z += math.Pow(float64(n)+1e-10, -0.5)
		sum += float64(w[c])
	}
	for c, n := range count {
		if want := math.Pow(float64(n)+1e-10, -0.5) / z; math.Abs(float64(w[c])-want) > 1e-6 {
			t.Fatalf("loss_weight %v for cluster sizes %v", w, count)
		}
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Fatalf("loss weights sum to %v", sum)
	}
	odcTrain(t, cfg, db, filepath.Join(da, "epoch_1.pth"))
	if _, err := os.Stat(filepath.Join(db, "cluster_epoch_0.npy")); err == nil {
		t.Fatal("the resumed run clustered again instead of restoring the memory")
	}
	sameState(t, stateBytes(t, last), stateBytes(t, filepath.Join(db, "epoch_2.pth")))
	for k := range shapes {
		if !bytes.Equal(extState(t, last, "memory_bank", k).Data, extState(t, filepath.Join(db, "epoch_2.pth"), "memory_bank", k).Data) {
			t.Fatalf("memory_bank.%s of the resumed run differs from the uninterrupted run's", k)
		}
	}
}
