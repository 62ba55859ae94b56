package main

import (
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSplitBuild proves the shared link mode end to end against the
// installed libtorch: BuildLib compiles libflowssl_tch.so (cached in the
// repository's build/libtch), Prepare writes the Go side into a temporary
// folder, flowssl's model tests are compiled against it with their own
// go.mod (-modfile, so .deps/gotch stays as it is), the test binary needs
// libflowssl_tch.so and no libtorch library, and it passes the toolchain,
// adapted-binding, autocast and loss-scaler tests. Skipped with -short or
// without libtorch; it takes a few minutes when nothing is cached.
func TestSplitBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the split build compiles libtch and a test binary")
	}
	if _, err := FindTorch(os.Getenv("LIBTORCH"), "cpu"); err != nil {
		t.Skipf("no libtorch: %v", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	o := Options{GotchVersion: "v0.7.0", OutDir: filepath.Join(tmp, "deps"), Libtorch: os.Getenv("LIBTORCH"), Flavour: "cpu",
		CXX: envOr("CXX", "g++"), Link: "shared", LibRoot: filepath.Join(repo, "build", "libtch")}
	if err := Prepare(o, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.OutDir, "gotch", "libtch", "torch_api.cpp")); err == nil {
		t.Fatal("shared Go copy still holds torch_api.cpp: cgo would compile it")
	}
	mod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^replace github.com/sugarme/gotch => .*$`)
	if !re.Match(mod) {
		t.Fatal("go.mod has no gotch replace line")
	}
	mod = re.ReplaceAll(mod, []byte("replace github.com/sugarme/gotch => "+filepath.Join(o.OutDir, "gotch")))
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), mod, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := copyFile(filepath.Join(repo, "go.sum"), filepath.Join(tmp, "go.sum")); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, "bin", "model.test")
	build := exec.Command(goBin, "test", "-c", "-modfile", filepath.Join(tmp, "go.mod"), "-o", bin, "./model")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c ./model (shared): %v\n%s", err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	needed, _ := f.ImportedLibraries()
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	f.Close()
	if !contains(needed, LibName) {
		t.Fatalf("test binary needs %v, want %s among them", needed, LibName)
	}
	for _, n := range needed {
		if strings.HasPrefix(n, "libtorch") || strings.HasPrefix(n, "libc10") {
			t.Fatalf("test binary links %s directly (needs %v): the build is not split", n, needed)
		}
	}
	if !strings.Contains(strings.Join(runpath, ":"), "$ORIGIN/../lib") {
		t.Errorf("RUNPATH %v lacks $ORIGIN/../lib", runpath)
	}
	st, _ := os.Stat(bin)
	t.Logf("shared-mode model.test: %.1f MiB, needs %v", float64(st.Size())/(1<<20), needed)

	run := exec.Command(bin, "-test.v", "-test.run", "^(TestToolchainConvBNStep|TestAdaptedBindingReportsError|TestAutocastBF16CPU|TestGradScaler)$")
	run.Dir = filepath.Join(repo, "model")
	run.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("shared-mode tests: %v\n%s", err, out)
	}
	for _, name := range []string{"TestToolchainConvBNStep", "TestAdaptedBindingReportsError", "TestAutocastBF16CPU", "TestGradScaler"} {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			t.Errorf("%s did not pass in the shared build:\n%s", name, out)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
