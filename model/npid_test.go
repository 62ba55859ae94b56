package model

import (
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/memory"
)

// npidCfg is _base_/models/npid.py scaled down: LinearNeck 512→8, a bank of
// 20 rows, 6 negatives, ensure_neg.
func npidCfg() map[string]any {
	return map[string]any{
		"type": "NPID", "neg_num": 6, "ensure_neg": true,
		"backbone":    tinyResNet(),
		"neck":        map[string]any{"type": "LinearNeck", "in_channels": 512, "out_channels": 8, "with_avg_pool": true},
		"head":        map[string]any{"type": "ContrastiveHead", "temperature": 0.07},
		"memory_bank": map[string]any{"type": "SimpleMemory", "length": 20, "feat_dim": 8, "momentum": 0.5},
	}
}

// npidRef is npid.py's forward_train and SimpleMemory.update in torch
// 1.13.1, given the neck output, the bank before the step and the drawn
// negatives.
const npidRef = `
import sys, torch
import torch.nn.functional as F
d = torch.load(sys.argv[1])
feature = F.normalize(d["neck"])
bank, idx, neg_idx = d["bank"].clone(), d["idx"], d["neg"]
bs, feat_dim = feature.shape[:2]
neg_num = neg_idx.numel() // bs
pos_feat = torch.index_select(bank, 0, idx)
neg_feat = torch.index_select(bank, 0, neg_idx).view(bs, neg_num, feat_dim)
pos_logits = torch.einsum('nc,nc->n', [pos_feat, feature]).unsqueeze(-1)
neg_logits = torch.bmm(neg_feat, feature.unsqueeze(2)).squeeze(2)
logits = torch.cat((pos_logits, neg_logits), dim=1) / 0.07
labels = torch.zeros((bs, ), dtype=torch.long)
loss = F.cross_entropy(logits, labels)
m = 0.5
f = F.normalize(feature.detach(), dim=1)
feature_old = bank[idx, ...]
feature_new = (1 - m) * feature_old + m * f
bank[idx, ...] = F.normalize(feature_new, dim=1)
torch.save({"loss": loss, "bank": bank}, sys.argv[2])
`

// TestNPIDMatchesTorch: NPID's loss and its bank update equal npid.py and
// SimpleMemory.update in PyTorch on the same neck output, bank and
// negatives; ensure_neg leaves no sample among its own negatives.
func TestNPIDMatchesTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(11)
		a, _ := algoBuild(t, npidCfg())
		m := a.(*NPID)
		mem, err := memory.NewSimpleMemory(m.MemoryConfig(), gotch.CPU, memory.NegativeRNG(1, -1))
		if err != nil {
			return err
		}
		defer mem.Close()
		const seed, iter = 5, 3
		m.SetBank(&DirectNPIDBank{Mem: mem, NegNum: m.NegNum(), EnsureNeg: m.EnsureNeg(), Seed: seed})
		idx := []int64{3, 7, 11, 0}
		neg, err := mem.Negatives(idx, 6, true, memory.NegativeRNG(seed, iter))
		if err != nil {
			return err
		}
		for p, v := range neg {
			if v == idx[p/6] {
				t.Fatalf("negative %d of sample %d is the sample itself", p%6, p/6)
			}
		}
		v := algoImages(1, 4, 32)
		defer algoDropAll(v)
		s := NewScope()
		defer s.Close()
		var neck *ts.Tensor
		if err := WithoutGrad(func() error {
			var err error
			neck, err = m.enc.forward(s, v[0], true)
			return err
		}); err != nil {
			return err
		}
		bank0 := s.Track(mem.Bank().MustZerosLike(false))
		bank0.Copy_(mem.Bank())
		got := stepValues(t, a, &StepInput{Views: v, Indices: []int{3, 7, 11, 0}, Iter: iter})["loss"]
		it := s.Track(ts.MustOfSlice(idx))
		nt := s.Track(ts.MustOfSlice(neg))
		writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "neck", T: neck}, {Name: "bank", T: bank0}, {Name: "idx", T: it}, {Name: "neg", T: nt}})
		cmd := exec.Command(refPython, "-c", npidRef, filepath.Join(dir, "in.pth"), filepath.Join(dir, "out.pth"))
		cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("torch reference: %v\n%s", err, out)
		}
		ref := readTensors(t, filepath.Join(dir, "out.pth"))
		want, err := refTensor(t, ref, "loss").Float64s()
		if err != nil {
			return err
		}
		if math.Abs(got-want[0]) > 1e-4*math.Max(1, math.Abs(want[0])) {
			t.Fatalf("NPID loss %.6f, torch %.6f", got, want[0])
		}
		if d := relDiff(t, "bank", mem.Bank(), refTensor(t, ref, "bank")); d > 1e-5 {
			t.Fatalf("bank after the update differs from torch by %.3g", d)
		}
		return nil
	})
}

// TestNPIDTrainsOnFixedBatch: a few SGD steps on one batch lower the loss
// (the bank follows the features), and the step refuses to run without a
// bank or with indices that do not match the batch.
func TestNPIDTrainsOnFixedBatch(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(3)
		a, vs := algoBuild(t, npidCfg())
		m := a.(*NPID)
		v := algoImages(1, 4, 32)
		defer algoDropAll(v)
		if _, err := m.TrainStep(&StepInput{Views: v, Indices: []int{0, 1, 2, 3}}); err == nil {
			t.Fatal("TrainStep without a bank succeeded")
		}
		mem, err := memory.NewSimpleMemory(m.MemoryConfig(), gotch.CPU, memory.NegativeRNG(2, -1))
		if err != nil {
			return err
		}
		defer mem.Close()
		m.SetBank(&DirectNPIDBank{Mem: mem, NegNum: m.NegNum(), EnsureNeg: true, Seed: 1})
		if _, err := m.TrainStep(&StepInput{Views: v, Indices: []int{0, 1}}); err == nil {
			t.Fatal("TrainStep with 2 indices for 4 images succeeded")
		}
		in := &StepInput{Views: v, Indices: []int{0, 1, 2, 3}}
		first, last := trainSteps(t, a, vs, in, 8, 0.05, nil)
		if math.IsNaN(last) || !(last < first) {
			t.Fatalf("loss %.4f → %.4f over 8 steps on one batch, want it to fall", first, last)
		}
		return nil
	})
}

// TestNPIDAndODCDoNotLeak: forward+backward steps with their banks
// (gather, update; labels, weights, relabelling) keep RSS flat, as
// TestAlgorithmsDoNotLeak does for the other algorithms.
func TestNPIDAndODCDoNotLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("RSS leak check skipped in -short")
	}
	for _, name := range []string{"NPID", "ODC"} {
		t.Run(name, func(t *testing.T) {
			onPinned(t, func() error {
				ManualSeed(91)
				var a Algorithm
				switch name {
				case "NPID":
					a, _ = algoBuild(t, npidCfg())
					m := a.(*NPID)
					mem, err := memory.NewSimpleMemory(m.MemoryConfig(), gotch.CPU, memory.NegativeRNG(1, -1))
					if err != nil {
						return err
					}
					defer mem.Close()
					m.SetBank(&DirectNPIDBank{Mem: mem, NegNum: m.NegNum(), EnsureNeg: true, Seed: 1})
				case "ODC":
					a, _ = algoBuild(t, odcCfg())
					m := a.(*ODC)
					mem, err := memory.NewODCMemory(m.MemoryConfig(), gotch.CPU)
					if err != nil {
						return err
					}
					defer mem.Close()
					init := ts.MustRandn([]int64{12, 8}, gotch.Float, gotch.CPU)
					defer init.MustDrop()
					if err := mem.InitMemory(init, []int64{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}); err != nil {
						return err
					}
					m.SetBank(&DirectODCBank{Mem: mem, Pow: 0.5})
				}
				v := algoImages(1, 4, 32)
				defer algoDropAll(v)
				return stepNoLeak(t, func(it int) error {
					l, err := a.TrainStep(&StepInput{Views: v, Indices: []int{it % 12, (it + 3) % 12, (it + 5) % 12, (it + 7) % 12}, Iter: it, MaxIters: 26})
					if err != nil {
						return err
					}
					total, err := l.Total()
					if err != nil {
						return err
					}
					if err := total.Backward(); err != nil {
						return err
					}
					total.MustDrop()
					l.Drop()
					return nil
				})
			})
		})
	}
}
