package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/data"
)

const fashionDir = "/usr/share/datasets/fashion-mnist" // Debian's dataset-fashion-mnist

// fashionLists writes class-balanced Fashion-MNIST subsets as ImageLists
// (PNG files): about nTrain images of the train split and nVal of the
// test split, grey replicated to RGB. It returns their data_source dicts.
func fashionLists(t *testing.T, dir string, nTrain, nVal int) (train, val map[string]any) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(fashionDir, "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST missing (apt-get install dataset-fashion-mnist): %v", err)
	}
	build := func(testMode bool, n int, name string) map[string]any {
		cfg := map[string]any{"type": "FashionMNIST", "data_prefix": fashionDir, "test_mode": testMode, "color_type": "color"}
		src, err := data.Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		idx, err := balancedSubset(src.Labels(), float64(n)/float64(src.Len()), 7)
		if err != nil {
			t.Fatal(err)
		}
		ds, _, err := writeSubsetList(src, cfg, idx, filepath.Join(dir, name), name+".txt")
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	return build(false, nTrain, "train"), build(true, nVal, "val")
}

// fashionDatasetConfig writes an svm/extract dataset config over the two lists.
func fashionDatasetConfig(t *testing.T, dir string, train, val map[string]any) string {
	t.Helper()
	src := func(m map[string]any) string {
		return fmt.Sprintf("{type: ImageList, data_prefix: %q, ann_file: %q}", m["data_prefix"], m["ann_file"])
	}
	p := filepath.Join(dir, "fashion_eval.yaml")
	text := `pipeline: &pipeline
  - type: ToTensor
  - type: Normalize
    mean: [0.485, 0.456, 0.406]
    std: [0.229, 0.224, 0.225]
data:
  samples_per_gpu: 100
  workers_per_gpu: 1
  train: {type: SingleViewDataset, data_source: ` + src(train) + `, pipeline: *pipeline}
  val: {type: SingleViewDataset, data_source: ` + src(val) + `, pipeline: *pipeline}
`
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A narrow ResNet-18 (base_channels 16) keeps these tests to seconds of CPU.
var narrowResNet = []string{"model.backbone.base_channels=16", "model.head.in_channels=128"}

// TestTrainedBeatsRandomFashionMNIST trains a checkpoint once — semi's
// fine-tuning of a narrow ResNet-18 on half the labels of 1000
// Fashion-MNIST images, which must clearly beat the model it started
// from — and then requires the frozen trained backbone to beat the same
// network at random init in linear evaluation, SVM and low-shot SVM on 500
// held-out images. (The self-supervised variant, SimCLR on Shapes, trains
// for minutes: TestE2EShapesEvalTrainedBeatsRandom.)
func TestTrainedBeatsRandomFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small network")
	}
	dir := t.TempDir()
	train, val := fashionLists(t, dir, 1000, 500)
	sources := func(o *linearOptions) {
		o.Extra = append(o.Extra, overrideSource("data.train.data_source", train), overrideSource("data.val.data_source", val))
	}

	// 1. semi: fine-tune from random init on 500 labelled images.
	start := time.Now()
	semi := semiOptions{LabelFraction: 0.5}
	semi.Config = "benchmarks/classification/shapes/resnet18_head10_1xb64-steplr1e-2-20e_shapes-32px-10pct.yaml"
	semi.WorkDir = filepath.Join(dir, "semi")
	// The head1 / lr 0.1 variant of MMSelfSup's semi configs: from random init the backbone needs the larger lr.
	semi.Opts = append([]string{"data.train.pipeline.0.size=28", "data.samples_per_gpu=32", "runner.max_epochs=8",
		"lr_config.step=[6]", "checkpoint_config.interval=8", "optimizer.lr=0.1"}, narrowResNet...)
	semi.Extra = append(semi.Extra, configs.Override{Key: "optimizer.paramwise_options", Value: plainToTree(map[string]any{`\Ahead.`: map[string]any{"lr_mult": 1}})})
	semi.Workers, semi.Logger, semi.Deterministic = 1, zerolog.Nop(), true
	sources(&semi.linearOptions)
	sr, err := runSemi(context.Background(), semi)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("semi (%v): %d of %d labelled; top-1 %.1f%% (before fine-tuning %.1f%%)", time.Since(start), sr.Labelled, sr.Of, sr.Results["head4_top1"], sr.Initial["head4_top1"])
	if sr.Labelled != 500 || sr.Of != 1000 || sr.Results["head4_top1"] < sr.Initial["head4_top1"]+25 {
		t.Fatalf("semi: %d of %d labelled, top-1 %.1f%% after fine-tuning, %.1f%% before", sr.Labelled, sr.Of, sr.Results["head4_top1"], sr.Initial["head4_top1"])
	}
	trained := filepath.Join(dir, "trained_backbone.pth")
	if _, err := exportBackbone(sr.Trained, trained, "mmcv"); err != nil {
		t.Fatal(err)
	}

	// 2. linear evaluation of the frozen backbone, trained vs random init.
	linear := func(name, ckpt string) float64 {
		o := linearOptions{Config: linearShapes, Checkpoint: ckpt, WorkDir: filepath.Join(dir, name), Workers: 1, Logger: zerolog.Nop(), Deterministic: true,
			Opts: append([]string{"data.train.pipeline.0.size=28", "runner.max_epochs=3", "lr_config.step=[2]", "checkpoint_config.interval=3"}, narrowResNet...)}
		sources(&o)
		r, err := runLinear(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return r.Results["head4_top1"]
	}
	start = time.Now()
	linT, linR := linear("linear_trained", trained), linear("linear_random", "")
	t.Logf("linear: %v", time.Since(start))
	start = time.Now()

	// 3. SVM and low-shot SVM on multi-pooled layer4 features.
	ds := fashionDatasetConfig(t, dir, train, val)
	svm := func(ckpt string, lowShot bool) []svmLayerResult {
		o := svmOptions{Config: linearShapes, DatasetConfig: ds, WorkDir: filepath.Join(dir, "svm"), Costs: []float64{1, 0.0625, 0.0039},
			Opts: narrowResNet, LowShot: lowShot, Ks: []int{2, 8, 32}, Samples: 3}
		o.layerOptions = layerOptions{Checkpoint: ckpt, Layers: []string{"feat5"}, PoolType: "adaptive", Batch: 100, Workers: 2, Seed: 0}
		r, err := runSVM(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	svmT, svmR := svm(trained, false)[0].Full, svm("", false)[0].Full
	t.Logf("svm: %v", time.Since(start))
	start = time.Now()
	lowT, lowR := svm(trained, true)[0].LowShot, svm("", true)[0].LowShot
	t.Logf("low-shot: %v", time.Since(start))
	t.Logf("linear top-1: trained %.1f%%, random %.1f%%", linT, linR)
	t.Logf("SVM mAP: trained %.1f, random %.1f; top-1 %.1f%%, %.1f%%", svmT.MeanAP, svmR.MeanAP, svmT.Top1, svmR.Top1)
	for i := range lowT {
		t.Logf("low-shot k=%d mAP: trained %.1f, random %.1f", lowT[i].K, lowT[i].Mean, lowR[i].Mean)
	}
	if linT < linR+10 {
		t.Errorf("linear: trained top-1 %.1f%% does not beat random init %.1f%% by 10 points", linT, linR)
	}
	if svmT.MeanAP < svmR.MeanAP+5 || svmT.Top1 < svmR.Top1+3 {
		t.Errorf("SVM: trained mAP %.1f / top-1 %.1f%% vs random %.1f / %.1f%%", svmT.MeanAP, svmT.Top1, svmR.MeanAP, svmR.Top1)
	}
	for i := range lowT {
		if lowT[i].Mean < lowR[i].Mean+5 {
			t.Errorf("low-shot k=%d: trained mAP %.1f vs random %.1f", lowT[i].K, lowT[i].Mean, lowR[i].Mean)
		}
	}
}

// overrideSource replaces a data_source dict wholesale.
func overrideSource(key string, m map[string]any) configs.Override {
	return configs.Override{Key: key, Value: plainToTree(m)}
}
