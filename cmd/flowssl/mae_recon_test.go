package main

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/model"
)

// TestMAEReconstructionImproves trains the MAE CPU config for a short
// run and reconstructs 8 held-out Shapes images (indices past the
// training set) under one fixed mask with the initial and the trained
// weights: the masked-patch error (MAE's norm-pix loss on the removed 75%
// of the patches) must fall by at least a quarter. It writes
// mae_recon_before.png and mae_recon_after.png (rows: images; columns:
// input, masked input, reconstruction with the visible patches pasted in)
// to $FLOWSSL_WORK_DIR, or the test's temporary directory. The default run
// is 4 epochs of 256 images (32 steps, a few seconds); FLOWSSL_E2E=1 runs
// 30 epochs of 1024 (960 steps) and asks for a fall of a half.
func TestMAEReconstructionImproves(t *testing.T) {
	if testing.Short() {
		t.Skip("trains MAE")
	}
	samples, epochs, wantFall := 256, 4, 0.25
	if os.Getenv("FLOWSSL_E2E") == "1" {
		samples, epochs, wantFall = 1024, 30, 0.5
	}
	dir := os.Getenv("FLOWSSL_WORK_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	const config = "selfsup/mae/mae_vit-tiny-p4_shapes-32px_cpu.yaml"
	cfg, err := loadConfig(config, []string{fmt.Sprintf("data.train.data_source.num_samples=%d", samples),
		fmt.Sprintf("runner.max_epochs=%d", epochs), fmt.Sprintf("checkpoint_config.interval=%d", epochs),
		"log_config.interval=1000"})
	if err != nil {
		t.Fatal(err)
	}
	const seed = 3
	res, err := actors.Train(context.Background(), cfg, actors.Setup{WorkDir: dir, Seed: seed, Workers: 2,
		Threads: 1, Logger: zerolog.Nop(), Views: buildViews})
	if err != nil {
		t.Fatal(err)
	}
	held := heldOutShapes(t, cfg, samples, 8)
	defer held.MustDrop()

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	modelCfg := mustPlain(t, cfg, "model")
	model.ManualSeed(seed) // as Train does before building: the initial weights
	before, err := model.BuildAlgorithm(nn.NewVarStore(gotch.CPU), modelCfg)
	if err != nil {
		t.Fatal(err)
	}
	vs := nn.NewVarStore(gotch.CPU)
	after, err := model.BuildAlgorithm(vs, modelCfg)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := checkpoint.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	named, err := model.NamedFromCheckpoint(ck.StateDict)
	if err != nil {
		t.Fatal(err)
	}
	defer model.DropNamed(named)
	if _, _, err := model.LoadStateDict(vs, named, true); err != nil {
		t.Fatal(err)
	}
	model.ManualSeed(99)
	noise := ts.MustRand([]int64{8, 64}, gotch.Float, gotch.CPU)
	defer noise.MustDrop()
	var errs [2]float64
	for i, a := range []model.Algorithm{before, after} {
		r, err := a.(*model.MAE).Reconstruct(held, noise)
		if err != nil {
			t.Fatal(err)
		}
		errs[i] = r.Loss
		name := filepath.Join(dir, []string{"mae_recon_before.png", "mae_recon_after.png"}[i])
		if err := writeReconPNG(name, held, r.Masked, r.Pasted); err != nil {
			t.Fatal(err)
		}
		r.Drop()
		t.Logf("%s: masked-patch error %.4f", name, errs[i])
	}
	if !(errs[1] < (1-wantFall)*errs[0]) {
		t.Errorf("masked-patch error %.4f → %.4f after %d steps; want a fall of at least %.0f%%", errs[0], errs[1], res.Iters, 100*wantFall)
	}
}

// mustPlain returns the config dict at path.
func mustPlain(t *testing.T, cfg *configs.Config, path string) map[string]any {
	t.Helper()
	m, err := plainAt(cfg, path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// heldOutShapes draws n Shapes images past the first `after` (the
// training set: the same source config with a larger num_samples gives
// the same first images) and normalises them as the MAE pipeline does.
func heldOutShapes(t *testing.T, cfg *configs.Config, after, n int) *ts.Tensor {
	t.Helper()
	src := mustPlain(t, cfg, "data.train.data_source")
	src["num_samples"] = after + n
	s, err := data.Build(src)
	if err != nil {
		t.Fatal(err)
	}
	aug, err := buildViews(map[string]any{"type": "SingleViewDataset", "pipeline": []any{
		map[string]any{"type": "ToTensor"},
		map[string]any{"type": "Normalize", "mean": []any{0.485, 0.456, 0.406}, "std": []any{0.229, 0.224, 0.225}},
	}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var vals []float32
	var dims []int64
	for i := after; i < after+n; i++ {
		smp, err := s.Get(i)
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := aug.Augment(smp, 0)
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, v[0].Data...)
		dims = []int64{int64(n), int64(v[0].C), int64(v[0].H), int64(v[0].W)}
	}
	x, err := ts.NewTensorFromData(vals, dims)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// writeReconPNG writes one row per image: the columns are the given
// N×3×H×W batches (ImageNet-normalised), mapped back to pixels.
func writeReconPNG(path string, cols ...*ts.Tensor) error {
	d := cols[0].MustSize()
	n, h, w := int(d[0]), int(d[2]), int(d[3])
	img := image.NewRGBA(image.Rect(0, 0, len(cols)*(w+2), n*(h+2)))
	mean, std := [3]float64{0.485, 0.456, 0.406}, [3]float64{0.229, 0.224, 0.225}
	for c, col := range cols {
		flat := col.MustContiguous(false)
		v := flat.Float64Values()
		flat.MustDrop()
		for i := range n {
			for y := range h {
				for x := range w {
					var px [3]uint8
					for ch := range 3 {
						f := v[((i*3+ch)*h+y)*w+x]*std[ch] + mean[ch]
						px[ch] = uint8(math.Round(255 * math.Min(1, math.Max(0, f))))
					}
					img.Set(c*(w+2)+x, i*(h+2)+y, color.RGBA{px[0], px[1], px[2], 255})
				}
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
