package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/model"
)

// exportCheck loads what extract-backbone and convert wrote with torch
// and pickle and compares them with torchvision's resnet50: the same keys
// (fc excepted) and shapes, the weights loadable with strict=False leaving
// only fc missing, the detectron2 names those of MMSelfSup's converter,
// and the values those of the flowssl checkpoint (sum of |conv1.weight|).
const exportCheck = `import pickle, sys, torch, torchvision, numpy as np
backbone, mmdet, tv, d2, want_sum = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
ref = {k: tuple(v.shape) for k, v in torchvision.models.resnet50().state_dict().items() if not k.startswith("fc.")}
def check(sd, name):
    got = {k: tuple(v.shape) for k, v in sd.items()}
    assert got == ref, (name, sorted(set(got) ^ set(ref))[:5], [k for k in ref if k in got and got[k] != ref[k]][:5])
    m = torchvision.models.resnet50()
    r = m.load_state_dict(sd, strict=False)
    assert sorted(r.missing_keys) == ["fc.bias", "fc.weight"] and not r.unexpected_keys, (name, r)
    s = float(sd["conv1.weight"].abs().sum())
    assert abs(s - want_sum) <= 1e-3 * want_sum, (name, s, want_sum)
for path in (backbone, mmdet):
    ck = torch.load(path)
    assert sorted(ck) == ["author", "state_dict"], sorted(ck)
    check(ck["state_dict"], path)
check(torch.load(tv), tv)
obj = pickle.load(open(d2, "rb"))
assert obj["__author__"] == "flowssl" and obj["matching_heuristics"] is True, obj.keys()
def d2name(k):
    if "layer" not in k:
        k = "stem." + k
    for t in [1, 2, 3, 4]:
        k = k.replace("layer{}".format(t), "res{}".format(t + 1))
    for t in [1, 2, 3]:
        k = k.replace("bn{}".format(t), "conv{}.norm".format(t))
    return k.replace("downsample.0", "shortcut").replace("downsample.1", "shortcut.norm")
want = {d2name(k): s for k, s in ref.items()}
got = {k: v.shape for k, v in obj["model"].items()}
assert got == want, sorted(set(got) ^ set(want))[:5]
assert all(isinstance(v, np.ndarray) for v in obj["model"].values())
assert obj["model"]["stem.conv1.weight"].dtype == np.float32 and obj["model"]["res5.2.conv3.norm.running_var"].dtype == np.float32
assert obj["model"]["res2.0.shortcut.norm.num_batches_tracked"].dtype == np.int64
assert abs(float(np.abs(obj["model"]["stem.conv1.weight"]).sum()) - want_sum) <= 1e-3 * want_sum
print("ok", len(got))
`

func TestExportBackboneLoadsInTorchvisionAndDetectron2Form(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ResNet-50 checkpoints")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch, torchvision, numpy").Run(); err != nil {
		t.Skip("/usr/bin/python3 lacks torch/torchvision")
	}
	dir := t.TempDir()
	full := filepath.Join(dir, "epoch_1.pth")
	var conv1Sum float64
	p := model.NewPinned()
	err := p.Do(func() error {
		model.ManualSeed(1)
		vs := nn.NewVarStore(gotch.CPU)
		if _, err := model.BuildBackbone(vs.Root().Sub("backbone"), map[string]any{"type": "ResNet", "depth": 50}); err != nil {
			return err
		}
		sd, err := model.StateDictToCheckpoint(model.StateDict(vs))
		if err != nil {
			return err
		}
		head, _ := checkpoint.FromFloat32([]int64{2}, []float32{1, 2})
		sd.Set("head.fc_cls.bias", head)
		w, err := sd.Tensor("backbone.conv1.weight")
		if err != nil {
			return err
		}
		vals, err := w.Float32s()
		if err != nil {
			return err
		}
		for _, v := range vals {
			conv1Sum += float64(max(v, -v))
		}
		return (&checkpoint.Checkpoint{StateDict: sd}).Save(full)
	})
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	bb := filepath.Join(dir, "backbone.pth")
	r, err := exportBackbone(full, bb, "mmcv")
	if err != nil {
		t.Fatal(err)
	}
	// torchvision's resnet50 state_dict has 320 entries; fc.weight and fc.bias are not the backbone's.
	if r.Tensors != 318 {
		t.Fatalf("backbone: %d tensors, %d elements", r.Tensors, r.Params)
	}
	outs := map[string]string{"mmdet": filepath.Join(dir, "mmdet.pth"), "torchvision": filepath.Join(dir, "tv.pth"), "detectron2": filepath.Join(dir, "d2.pkl")}
	for f, out := range outs {
		in := full
		if f == "detectron2" {
			in = bb // convert also takes extracted backbone weights
		}
		if _, err := exportBackbone(in, out, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := os.Stat(out + ".json"); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	out, err := exec.Command("/usr/bin/python3", "-c", exportCheck, bb, outs["mmdet"], outs["torchvision"], outs["detectron2"], strconv.FormatFloat(conv1Sum, 'g', -1, 64)).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok 318") {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	w, _ := checkpoint.FromFloat32([]int64{1}, []float32{1})
	sd := checkpoint.NewOrderedDict()
	sd.Set("neck.fc.weight", w)
	only := filepath.Join(dir, "neck.pth")
	if err := (&checkpoint.Checkpoint{StateDict: sd}).Save(only); err != nil {
		t.Fatal(err)
	}
	sd2 := checkpoint.NewOrderedDict()
	sd2.Set("backbone.stem.0.weight", w)
	v1d := filepath.Join(dir, "v1d.pth")
	if err := (&checkpoint.Checkpoint{StateDict: sd2}).Save(v1d); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, format, want string }{
		{only, "mmdet", "no backbone.* weights"},
		{v1d, "detectron2", "no conv1.weight"},
		{v1d, "caffe", `--to "caffe"`},
		{filepath.Join(dir, "missing.pth"), "mmdet", "missing.pth"},
	} {
		if _, err := exportBackbone(c.in, filepath.Join(dir, "out"), c.format); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s → %s: err = %v, want %q", c.in, c.format, err, c.want)
		}
	}
	if got := detectron2Name("layer3.5.downsample.1.running_mean"); got != "res4.5.shortcut.norm.running_mean" {
		t.Errorf("detectron2Name: %s", got)
	}
	if got := detectron2Name("bn1.weight"); got != "stem.conv1.norm.weight" {
		t.Errorf("detectron2Name: %s", got)
	}
}
