package actors

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/flowssl/flowssl/checkpoint"
)

func TestMapKeys(t *testing.T) {
	own := map[string]bool{"backbone.conv1.weight": true, "neck.fc0.weight": true}
	got := MapKeys([]string{"conv1.weight", "layer1.0.bn1.running_mean", "fc.weight", "fc.bias"}, own)
	want := map[string]string{"conv1.weight": "backbone.conv1.weight", "layer1.0.bn1.running_mean": "backbone.layer1.0.bn1.running_mean"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("torchvision keys: %v", got)
	}
	got = MapKeys([]string{"module.backbone.conv1.weight", "neck.fc0.weight"}, own)
	want = map[string]string{"module.backbone.conv1.weight": "backbone.conv1.weight", "neck.fc0.weight": "neck.fc0.weight"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("full keys: %v", got)
	}
}

// load_from with torchvision's resnet18 state dict: with LR 0 the trained
// backbone's convolutions are exactly torchvision's.
func TestTrainLoadFromTorchvision(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		t.Skip("/usr/bin/python3 has no torchvision")
	}
	dir := t.TempDir()
	tv := filepath.Join(dir, "resnet18.pth")
	out, err := exec.Command("/usr/bin/python3", "-c", `
import sys, torch, torchvision
torch.manual_seed(0)
torch.save(torchvision.models.resnet18().state_dict(), sys.argv[1])
`, tv).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cfg := testConfig(t, "simclr", 1, "load_from="+tv, "optimizer.lr=0.0")
	res := trainOnce(t, cfg, filepath.Join(dir, "run"), 2, "")
	ref, err := checkpoint.Load(tv)
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Load(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.conv2.weight"} {
		a, _ := ref.StateDict.Tensor(k)
		b, err := got.StateDict.Tensor("backbone." + k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("backbone.%s differs from torchvision's %s", k, k)
		}
	}
}
