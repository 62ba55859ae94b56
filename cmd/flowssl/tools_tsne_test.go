package main

import (
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/eval"
)

// tsne on 120 Shapes images of 32 px (classes 0..5 of 10 kept by
// --max-num-class) writes numpy-readable features per layer, a decodable
// 960×960 PNG per layer and tsne.json.
func TestTSNECommand(t *testing.T) {
	ds := filepath.Join(t.TempDir(), "tsne_tiny.yaml")
	if err := os.WriteFile(ds, []byte(`name: tiny_val
data:
  samples_per_gpu: 60
  extract:
    type: SingleViewDataset
    data_source: {type: Shapes, num_samples: 200, size: 32, seed: 0, offset: 2048}
    pipeline:
      - type: ToTensor
      - type: Normalize
        mean: [0.485, 0.456, 0.406]
        std: [0.229, 0.224, 0.225]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	o := tsneOptions{Config: "selfsup/simclr/simclr_resnet18_shapes-32px_cpu.yaml", DatasetConfig: ds, WorkDir: t.TempDir(),
		LayerInd: "4,2", Stamp: "test"}
	o.PoolType, o.MaxClass, o.Workers, o.Seed = "adaptive", 6, 1, 3
	o.TSNE = eval.DefaultTSNEOptions()
	o.TSNE.Perplexity, o.TSNE.Iters = 10, 300
	res, err := runTSNE(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layers) != 2 || res.Layers[0].Layer != "feat5" || res.Layers[1].Layer != "feat3" {
		t.Fatalf("layers %+v", res.Layers)
	}
	for _, l := range res.Layers {
		// Shapes labels are index mod 10: 6 of every 10 of 200 samples.
		if l.Samples != 120 || l.KL <= 0 || l.Iters < 250 {
			t.Fatalf("%s: %+v", l.Layer, l)
		}
		if filepath.Base(l.Features) != "tiny_val_"+l.Layer+".npy" || filepath.Dir(l.Picture) != filepath.Join(o.WorkDir, "tsne_test", "saved_pictures") {
			t.Fatalf("%s: paths %s %s", l.Layer, l.Features, l.Picture)
		}
		f, err := os.Open(l.Picture)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", l.Picture, err)
		}
		if b := img.Bounds(); b.Dx() != 960 || b.Dy() != 960 {
			t.Fatalf("%s is %v, want 960×960", l.Picture, b)
		}
	}
	b, err := os.ReadFile(filepath.Join(o.WorkDir, "tsne_test", "tsne.json"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk tsneResult
	if err := json.Unmarshal(b, &onDisk); err != nil || len(onDisk.Layers) != 2 || onDisk.TSNE.Perplexity != 10 {
		t.Fatalf("tsne.json: %v %s", err, b)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import numpy").Run(); err == nil {
		out, err := exec.Command("/usr/bin/python3", "-c", `import numpy as np, sys
a = np.load(sys.argv[1]); l = np.load(sys.argv[1][:-4] + "_labels.npy")
print(a.shape, sorted(set(l.tolist())))`, res.Layers[0].Features).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "(120, 2048) [0, 1, 2, 3, 4, 5]" {
			t.Fatalf("numpy: %v %s", err, out)
		}
	}
	o.LayerInd = "5"
	if _, err := runTSNE(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--layer-ind") {
		t.Fatalf("layer 5: err = %v", err)
	}
}
