package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs"
)

// tinyShapesDataset writes a dataset config with 60 train and 40 val
// Shapes images of 32 px.
func tinyShapesDataset(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiny_shapes.yaml")
	src := `pipeline: &pipeline
  - type: ToTensor
  - type: Normalize
    mean: [0.485, 0.456, 0.406]
    std: [0.229, 0.224, 0.225]
data:
  samples_per_gpu: 32
  workers_per_gpu: 1
  train:
    type: SingleViewDataset
    data_source: {type: Shapes, num_samples: 60, size: 32, seed: 0, offset: 0}
    pipeline: *pipeline
  val:
    type: SingleViewDataset
    data_source: {type: Shapes, num_samples: 40, size: 32, seed: 0, offset: 60}
    pipeline: *pipeline
`
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// extract writes numpy-readable features of the requested stages with the
// multi-pooled widths (ResNet-18 at 32 px, adaptive pooling: layer3 is
// 256×2×2 → 3×3, layer4 512×1×1 → 2×2) and the Shapes labels (i mod 10).
func TestExtractWritesNumpyFeatures(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy").Run(); err != nil {
		t.Skip("/usr/bin/python3 lacks numpy")
	}
	ds := tinyShapesDataset(t)
	cfg, err := loadConfig("selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	dsCfg, err := configs.Load(ds, configs.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wd := t.TempDir()
	paths, err := runExtract(context.Background(), cfg, dsCfg, []string{"train", "val"}, wd,
		layerOptions{Layers: []string{"feat5", "feat4"}, PoolType: "adaptive", Batch: 32, Workers: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 4 || filepath.Base(paths[0]) != "train_feat5.npy" || filepath.Base(paths[3]) != "val_feat4.npy" {
		t.Fatalf("paths %v", paths)
	}
	script := `import numpy as np, sys
for p in sys.argv[1:]:
    a = np.load(p); l = np.load(p[:-4] + "_labels.npy")
    print(a.dtype, a.shape, bool(np.isfinite(a).all()), float(a.std()) > 0, l.tolist()[:12])`
	out, err := exec.Command("/usr/bin/python3", append([]string{"-c", script}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := []string{
		"float32 (60, 2048) True True [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]",
		"float32 (60, 2304) True True [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]",
		"float32 (40, 2048) True True [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]",
		"float32 (40, 2304) True True [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]",
	}
	if got := strings.TrimSpace(string(out)); got != strings.Join(want, "\n") {
		t.Fatalf("numpy read\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	if b, err := os.ReadFile(filepath.Join(wd, "features", "extract.json")); err != nil || !strings.Contains(string(b), `"dim": 2304`) {
		t.Fatalf("extract.json: %v\n%s", err, b)
	}
	if _, err := parseLayers([]string{"feat6"}); err == nil {
		t.Fatal("feat6 accepted")
	}
}

// svm and its low-shot variant run end to end on extracted features and
// write their JSON with values in range.
func TestSVMCommand(t *testing.T) {
	ds := tinyShapesDataset(t)
	wd := t.TempDir()
	base := svmOptions{layerOptions: layerOptions{Layers: []string{"feat5"}, PoolType: "adaptive", Batch: 32, Workers: 2, Seed: 2},
		Config: "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", DatasetConfig: ds, WorkDir: wd, Costs: []float64{1, 0.0625}}
	full, err := runSVM(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	r := full[0].Full
	if full[0].Layer != "feat5" || len(r.Classes) != 10 || r.MeanAP <= 0 || r.MeanAP > 100 || r.Top1 < 0 || r.Top1 > 100 {
		t.Fatalf("svm result %+v", full[0])
	}
	ls := base
	ls.LowShot, ls.Ks, ls.Samples = true, []int{1, 4}, 2
	low, err := runSVM(context.Background(), ls)
	if err != nil {
		t.Fatal(err)
	}
	if len(low[0].LowShot) != 2 || low[0].LowShot[1].K != 4 {
		t.Fatalf("low-shot result %+v", low[0])
	}
	for _, name := range []string{"svm.json", "svm_lowshot.json"} {
		b, err := os.ReadFile(filepath.Join(wd, name))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil || v["results"] == nil {
			t.Fatalf("%s: %v %s", name, err, b)
		}
	}
}
