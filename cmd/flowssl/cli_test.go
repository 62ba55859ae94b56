package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs"
	"github.com/flowssl/flowssl/configs/tree"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// Every shipped config resolves through the CLI, and what it prints loads
// back to the same tree.
func TestPrintConfigEveryShipped(t *testing.T) {
	names := configs.List()
	if len(names) < 100 {
		t.Fatalf("only %d embedded configs", len(names))
	}
	dir := t.TempDir()
	for _, name := range names {
		if strings.Contains(name, "/_base_/") {
			continue
		}
		out, err := run(t, "print-config", name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := configs.Load(name, configs.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := configs.LoadTree(dir+"/x.yaml", "yaml", []byte(out))
		if err != nil {
			t.Fatalf("%s: printed YAML does not load: %v", name, err)
		}
		if !tree.Equal(got, want.Tree) {
			t.Fatalf("%s: printed config differs from the resolved one", name)
		}
	}
}

// An MMSelfSup .py config converts to the YAML flowssl ships.
func TestPrintConfigPy(t *testing.T) {
	py, err := run(t, "print-config", "../../configs/testdata/py/selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py", "--format", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	yml, err := run(t, "print-config", "selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if py != yml {
		t.Fatalf("the .py config prints differently from the shipped YAML:\n%s\n---\n%s", py, yml)
	}
	for _, want := range []string{"queue_len: 65536", "temperature: 0.2", "type: MoCoV2Neck"} {
		if !strings.Contains(py, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestPrintConfigOptionsAndErrors(t *testing.T) {
	out, err := run(t, "print-config", "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml",
		"--cfg-options", "data.samples_per_gpu=8", "--cfg-options", "data.train.pipelines.0.1.type=RandomVerticalFlip", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"samples_per_gpu": 8`) || !strings.Contains(out, "RandomVerticalFlip") {
		t.Fatalf("overrides not applied:\n%s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"print-config", "selfsup/nope.yaml"}, "selfsup/nope.yaml"},
		{[]string{"print-config", "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", "--cfg-options", "data.samples_per_gpux=1"}, `did you mean "samples_per_gpu"`},
		{[]string{"print-config", "selfsup/simclr/simclr_resnet18_shapes-64px_cpu.yaml", "--cfg-options", "data.samples_per_gpu=abc"}, "samples_per_gpu"},
		{[]string{"train"}, "accepts 1 arg"},
	} {
		_, err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want it to mention %q", c.args, err, c.want)
		}
	}
}
