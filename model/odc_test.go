package model

import (
	"math"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
	"github.com/flowssl/flowssl/memory"
)

// odcCfg is _base_/models/odc.py scaled down: ODCNeck 512→16→8, 3
// classes, a memory of 12 rows.
func odcCfg() map[string]any {
	return map[string]any{
		"type": "ODC", "with_sobel": false,
		"backbone": tinyResNet(),
		"neck": map[string]any{"type": "ODCNeck", "in_channels": 512, "hid_channels": 16, "out_channels": 8, "with_avg_pool": true,
			"norm_cfg": map[string]any{"type": "BN"}},
		"head": map[string]any{"type": "ClsHead", "with_avg_pool": false, "in_channels": 8, "num_classes": 3},
		"memory_bank": map[string]any{"type": "ODCMemory", "length": 12, "feat_dim": 8, "momentum": 0.5,
			"num_classes": 3, "min_cluster": 1, "debug": false},
	}
}

// odcRef is odc.py's forward_train loss with set_reweight's weights and
// ODCMemory.update_samples_memory in torch 1.13.1.
const odcRef = `
import sys, torch
import torch.nn.functional as F
d = torch.load(sys.argv[1])
scores, idx = d["scores"], d["idx"]
bank, labels, cent = d["bank"].clone(), d["labels"].clone(), d["centroids"]
hist = torch.bincount(labels, minlength=3).float()
w = (hist + 1e-10).pow(-0.5)
w = w / w.sum()
loss = F.cross_entropy(scores, labels[idx], weight=w)
feature = d["neck"]
feature_norm = feature / (feature.norm(dim=1).view(-1, 1) + 1e-10)
m = 0.5
feature_old = bank[idx, ...]
feature_new = (1 - m) * feature_old + m * feature_norm
feature_norm = feature_new / (feature_new.norm(dim=1).view(-1, 1) + 1e-10)
bank[idx, ...] = feature_norm
similarity_to_centroids = torch.mm(cent, feature_norm.permute(1, 0))
newlabel = similarity_to_centroids.argmax(dim=0)
change_ratio = (newlabel != labels[idx]).sum().float() / float(newlabel.shape[0])
labels[idx] = newlabel
torch.save({"loss": loss, "bank": bank, "labels": labels, "change_ratio": change_ratio}, sys.argv[2])
`

// TestODCMatchesTorch: ODC's weighted loss against the memory's labels and
// its samples-memory update (bank, labels, change ratio) equal odc.py and
// ODCMemory in PyTorch on the same scores, neck output and memory.
func TestODCMatchesTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(13)
		a, _ := algoBuild(t, odcCfg())
		m := a.(*ODC)
		mem, err := memory.NewODCMemory(m.MemoryConfig(), gotch.CPU)
		if err != nil {
			return err
		}
		defer mem.Close()
		s := NewScope()
		defer s.Close()
		init := s.Track(ts.MustRandn([]int64{12, 8}, gotch.Float, gotch.CPU))
		labels0 := []int64{0, 1, 2, 0, 1, 2, 0, 0, 0, 1, 2, 0}
		if err := mem.InitMemory(init, labels0); err != nil {
			return err
		}
		bank := &DirectODCBank{Mem: mem, Pow: 0.5}
		m.SetBank(bank)
		idx := []int64{2, 5, 9, 11}
		v := algoImages(1, 4, 32)
		defer algoDropAll(v)
		clone := func(x *ts.Tensor) *ts.Tensor {
			c := s.Track(x.MustZerosLike(false))
			c.Copy_(x)
			return c
		}
		bank0, cent0 := clone(mem.Features()), clone(mem.Centroids())
		lt := s.Track(ts.MustOfSlice(labels0))
		// The same dropout masks for the step and the reference forward.
		ManualSeed(21)
		got := stepValues(t, a, &StepInput{Views: v, Indices: []int{2, 5, 9, 11}})
		ManualSeed(21)
		var neck, scores *ts.Tensor
		if err := WithoutGrad(func() error {
			var err error
			if neck, err = m.enc.forward(s, v[0], true); err != nil {
				return err
			}
			sc, err := m.head.Forward([]*ts.Tensor{neck}, true)
			if err != nil {
				return err
			}
			scores = s.TrackAll(sc)[0]
			return nil
		}); err != nil {
			return err
		}
		it := s.Track(ts.MustOfSlice(idx))
		writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "scores", T: scores}, {Name: "neck", T: neck}, {Name: "idx", T: it},
			{Name: "bank", T: bank0}, {Name: "labels", T: lt}, {Name: "centroids", T: cent0}})
		cmd := exec.Command(refPython, "-c", odcRef, filepath.Join(dir, "in.pth"), filepath.Join(dir, "out.pth"))
		cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("torch reference: %v\n%s", err, out)
		}
		ref := readTensors(t, filepath.Join(dir, "out.pth"))
		want, err := refTensor(t, ref, "loss").Float64s()
		if err != nil {
			return err
		}
		if math.Abs(got["loss"]-want[0]) > 1e-4*math.Max(1, math.Abs(want[0])) {
			t.Fatalf("ODC loss %.6f, torch %.6f", got["loss"], want[0])
		}
		if got["change_ratio"] != 0 {
			t.Fatalf("change_ratio %v before any update, want 0", got["change_ratio"])
		}
		if d := relDiff(t, "bank", mem.Features(), refTensor(t, ref, "bank")); d > 1e-5 {
			t.Fatalf("feature bank after the update differs from torch by %.3g", d)
		}
		wantL, err := refTensor(t, ref, "labels").Int64s()
		if err != nil {
			return err
		}
		gotL, err := mem.LabelBank()
		if err != nil {
			return err
		}
		for i := range wantL {
			if gotL[i] != wantL[i] {
				t.Fatalf("label bank %v, torch %v", gotL, wantL)
			}
		}
		cr, err := refTensor(t, ref, "change_ratio").Float64s()
		if err != nil {
			return err
		}
		// The next step logs the ratio of this update.
		if next := stepValues(t, a, &StepInput{Views: v, Indices: []int{0, 1, 3, 4}})["change_ratio"]; math.Abs(next-cr[0]) > 1e-6 {
			t.Fatalf("change_ratio of the first update %v, torch %v", next, cr[0])
		}
		return nil
	})
}

// TestODCTrainsOnFixedBatch: SGD steps on one batch lower the loss while
// the memory relabels the samples after every step.
func TestODCTrainsOnFixedBatch(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(4)
		cfg := odcCfg()
		cfg["neck"].(map[string]any)["hid_channels"] = 128 // dropout(0.5) over 16 units is too noisy for 15 steps
		a, vs := algoBuild(t, cfg)
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
		v := algoImages(1, 4, 32)
		defer algoDropAll(v)
		trainSteps(t, a, vs, &StepInput{Views: v, Indices: []int{0, 1, 2, 3}}, 15, 0.05, nil)
		return nil
	})
}

// The shipped NPID and ODC configs (reference and CPU) build with the
// settings of algorithms.md §§4-5.
func TestNPIDAndODCShippedConfigsBuild(t *testing.T) {
	for _, c := range []struct {
		name   string
		check  func(a Algorithm) bool
		detail string
	}{
		{"selfsup/npid/npid_resnet50_8xb32-steplr-200e_in1k.yaml", func(a Algorithm) bool {
			m := a.(*NPID)
			mc := m.MemoryConfig()
			return m.NegNum() == 65536 && !m.EnsureNeg() && mc.Length == 1281167 && mc.FeatDim == 128 && mc.Momentum == 0.5 && m.head.T == 0.07
		}, "neg_num 65536, bank 1281167×128, momentum 0.5, T 0.07"},
		{"selfsup/npid/npid-ensure-neg_resnet50_8xb32-steplr-200e_in1k.yaml", func(a Algorithm) bool { return a.(*NPID).EnsureNeg() }, "ensure_neg"},
		{"selfsup/npid/npid_resnet18_shapes-64px_cpu.yaml", func(a Algorithm) bool {
			m := a.(*NPID)
			return m.NegNum() == 1024 && m.MemoryConfig().Length == 2048
		}, "neg_num 1024, bank 2048"},
		{"selfsup/odc/odc_resnet50_8xb64-steplr-440e_in1k.yaml", func(a Algorithm) bool {
			mc := a.(*ODC).MemoryConfig()
			return mc.NumClasses == 10000 && mc.Length == 1281167 && mc.FeatDim == 256 && mc.MinCluster == 20 && mc.Momentum == 0.5
		}, "10000 classes, bank 1281167×256, min_cluster 20"},
		{"selfsup/odc/odc_resnet18_shapes-64px_cpu.yaml", func(a Algorithm) bool {
			mc := a.(*ODC).MemoryConfig()
			return mc.NumClasses == 10 && mc.Length == 2048 && mc.MinCluster == 5
		}, "10 classes, bank 2048, min_cluster 5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := configs.Load(c.name, configs.LoadOptions{NoDisk: true})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := tree.Lookup(cfg.Tree, "model")
			if err != nil {
				t.Fatal(err)
			}
			onPinned(t, func() error {
				a, _ := algoBuild(t, tree.ToPlain(raw).(map[string]any))
				if !c.check(a) {
					t.Fatalf("%s: built %+v, want %s", c.name, a, c.detail)
				}
				return nil
			})
		})
	}
}
