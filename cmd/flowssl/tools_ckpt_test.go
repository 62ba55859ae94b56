package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// publish drops the optimizer, names the file by its own sha256, prints
// that name and records it, the full hash and the size in publish.json.
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
	wd := filepath.Join(dir, "work")
	var stdout bytes.Buffer
	c := publishCmd()
	c.SetArgs([]string{in, filepath.Join(dir, "model.pth"), "--work-dir", wd})
	c.SetOut(&stdout)
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	final := strings.TrimSpace(stdout.String())
	b, err := os.ReadFile(final)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:])
	if want := filepath.Join(dir, "model-"+hash[:8]+".pth"); final != want {
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
	var res publishResult
	readJSON(t, filepath.Join(wd, "publish.json"), &res)
	want := publishResult{Input: in, Output: final, SHA256: hash, Bytes: int64(len(b)), DroppedOptimizer: true, Tensors: 1}
	if res != want {
		t.Fatalf("publish.json %+v, want %+v", res, want)
	}
	// Publishing the published file (into a folder not made yet): nothing
	// to drop, same bytes, same hash.
	again, err := publish(final, filepath.Join(dir, "sub", "again.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if again.DroppedOptimizer || again.SHA256 != hash || again.Output != filepath.Join(dir, "sub", "again-"+hash[:8]+".pth") {
		t.Fatalf("re-published: %+v", again)
	}
}

// count-params writes the numbers it prints to count_params.json: the
// Shapes linear benchmark is torchvision's resnet18 without fc (11,689,512
// − 513,000 parameters, torchvision 0.14) plus a 512×10 ClsHead, of which
// only the head trains (frozen_stages 4).
func TestCountParamsJSON(t *testing.T) {
	wd := t.TempDir()
	var stdout bytes.Buffer
	c := countParamsCmd()
	c.SetArgs([]string{linearShapes, "--work-dir", wd})
	c.SetOut(&stdout)
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	var pc paramCount
	readJSON(t, filepath.Join(wd, "count_params.json"), &pc)
	const backbone, head = 11689512 - 513000, 512*10 + 10
	if pc.Config != linearShapes || pc.Total != backbone+head || pc.Trainable != head ||
		len(pc.ByModule) != 2 || pc.ByModule["backbone"] != backbone || pc.ByModule["head"] != head {
		t.Fatalf("count_params.json %+v", pc)
	}
	if !strings.Contains(stdout.String(), "Number of parameters: 11.18 M") || !strings.Contains(stdout.String(), "head: 5130") {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
	// --cfg-options reach the model: a 5-class head.
	c = countParamsCmd()
	c.SetArgs([]string{linearShapes, "--work-dir", wd, "--cfg-options", "model.head.num_classes=5"})
	c.SetOut(&stdout)
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	readJSON(t, filepath.Join(wd, "count_params.json"), &pc)
	if pc.ByModule["head"] != 512*5+5 {
		t.Fatalf("with num_classes=5: %+v", pc)
	}
}

// readJSON decodes path into v, failing the test on any error.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
