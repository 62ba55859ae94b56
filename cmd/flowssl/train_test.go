package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flowssl/flowssl/checkpoint"
)

// buildCLI compiles flowssl once for the process tests.
func buildCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the CLI")
	}
	bin := filepath.Join(t.TempDir(), "flowssl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var tinyRun = []string{"selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", "--seed", "3", "--deterministic", "--workers", "2",
	"--cfg-options", "data.train.data_source.num_samples=96", "data.samples_per_gpu=16", "data.drop_last=True",
	"runner.max_epochs=4", "checkpoint_config.interval=1", "checkpoint_config.max_keep_ckpts=-1", "log_config.interval=1",
	"model.neck.hid_channels=64", "model.neck.out_channels=32"}

func trainArgs(dir string, extra ...string) []string {
	return append(append([]string{"train", "--work-dir", dir}, extra...), tinyRun...)
}

func finalState(t *testing.T, path string) map[string][]byte {
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

// kill -9 in the middle of a run, then --auto-resume: the run finishes with
// the weights of an uninterrupted one, and every checkpoint on disk is whole.
func TestTrainKill9AutoResume(t *testing.T) {
	bin := buildCLI(t)
	ref, cut := t.TempDir(), t.TempDir()
	if out, err := exec.Command(bin, trainArgs(ref)...).CombinedOutput(); err != nil {
		t.Fatalf("reference run: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, trainArgs(cut)...)
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill it while it trains epoch 2 (after epoch_1.pth landed).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(cut, "epoch_1.pth")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no epoch_1.pth after 3 minutes:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	ents, _ := os.ReadDir(cut)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".pth") {
			if _, err := checkpoint.Load(filepath.Join(cut, e.Name())); err != nil {
				t.Fatalf("after kill -9, %s is not a whole checkpoint: %v", e.Name(), err)
			}
		}
		if strings.Contains(e.Name(), ".tmp") && strings.HasSuffix(e.Name(), ".pth") {
			t.Logf("temp file left by the kill (harmless, never read): %s", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(cut, "epoch_4.pth")); err == nil {
		t.Skip("the run finished before the kill; machine too fast for this timing")
	}
	out, err := exec.Command(bin, trainArgs(cut, "--auto-resume")...).CombinedOutput()
	if err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "resumed") {
		t.Fatalf("second run did not resume:\n%s", out)
	}
	a, b := finalState(t, filepath.Join(ref, "epoch_4.pth")), finalState(t, filepath.Join(cut, "epoch_4.pth"))
	for k, v := range a {
		if !bytes.Equal(v, b[k]) {
			t.Fatalf("%s differs between the uninterrupted and the killed+resumed run", k)
		}
	}
}

func TestTrainBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", "--device", "tpu"}, "--device"},
		{[]string{"train", "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", "--on-bad-image", "maybe", "--work-dir", t.TempDir()}, "--on-bad-image"},
		{[]string{"train", "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", "extra"}, "not a key=value"},
	} {
		_, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want it to mention %q", c.args, err, c.want)
		}
	}
}
