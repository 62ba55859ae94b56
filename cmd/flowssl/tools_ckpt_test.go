package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/checkpoint"
)

// count-params on the ResNet-50 linear benchmark equals torchvision's
// resnet50 (same layers, fc = head.fc_cls), and only the head trains.
func TestCountParamsMatchesTorchvision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a ResNet-50")
	}
	out, err := exec.Command("/usr/bin/python3", "-c",
		"import torchvision; m = torchvision.models.resnet50(); print(sum(p.numel() for p in m.parameters()), m.fc.weight.numel() + m.fc.bias.numel())").Output()
	if err != nil {
		t.Skip("/usr/bin/python3 lacks torchvision")
	}
	f := strings.Fields(string(out))
	total, _ := strconv.ParseInt(f[0], 10, 64)
	fc, _ := strconv.ParseInt(f[1], 10, 64)
	cfg, err := loadConfig("benchmarks/classification/imagenet/resnet50_linear-8xb32-steplr-100e_in1k.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := plainAt(cfg, "model")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := countParams(mc)
	if err != nil {
		t.Fatal(err)
	}
	if pc.Total != total || pc.Trainable != fc || pc.ByModule["head"] != fc || pc.ByModule["backbone"] != total-fc {
		t.Fatalf("count %+v, torchvision total %d fc %d", pc, total, fc)
	}
}

// publish drops the optimizer and names the file by its own sha256.
func TestPublish(t *testing.T) {
	dir := t.TempDir()
	w, _ := checkpoint.FromFloat32([]int64{2}, []float32{1, 2})
	sd := checkpoint.NewOrderedDict()
	sd.Set("backbone.w", w)
	meta := checkpoint.NewDict()
	meta.Set("epoch", int64(3))
	opt := checkpoint.NewDict()
	opt.Set("state", checkpoint.NewDict())
	in := filepath.Join(dir, "epoch_3.pth")
	if err := (&checkpoint.Checkpoint{Meta: meta, StateDict: sd, Optimizer: opt}).Save(in); err != nil {
		t.Fatal(err)
	}
	final, err := publish(in, filepath.Join(dir, "model.pth"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(final)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if want := filepath.Join(dir, "model-"+hex.EncodeToString(sum[:])[:8]+".pth"); final != want {
		t.Fatalf("published %s, want %s", final, want)
	}
	ck, err := checkpoint.Load(final)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Optimizer != nil || ck.Meta == nil || ck.StateDict.Len() != 1 {
		t.Fatalf("published checkpoint: optimizer %v, meta %v, %d tensors", ck.Optimizer, ck.Meta, ck.StateDict.Len())
	}
	if _, err := os.Stat(filepath.Join(dir, "model.pth")); !os.IsNotExist(err) {
		t.Fatalf("unhashed file left behind: %v", err)
	}
}
