package actors

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/data"
)

// cropFlip is a small stand-in augmenter for runner tests: two random
// 32-px crops with flips, seeded from (seed, epoch, index, view).
func cropFlip(seed uint64) AugmentFunc {
	return func(s data.Sample, epoch int) ([]View, []int64, error) {
		im := s.Image
		var out []View
		for v := 0; v < 2; v++ {
			r := rand.New(rand.NewPCG(seed^uint64(epoch)<<32, uint64(s.Index)<<8|uint64(v)))
			x0, y0 := r.IntN(im.W-32+1), r.IntN(im.H-32+1)
			flip := r.IntN(2) == 1
			d := make([]float32, 3*32*32)
			for c := 0; c < 3; c++ {
				for y := 0; y < 32; y++ {
					for x := 0; x < 32; x++ {
						sx := x
						if flip {
							sx = 31 - x
						}
						d[c*1024+y*32+x] = float32(im.Pix[((y0+y)*im.W+x0+sx)*im.C+c])/127.5 - 1
					}
				}
			}
			out = append(out, View{C: 3, H: 32, W: 32, Data: d})
		}
		return out, nil, nil
	}
}

func testConfig(t *testing.T, algo string, epochs int, extra ...string) *configs.Config {
	t.Helper()
	name := map[string]string{
		"simclr":  "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml",
		"mocov2":  "selfsup/mocov2/mocov2_resnet18_shapes-64px_cpu.yaml",
		"byol":    "selfsup/byol/byol_resnet18_shapes-64px_cpu.yaml",
		"simsiam": "selfsup/simsiam/simsiam_resnet18_shapes-64px_cpu.yaml",
	}[algo]
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

func itoa(i int) string { return string(rune('0' + i)) }

func trainOnce(t *testing.T, cfg *configs.Config, dir string, workers int, resume string) *Result {
	t.Helper()
	res, err := Train(context.Background(), cfg, Setup{
		WorkDir: dir, Seed: 7, Deterministic: true, Workers: workers, ResumeFrom: resume, Version: "test",
		Logger: zerolog.Nop(),
		Views:  func(map[string]any, uint64) (Augmenter, error) { return cropFlip(7), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func stateBytes(t *testing.T, path string) map[string][]byte {
	t.Helper()
	ck, err := checkpoint.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for k, v := range ck.StateDict.All() {
		out[k.(string)] = v.(*checkpoint.Tensor).Data
	}
	return out
}

func sameState(t *testing.T, a, b map[string][]byte) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("state dicts have %d and %d keys", len(a), len(b))
	}
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Fatalf("%s differs", k)
		}
	}
}

// Two epochs of SimCLR: checkpoints every epoch, deterministic whatever
// the number of workers, and a resumed run ends where an uninterrupted one
// does.
func TestTrainSimCLRDeterministicAndResume(t *testing.T) {
	cfg := testConfig(t, "simclr", 2)
	d1, d3, dr := t.TempDir(), t.TempDir(), t.TempDir()
	r1 := trainOnce(t, cfg, d1, 1, "")
	if r1.Iters != 6 || r1.Epochs != 2 {
		t.Fatalf("ran %d iters / %d epochs, want 6 / 2", r1.Iters, r1.Epochs)
	}
	for _, f := range []string{"epoch_1.pth", "epoch_2.pth", "latest.pth"} {
		if _, err := os.Stat(filepath.Join(d1, f)); err != nil {
			ents, _ := os.ReadDir(d1)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Fatalf("missing %s: %v (have %v)", f, err, names)
		}
	}
	if r1.Checkpoint != filepath.Join(d1, "epoch_2.pth") {
		t.Fatalf("latest checkpoint %s", r1.Checkpoint)
	}
	trainOnce(t, cfg, d3, 3, "")
	final := stateBytes(t, filepath.Join(d1, "epoch_2.pth"))
	sameState(t, final, stateBytes(t, filepath.Join(d3, "epoch_2.pth")))

	// Resume from epoch 1 of the first run in a fresh dir.
	trainOnce(t, cfg, dr, 2, filepath.Join(d1, "epoch_1.pth"))
	sameState(t, final, stateBytes(t, filepath.Join(dr, "epoch_2.pth")))
	if _, err := os.Stat(filepath.Join(dr, "epoch_1.pth")); err == nil {
		t.Fatal("resumed run re-did epoch 1")
	}

	// The checkpoint opens in PyTorch with MMSelfSup's layout.
	if _, err := exec.Command("/usr/bin/python3", "-c", "import torch").CombinedOutput(); err == nil {
		out, err := exec.Command("/usr/bin/python3", "-c", `
import sys, torch
ck = torch.load(sys.argv[1], map_location="cpu")
sd = ck["state_dict"]
print(ck["meta"]["epoch"], ck["meta"]["iter"], sd["backbone.conv1.weight"].shape[0], "neck.fc0.weight" in sd, len(ck["optimizer"]["state"]) > 0)
`, filepath.Join(d1, "epoch_2.pth")).CombinedOutput()
		if err != nil {
			t.Fatalf("torch.load: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "2 6 64 True True" {
			t.Fatalf("torch.load says %q", got)
		}
	}
}

func TestTrainMoCoResumeKeepsQueue(t *testing.T) {
	cfg := testConfig(t, "mocov2", 2, "model.queue_len=64")
	da, db := t.TempDir(), t.TempDir()
	trainOnce(t, cfg, da, 2, "")
	trainOnce(t, cfg, db, 1, filepath.Join(da, "epoch_1.pth"))
	a, b := stateBytes(t, filepath.Join(da, "epoch_2.pth")), stateBytes(t, filepath.Join(db, "epoch_2.pth"))
	sameState(t, a, b)
	if _, ok := a["queue"]; !ok {
		t.Fatal("MoCo checkpoint lacks the queue")
	}
}

func TestTrainErrors(t *testing.T) {
	cfg := testConfig(t, "simclr", 1, "model.neck.type=NonLinearNek")
	_, err := Train(context.Background(), cfg, Setup{WorkDir: t.TempDir(), Logger: zerolog.Nop(),
		Views: func(map[string]any, uint64) (Augmenter, error) { return cropFlip(1), nil }})
	if err == nil || !strings.Contains(err.Error(), `"NonLinearNek" not registered`) {
		t.Fatalf("err = %v", err)
	}
	cfg = testConfig(t, "simclr", 1)
	_, err = Train(context.Background(), cfg, Setup{WorkDir: t.TempDir(), Logger: zerolog.Nop(), ResumeFrom: "/nonexistent.pth",
		Views: func(map[string]any, uint64) (Augmenter, error) { return cropFlip(1), nil }})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent.pth") {
		t.Fatalf("err = %v", err)
	}
}

// BYOL through the runner: the BYOLHook drives the target's momentum on
// the cosine schedule and SimSiam's hook pins the predictor LR.
func TestTrainHooksBYOLAndSimSiam(t *testing.T) {
	cfg := testConfig(t, "byol", 1)
	res := trainOnce(t, cfg, t.TempDir(), 2, "")
	// 3 iterations, last iter k=2 of K=3: m = 1 - (1-0.99)(cos(2π/3)+1)/2.
	want := 1 - 0.01*(math.Cos(math.Pi*2/3)+1)/2
	if got := res.Losses["momentum"]; math.Abs(got-want) > 1e-12 {
		t.Fatalf("momentum at the last iteration %v, want %v", got, want)
	}
	cfg = testConfig(t, "simsiam", 1)
	dir := t.TempDir()
	trainOnce(t, cfg, dir, 2, "")
	ck, err := checkpoint.Load(filepath.Join(dir, "epoch_1.pth"))
	if err != nil {
		t.Fatal(err)
	}
	groups, _ := ck.Optimizer.(*checkpoint.Dict).Get("param_groups")
	fixed, other := 0, 0
	for _, g := range groups.([]any) {
		d := g.(*checkpoint.Dict)
		lr, _ := d.Get("lr")
		if f, ok := d.Get("fix_lr"); ok && f == true {
			fixed++
			if lr.(float64) != 0.0125 {
				t.Fatalf("fix_lr group has lr %v, want 0.0125", lr)
			}
		} else {
			other++
		}
	}
	if fixed == 0 || other == 0 {
		t.Fatalf("%d fixed and %d other param groups", fixed, other)
	}
}
