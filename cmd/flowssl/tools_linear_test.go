package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/model"
)

const linearShapes = "benchmarks/classification/shapes/resnet18_linear-1xb64-steplr-10e_shapes-64px.yaml"

// tinyLinear shrinks the Shapes linear benchmark to 32 px, 64 train and
// 40 val images, two epochs.
var tinyLinear = []string{
	"data.train.data_source.num_samples=64", "data.val.data_source.num_samples=40",
	"data.train.data_source.size=32", "data.val.data_source.size=32", "data.train.pipeline.0.size=32",
	"data.samples_per_gpu=32", "runner.max_epochs=2", "lr_config.step=[1]", "log_config.interval=1",
}

// writeBackbone saves a freshly initialised ResNet-18 backbone (seed) as
// extracted backbone weights (keys without "backbone.") and returns the
// file and its tensors' bytes.
func writeBackbone(t *testing.T, dir string, seed int64) (string, map[string][]byte) {
	t.Helper()
	p := model.NewPinned()
	defer p.Close()
	path := filepath.Join(dir, "pretrained.pth")
	want := map[string][]byte{}
	err := p.Do(func() error {
		model.ManualSeed(seed)
		vs := nn.NewVarStore(gotch.CPU)
		if _, err := model.BuildBackbone(vs.Root().Sub("backbone"), map[string]any{"type": "ResNet", "depth": 18}); err != nil {
			return err
		}
		var named []model.Named
		for _, e := range model.StateDict(vs) {
			named = append(named, model.Named{Name: strings.TrimPrefix(e.Name, "backbone."), T: e.T})
		}
		sd, err := model.StateDictToCheckpoint(named)
		if err != nil {
			return err
		}
		for k, v := range sd.All() {
			want["backbone."+k.(string)] = v.(*checkpoint.Tensor).Data
		}
		return (&checkpoint.Checkpoint{StateDict: sd}).Save(path)
	})
	if err != nil {
		t.Fatal(err)
	}
	return path, want
}

// linear with --checkpoint: the trained model's backbone is exactly the
// pre-trained one (loaded, frozen, BN statistics untouched), the head moved
// away from its init, and linear_eval.json holds head4_top1/top5.
func TestLinearLoadsFreezesAndReports(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a linear probe")
	}
	dir := t.TempDir()
	ckpt, want := writeBackbone(t, dir, 5)
	run := func(name, pre string) (*linearResult, map[string][]byte) {
		wd := filepath.Join(dir, name)
		res, err := runLinear(context.Background(), linearOptions{Config: linearShapes, Checkpoint: pre, WorkDir: wd,
			Opts: tinyLinear, Seed: 0, Deterministic: true, Workers: 2, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(wd, "linear_eval.json"))
		if err != nil {
			t.Fatal(err)
		}
		var onDisk linearResult
		if err := json.Unmarshal(b, &onDisk); err != nil {
			t.Fatal(err)
		}
		if len(onDisk.Results) != 2 || onDisk.Results["head4_top1"] != res.Results["head4_top1"] || onDisk.ValSamples != 40 || onDisk.Epochs != 2 {
			t.Fatalf("%s: linear_eval.json %s", name, b)
		}
		t1, t5 := res.Results["head4_top1"], res.Results["head4_top5"]
		// 40 val images: every accuracy is a multiple of 2.5 %.
		if t1 < 0 || t5 > 100 || t5 < t1 || t1/2.5 != float64(int(t1/2.5)) {
			t.Fatalf("%s: top1 %v top5 %v", name, t1, t5)
		}
		return res, finalState(t, res.Trained)
	}
	_, pre := run("pretrained", ckpt)
	_, rnd := run("random", "")
	for k, v := range want {
		if !bytes.Equal(pre[k], v) {
			t.Fatalf("%s: trained model's backbone differs from the pre-trained checkpoint", k)
		}
	}
	if bytes.Equal(pre["backbone.conv1.weight"], rnd["backbone.conv1.weight"]) {
		t.Fatal("random-init run has the pre-trained backbone")
	}
	for _, k := range []string{"head.fc_cls.weight", "head.fc_cls.bias"} {
		if bytes.Equal(pre[k], rnd[k]) {
			t.Fatalf("%s identical in both runs", k)
		}
	}
}

func TestLinearConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		o    linearOptions
		want string
	}{
		{linearOptions{Config: "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml"}, "model.type Classification"},
		{linearOptions{Config: linearShapes, Checkpoint: filepath.Join(dir, "missing.pth")}, "--checkpoint"},
		{linearOptions{Config: linearShapes, Opts: []string{"model.backbone.init_cfg.type=Pretrained", "model.backbone.init_cfg.checkpoint=" + filepath.Join(dir, "x.pth")}, WorkDir: dir}, "x.pth"},
	} {
		_, err := runLinear(context.Background(), c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.o, err, c.want)
		}
	}
}

// The multi-head variant (MMSelfSup's resnet50_multihead: a frozen
// ResNet-50 with a BN + linear MultiClsHead on each of its five stages)
// reports top-1 and top-5 of every head in linear_eval.json, next to the
// AvgPool ClsHead variant's single head4 of TestLinearLoadsFreezesAndReports.
func TestLinearMultiHeadReportsEveryHead(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a ResNet-50 multi-head probe")
	}
	wd := t.TempDir()
	head := map[string]any{"_delete_": true, "type": "MultiClsHead", "pool_type": "adaptive", "in_indices": []any{0, 1, 2, 3, 4},
		"with_last_layer_unpool": false, "backbone": "resnet50", "num_classes": 10,
		"norm_cfg": map[string]any{"type": "BN", "momentum": 0.1, "affine": false}}
	o := linearOptions{Config: linearShapes, WorkDir: wd, Deterministic: true, Workers: 1, Logger: zerolog.Nop(),
		Opts:  append([]string{"model.backbone.depth=50", "model.backbone.out_indices=[0,1,2,3,4]"}, tinyLinear...),
		Extra: []configs.Override{{Key: "model.head", Value: plainToTree(head)}}}
	res, err := runLinear(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk linearResult
	b, err := os.ReadFile(filepath.Join(wd, "linear_eval.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &onDisk); err != nil {
		t.Fatal(err)
	}
	t.Logf("multi-head results: %v", onDisk.Results)
	if len(onDisk.Results) != 10 || onDisk.ValSamples != 40 {
		t.Fatalf("linear_eval.json: %s", b)
	}
	for h := 0; h < 5; h++ {
		t1, t5 := onDisk.Results[fmt.Sprintf("head%d_top1", h)], onDisk.Results[fmt.Sprintf("head%d_top5", h)]
		k1, ok1 := res.Results[fmt.Sprintf("head%d_top1", h)]
		_, ok5 := res.Results[fmt.Sprintf("head%d_top5", h)]
		// 40 val images: every accuracy is a multiple of 2.5 %.
		if !ok1 || !ok5 || k1 != t1 || t1 < 0 || t5 > 100 || t5 < t1 || t1/2.5 != float64(int(t1/2.5)) {
			t.Fatalf("head%d: top-1 %v top-5 %v (in memory %v)", h, t1, t5, res.Results)
		}
	}
}
