package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/model"
)

// maskKey names one sample of one epoch.
type maskKey struct{ epoch, index int }

// maskLog is a concurrency-safe record of masks by sample.
type maskLog struct {
	mu sync.Mutex
	m  map[maskKey][]uint8
}

func (l *maskLog) put(k maskKey, v []uint8) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[maskKey][]uint8{}
	}
	l.m[k] = v
}

// stepSeen collects what the SimMIM probe's TrainStep received; the
// algorithm registry has no per-run context, so the probe reports here.
var stepSeen maskLog

// maskProbe is SimMIM with a record of StepInput.Masks per (epoch, index).
type maskProbe struct {
	model.Algorithm
	itersPerEpoch int
}

func (p *maskProbe) TrainStep(in *model.StepInput) (*model.Losses, error) {
	if len(in.Masks) != 1 || in.Masks[0] == nil {
		return nil, fmt.Errorf("probe: %d masks", len(in.Masks))
	}
	d := in.Masks[0].MustSize()
	flat := in.Masks[0].MustTotype(gotch.Int64, false)
	vals := flat.Int64Values()
	flat.MustDrop()
	per := int(d[1] * d[2])
	if len(vals) != per*len(in.Indices) {
		return nil, fmt.Errorf("probe: mask %v for %d samples", d, len(in.Indices))
	}
	for j, idx := range in.Indices {
		row := make([]uint8, per)
		for i := range row {
			row[i] = uint8(vals[j*per+i])
		}
		stepSeen.put(maskKey{in.Iter / p.itersPerEpoch, idx}, row)
	}
	return p.Algorithm.TrainStep(in)
}

func init() {
	// The probe runs the real SimMIM, so the run also proves it trains on
	// the masks it is given.
	model.RegisterAlgorithm("SimMIMMaskProbe", func(vs *nn.VarStore, cfg map[string]any) (model.Algorithm, error) {
		c := make(map[string]any, len(cfg))
		for k, v := range cfg {
			c[k] = v
		}
		c["type"] = "SimMIM"
		a, err := model.BuildAlgorithm(vs, c)
		if err != nil {
			return nil, err
		}
		return &maskProbe{Algorithm: a, itersPerEpoch: 3}, nil
	})
}

// TestMasksReachTheStep runs the SimMIM CPU config through the whole
// dataflow (3 augment workers finishing out of order, 24 samples, batches
// of 8, 2 epochs) and requires that the step sees, for every (epoch,
// sample index), exactly the mask the augmenter generated for it, that the
// augmenter's mask is a function of (seed, epoch, index) only (an
// independently built augmenter reproduces it), that masks differ between
// samples and epochs (so a mix-up would show), and that each mask hides
// ceil(0.6·16) of the 16 blocks of 2×2 tokens.
func TestMasksReachTheStep(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the training dataflow")
	}
	cfg, err := loadConfig("selfsup/simmim/simmim_swin-tiny_shapes-32px_cpu.yaml", []string{
		"model.type=SimMIMMaskProbe", "data.train.data_source.num_samples=24", "data.samples_per_gpu=8",
		"runner.max_epochs=2", "checkpoint_config.interval=100", "log_config.interval=100"})
	if err != nil {
		t.Fatal(err)
	}
	var made maskLog
	views := func(ds map[string]any, seed uint64) (actors.Augmenter, error) {
		aug, err := buildViews(ds, seed)
		if err != nil {
			return nil, err
		}
		ref, err := buildViews(ds, seed)
		if err != nil {
			return nil, err
		}
		return actors.AugmentFunc(func(s data.Sample, epoch int) ([]actors.View, []int64, error) {
			v, l, err := aug.Augment(s, epoch)
			if err != nil {
				return nil, nil, err
			}
			again, _, err := ref.Augment(s, epoch)
			if err != nil {
				return nil, nil, err
			}
			if len(v) != 1 || v[0].Mask == nil || again[0].Mask == nil || !slices.Equal(v[0].Mask.Data, again[0].Mask.Data) {
				return nil, nil, fmt.Errorf("sample %d epoch %d: mask missing or not reproducible", s.Index, epoch)
			}
			made.put(maskKey{epoch, s.Index}, slices.Clone(v[0].Mask.Data))
			return v, l, nil
		}), nil
	}
	stepSeen = maskLog{}
	res, err := actors.Train(context.Background(), cfg, actors.Setup{WorkDir: t.TempDir(), Seed: 5, Workers: 3,
		Threads: 1, Logger: zerolog.Nop(), Views: views})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iters != 6 || len(stepSeen.m) != 48 || len(made.m) != 48 {
		t.Fatalf("%d iterations, %d masks stepped, %d made; want 6, 48, 48", res.Iters, len(stepSeen.m), len(made.m))
	}
	distinct := map[string]bool{}
	for k, want := range made.m {
		got, ok := stepSeen.m[k]
		if !ok {
			t.Fatalf("epoch %d sample %d never reached the step", k.epoch, k.index)
		}
		if !slices.Equal(got, want) {
			t.Errorf("epoch %d sample %d: the step saw a different mask than the augmenter made", k.epoch, k.index)
		}
		ones := 0
		for _, b := range want {
			ones += int(b)
		}
		if len(want) != 64 || ones != 10*4 {
			t.Errorf("epoch %d sample %d: mask of %d cells with %d masked, want 64 with 40", k.epoch, k.index, len(want), ones)
		}
		distinct[string(want)] = true
	}
	if len(distinct) < 40 {
		t.Errorf("only %d distinct masks among 48 samples", len(distinct))
	}
	if l := res.Losses["loss"]; math.IsNaN(l) || l <= 0 {
		t.Errorf("SimMIM loss %v after the run", l)
	}
}

// TestTransformerCPUConfigsTrain trains each transformer CPU config
// through the dataflow for 4 iterations on 16 Shapes images (batches of 8)
// and requires finite positive losses, with CAE reporting its main and
// align terms. (Each algorithm's falling loss is tested in model/.)
func TestTransformerCPUConfigsTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the training dataflow")
	}
	for _, c := range []struct {
		config string
		keys   []string
	}{
		{"selfsup/mae/mae_vit-tiny-p4_shapes-32px_cpu.yaml", []string{"loss"}},
		{"selfsup/simmim/simmim_swin-tiny_shapes-32px_cpu.yaml", []string{"loss"}},
		{"selfsup/mocov3/mocov3_vit-tiny-p4_shapes-32px_cpu.yaml", []string{"loss"}},
		{"selfsup/cae/cae_vit-tiny-p4_shapes-32px_cpu.yaml", []string{"loss", "main", "align"}},
	} {
		t.Run(c.config, func(t *testing.T) {
			cfg, err := loadConfig(c.config, []string{"data.train.data_source.num_samples=16", "data.samples_per_gpu=8",
				"runner.max_epochs=2", "checkpoint_config.interval=100", "log_config.interval=100"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := actors.Train(context.Background(), cfg, actors.Setup{WorkDir: t.TempDir(), Seed: 1, Workers: 2,
				Threads: 1, Logger: zerolog.Nop(), Views: buildViews})
			if err != nil {
				t.Fatal(err)
			}
			if res.Iters != 4 {
				t.Errorf("%d iterations, want 4", res.Iters)
			}
			for _, k := range c.keys {
				if v, ok := res.Losses[k]; !ok || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
					t.Errorf("%s = %v (present %v), want a finite positive loss; have %v", k, v, ok, res.Losses)
				}
			}
		})
	}
}
