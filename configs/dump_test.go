package configs

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs/tree"
)

// TestDumpRoundTrip renders every shipped config in every format and parses it back.
func TestDumpRoundTrip(t *testing.T) {
	for _, n := range ListRunnable() {
		cfg, err := Load(n, LoadOptions{NoDisk: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{FormatYAML, FormatJSON, FormatPy} {
			out, err := Dump(cfg, f)
			if err != nil {
				t.Fatalf("%s %s: %v", n, f, err)
			}
			back, err := LoadTree(n+"."+f, f, out)
			if err != nil {
				t.Fatalf("%s %s: reparse: %v\n%s", n, f, err, out)
			}
			if d := tree.Diff("", cfg.Tree, back); d != "" {
				t.Errorf("%s %s: %s", n, f, d)
			}
			if strings.Join(cfg.Tree.Keys(), ",") != strings.Join(back.Keys(), ",") {
				t.Errorf("%s %s: key order changed", n, f)
			}
		}
	}
}

func TestDumpFormats(t *testing.T) {
	m := tree.FromPairs("a", 1, "f", 1.0, "s", "1", "n", nil, "l", []any{1.5, "x"},
		"m", tree.FromPairs("\\Ahead.", tree.FromPairs("momentum", 0.0)), "e", 1e-6, "b", true, "empty", tree.NewMap())
	cases := map[string]string{
		FormatYAML: "a: 1\nf: 1.0\ns: \"1\"\nn: null\nl: [1.5, x]\nm:\n  \\Ahead.:\n    momentum: 0.0\ne: 1e-06\nb: true\nempty: {}\n",
		FormatJSON: "{\n  \"a\": 1,\n  \"f\": 1.0,\n  \"s\": \"1\",\n  \"n\": null,\n  \"l\": [1.5, \"x\"],\n  \"m\": {\n    \"\\\\Ahead.\": {\n      \"momentum\": 0.0\n    }\n  },\n  \"e\": 1e-06,\n  \"b\": true,\n  \"empty\": {}\n}\n",
		FormatPy:   "a = 1\nf = 1.0\ns = '1'\nn = None\nl = [1.5, 'x']\nm = {'\\\\Ahead.': dict(momentum=0.0)}\ne = 1e-06\nb = True\nempty = dict()\n",
	}
	for f, want := range cases {
		got, err := DumpTree(m, f)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Errorf("%s:\n got  %q\n want %q", f, got, want)
		}
	}
	if _, err := DumpTree(tree.FromPairs("x", math.Inf(1)), FormatJSON); err == nil {
		t.Error("JSON accepted inf")
	}
	if _, err := DumpTree(m, "toml"); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestDumpPyRunsInCPython checks that the Python dump of a real config executes in CPython
// and yields the same JSON as the JSON dump.
func TestDumpPyRunsInCPython(t *testing.T) {
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not available: %v", python, err)
	}
	cfg, err := Load("selfsup/odc/odc_resnet50_8xb64-steplr-440e_in1k.yaml", LoadOptions{NoDisk: true})
	if err != nil {
		t.Fatal(err)
	}
	py, _ := Dump(cfg, FormatPy)
	dir := t.TempDir()
	p := filepath.Join(dir, "c.py")
	if err := os.WriteFile(p, py, 0o644); err != nil {
		t.Fatal(err)
	}
	script := "import json,sys\nns={}\nexec(open(sys.argv[1]).read(), ns)\n" +
		"print(json.dumps({k: v for k, v in ns.items() if not k.startswith('__')}))"
	out, err := exec.Command(python, "-c", script, p).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	back, err := LoadTree("py.json", "json", out)
	if err != nil {
		t.Fatal(err)
	}
	if d := tree.Diff("", cfg.Tree, back); d != "" {
		t.Errorf("CPython view of the py dump differs: %s", d)
	}
}
