package main

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Options configures Prepare and BuildLib.
type Options struct {
	GotchVersion string
	OutDir       string
	Libtorch     string
	Flavour      string
	CXX          string
	Force        bool
	// Link is "cgo" (gotch's C++ layer compiled into every Go binary by
	// cgo, the default) or "shared" (Go links libflowssl_tch.so, built
	// separately by BuildLib, through its C interface only).
	Link string
	// LibRoot holds BuildLib's output, one <libtorch version>-<flavour>
	// folder per libtorch (make libtch: build/libtch).
	LibRoot string
	// Src is an unpacked gotch module (the GPU bundle ships one); empty:
	// `go mod download`.
	Src string
}

// Torch describes an installed libtorch.
type Torch struct {
	Version  string   // e.g. "1.13.0", from torch/version.h
	LibDir   string   // holds libtorch.so
	Includes []string // -I folders
	CUDA     bool
	CXX11ABI bool
}

// Flavour is "cuda" or "cpu".
func (t Torch) Flavour() string {
	if t.CUDA {
		return "cuda"
	}
	return "cpu"
}

const generatedFile = "torch_api_generated.cpp.h"

// LibName is the shared library BuildLib writes.
const LibName = "libflowssl_tch.so"

// prepRevision changes whenever what Prepare writes changes, so cached
// copies made by an older gotchprep are rebuilt.
const prepRevision = 4

// stamp is written into a prepared copy so a later run can reuse it.
type stamp struct {
	Key      string   `json:"key"`
	Adapted  []string `json:"adapted"`
	Total    int      `json:"total"`
	Version  string   `json:"libtorch_version"`
	Flavour  string   `json:"flavour"`
	LibDir   string   `json:"libdir"`
	CXX11ABI bool     `json:"cxx11_abi"`
	Std      string   `json:"std,omitempty"`
}

// Prepare makes (or reuses) the adapted gotch copy and points <out>/gotch at
// it. In shared link mode it first builds (or reuses) libflowssl_tch.so for
// the installed libtorch, since Go binaries link against it.
func Prepare(o Options, log io.Writer) error {
	switch o.Link {
	case "", "cgo":
		return prepareCgo(o, log)
	case "shared":
		return prepareShared(o, log)
	}
	return fmt.Errorf("link %q: want cgo or shared", o.Link)
}

func prepareCgo(o Options, log io.Writer) error {
	t, err := FindTorch(o.Libtorch, o.Flavour)
	if err != nil {
		return err
	}
	flavour := t.Flavour()
	h := sha256.Sum256([]byte(t.LibDir + "|" + strings.Join(t.Includes, "|") + "|" + shimDigest()))
	key := fmt.Sprintf("gotch-%s-libtorch%s-%s-%s-r%d", o.GotchVersion, t.Version, flavour, hex.EncodeToString(h[:4]), prepRevision)
	dst := filepath.Join(o.OutDir, key)
	link := filepath.Join(o.OutDir, "gotch")

	if !o.Force {
		if st, err := readStamp(dst); err == nil && st.Key == key {
			if err := relink(link, key); err != nil {
				return err
			}
			fmt.Fprintf(log, "gotchprep: cached %s: adapted %d of %d bindings for libtorch %s (%s)\n", dst, len(st.Adapted), st.Total, t.Version, flavour)
			return nil
		}
	}

	src, err := gotchSource(o)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := copyTree(src, tmp); err != nil {
		return fmt.Errorf("copy gotch %s: %w", src, err)
	}
	if _, _, err := fixGeneratedMemory(filepath.Join(tmp, "ts")); err != nil {
		return err
	}
	libtch := filepath.Join(tmp, "libtch")
	ad, err := adaptSources(o.CXX, t, libtch)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(libtch, "lib.go"), []byte(CgoFlags(t, ad.Std)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(libtch, "prepared.go"), []byte(preparedInfo(t.Version, flavour, len(ad.Adapted), ad.Total)), 0o644); err != nil {
		return err
	}
	st := stamp{Key: key, Adapted: ad.Adapted, Total: ad.Total, Version: t.Version, Flavour: flavour, LibDir: t.LibDir, CXX11ABI: t.CXX11ABI, Std: ad.Std}
	if err := finish(tmp, dst, st); err != nil {
		return err
	}
	if err := relink(link, key); err != nil {
		return err
	}
	fmt.Fprintf(log, "gotchprep: adapted %d of %d bindings for libtorch %s (%s) in %s\n", len(ad.Adapted), ad.Total, t.Version, flavour, dst)
	return nil
}

// prepareShared writes a gotch copy whose libtch holds no C++ at all: its
// Go files declare the C interface and link -lflowssl_tch, found at run
// time next to the binary ($ORIGIN, $ORIGIN/../lib), then in LibRoot.
func prepareShared(o Options, log io.Writer) error {
	libDir, st, err := BuildLib(o, log)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(libDir)
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(abs))
	key := fmt.Sprintf("gotch-%s-shared-%s-%s-r%d", o.GotchVersion, filepath.Base(libDir), hex.EncodeToString(h[:4]), prepRevision)
	dst := filepath.Join(o.OutDir, key)
	link := filepath.Join(o.OutDir, "gotch")
	if !o.Force {
		if old, err := readStamp(dst); err == nil && old.Key == key {
			if err := relink(link, key); err != nil {
				return err
			}
			fmt.Fprintf(log, "gotchprep: cached %s: Go side of %s\n", dst, filepath.Join(abs, LibName))
			return nil
		}
	}
	src, err := gotchSource(o)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := copyTree(src, tmp); err != nil {
		return fmt.Errorf("copy gotch %s: %w", src, err)
	}
	if _, _, err := fixGeneratedMemory(filepath.Join(tmp, "ts")); err != nil {
		return err
	}
	libtch := filepath.Join(tmp, "libtch")
	// Without C++ sources cgo compiles only the Go files' C preambles, so
	// the package builds without libtorch's headers.
	cpp, _ := filepath.Glob(filepath.Join(libtch, "*.cpp"))
	for _, f := range cpp {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(libtch, "lib.go"), []byte(SharedCgoFlags(abs)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(libtch, "prepared.go"), []byte(preparedInfo(st.Version, "shared "+st.Flavour, len(st.Adapted), st.Total)), 0o644); err != nil {
		return err
	}
	st.Key = key
	if err := finish(tmp, dst, st); err != nil {
		return err
	}
	if err := relink(link, key); err != nil {
		return err
	}
	fmt.Fprintf(log, "gotchprep: Go side of %s in %s\n", filepath.Join(abs, LibName), dst)
	return nil
}

// LibSubdir is the folder under LibRoot that BuildLib writes for t.
func LibSubdir(t Torch) string { return t.Version + "-" + t.Flavour() }

// BuildLib compiles gotch's C++ layer (adapted like Prepare's) and
// flowssl's shim into <LibRoot>/<version>-<flavour>/libflowssl_tch.so with
// only the C++ compiler and libtorch: no Go toolchain is involved beyond
// this program, so it runs on a machine that has none.
func BuildLib(o Options, log io.Writer) (string, stamp, error) {
	t, err := FindTorch(o.Libtorch, o.Flavour)
	if err != nil {
		return "", stamp{}, err
	}
	root := o.LibRoot
	if root == "" {
		root = filepath.Join("build", "libtch")
	}
	dst := filepath.Join(root, LibSubdir(t))
	h := sha256.Sum256([]byte(t.LibDir + "|" + strings.Join(t.Includes, "|") + "|" + shimDigest()))
	key := fmt.Sprintf("libtch-%s-libtorch%s-%s-%s-r%d", o.GotchVersion, t.Version, t.Flavour(), hex.EncodeToString(h[:4]), prepRevision)
	if !o.Force {
		if st, err := readStamp(dst); err == nil && st.Key == key {
			if _, err := os.Stat(filepath.Join(dst, LibName)); err == nil {
				fmt.Fprintf(log, "gotchprep: cached %s\n", filepath.Join(dst, LibName))
				return dst, st, nil
			}
		}
	}
	src, err := gotchSource(o)
	if err != nil {
		return "", stamp{}, err
	}
	tmp := dst + ".tmp"
	_ = os.RemoveAll(tmp)
	csrc := filepath.Join(tmp, "src")
	if err := os.MkdirAll(csrc, 0o755); err != nil {
		return "", stamp{}, err
	}
	files, _ := filepath.Glob(filepath.Join(src, "libtch", "*.h"))
	files = append(files, filepath.Join(src, "libtch", "torch_api.cpp"))
	for _, f := range files {
		if err := copyFile(f, filepath.Join(csrc, filepath.Base(f))); err != nil {
			return "", stamp{}, fmt.Errorf("gotch source: %w", err)
		}
	}
	ad, err := adaptSources(o.CXX, t, csrc)
	if err != nil {
		return "", stamp{}, err
	}
	out := filepath.Join(tmp, LibName)
	if err := compileLib(o.CXX, t, ad.Std, csrc, out); err != nil {
		return "", stamp{}, err
	}
	st := stamp{Key: key, Adapted: ad.Adapted, Total: ad.Total, Version: t.Version, Flavour: t.Flavour(), LibDir: t.LibDir, CXX11ABI: t.CXX11ABI, Std: ad.Std}
	if err := finish(tmp, dst, st); err != nil {
		return "", stamp{}, err
	}
	fmt.Fprintf(log, "gotchprep: built %s: adapted %d of %d bindings for libtorch %s (%s)\n", filepath.Join(dst, LibName), len(ad.Adapted), ad.Total, t.Version, t.Flavour())
	return dst, st, nil
}

// compileLib builds the two translation units in parallel and links them.
func compileLib(cxx string, t Torch, std, csrc, out string) error {
	flags := append([]string{"-std=" + std, "-O2", "-w", "-fPIC", "-D_GLIBCXX_USE_CXX11_ABI=" + abiFlag(t), "-DFLOWSSL_CUDA=" + cudaFlag(t), "-I" + csrc}, incFlags(t)...)
	units := []string{"torch_api.cpp", "flowssl_shim.cpp"}
	errs := make(chan error, len(units))
	var objs []string
	for _, u := range units {
		obj := filepath.Join(csrc, strings.TrimSuffix(u, ".cpp")+".o")
		objs = append(objs, obj)
		go func(u, obj string) {
			args := append(append([]string{}, flags...), "-c", filepath.Join(csrc, u), "-o", obj)
			b, err := exec.Command(cxx, args...).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("%s %s: %v\n%s", cxx, u, err, firstLines(string(b), 30))
			}
			errs <- err
		}(u, obj)
	}
	for range units {
		if err := <-errs; err != nil {
			return err
		}
	}
	args := append([]string{"-shared", "-o", out, "-Wl,-soname," + LibName}, objs...)
	args = append(args, "-L"+t.LibDir, "-Wl,-rpath,"+t.LibDir)
	args = append(args, strings.Fields(linkLibs(t))...)
	if b, err := exec.Command(cxx, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("link %s: %v\n%s", out, err, firstLines(string(b), 30))
	}
	for _, obj := range objs {
		_ = os.Remove(obj)
	}
	return nil
}

// adapted is what adaptSources did to a libtch source folder.
type adapted struct {
	Adapted []string
	Total   int
	Std     string // the -std the sources compile with
}

// adaptSources adds flowssl's shim to the libtch folder dir, routes
// torch_api.cpp's autocast calls through the version switches, and
// replaces every generated binding that does not compile against t.
func adaptSources(cxx string, t Torch, dir string) (adapted, error) {
	var ad adapted
	if err := writeShim(dir); err != nil {
		return ad, err
	}
	apiPath := filepath.Join(dir, "torch_api.cpp")
	api, err := os.ReadFile(apiPath)
	if err != nil {
		return ad, err
	}
	if err := os.WriteFile(apiPath, []byte(PatchTorchAPI(string(api))), 0o644); err != nil {
		return ad, err
	}
	genPath := filepath.Join(dir, generatedFile)
	raw, err := os.ReadFile(genPath)
	if err != nil {
		return ad, err
	}
	pristine := string(raw)
	// Newer libtorch headers may need a newer C++ standard; gotch's own
	// code is C++17.
	var lastErr error
	for _, std := range []string{"c++17", "c++20"} {
		ad, lastErr = adaptBindings(cxx, t, std, dir, pristine)
		if lastErr == nil {
			return ad, nil
		}
	}
	return ad, lastErr
}

func adaptBindings(cxx string, t Torch, std, dir, srcText string) (adapted, error) {
	ad := adapted{Std: std}
	genPath := filepath.Join(dir, generatedFile)
	if err := os.WriteFile(genPath, []byte(srcText), 0o644); err != nil {
		return ad, err
	}
	bindings, err := ParseBindings(srcText)
	if err != nil {
		return ad, fmt.Errorf("%s: %w", genPath, err)
	}
	// A failing binding can hide errors in later ones (g++ recovers
	// imperfectly), so compile again until the file is clean.
	for pass := 0; ; pass++ {
		out, ok := syntaxCheck(cxx, t, std, dir)
		if ok {
			break
		}
		names, stray := FailingBindings(bindings, ParseErrors(out, generatedFile))
		if stray = append(stray, otherErrors(out, generatedFile)...); len(stray) > 0 || pass >= 6 || len(names) == 0 {
			return ad, fmt.Errorf("torch_api.cpp does not compile (-std=%s) against libtorch %s in %s, and not only in generated bindings:\n%s", std, t.Version, t.LibDir, firstLines(out, 30))
		}
		srcText, err = Replace(srcText, bindings, names, t.Version)
		if err != nil {
			return ad, err
		}
		if err := os.WriteFile(genPath, []byte(srcText), 0o644); err != nil {
			return ad, err
		}
		if bindings, err = ParseBindings(srcText); err != nil {
			return ad, err
		}
		ad.Adapted = append(ad.Adapted, names...)
	}
	ad.Total = len(bindings)
	return ad, nil
}

// otherErrors are compiler errors located in any file but the generated one.
func otherErrors(out, generated string) []Diagnostic {
	var d []Diagnostic
	for _, e := range ParseErrors(out, "") {
		if !strings.HasSuffix(e.File, generated) {
			d = append(d, e)
		}
	}
	return d
}

func preparedInfo(version, flavour string, adapted, total int) string {
	return fmt.Sprintf("// Code generated by flowssl tools/gotchprep; DO NOT EDIT.\n\npackage libtch\n\n"+
		"// What gotchprep prepared this copy for, so programs can report it.\nconst (\n"+
		"\tPreparedLibtorchVersion = %q\n\tPreparedFlavour = %q\n\tPreparedAdapted = %d\n\tPreparedBindings = %d\n)\n",
		version, flavour, adapted, total)
}

// finish writes the stamp into tmp and moves it to dst.
func finish(tmp, dst string, st stamp) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, ".gotchprep.json"), b, 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dst)
	return os.Rename(tmp, dst)
}

func gotchSource(o Options) (string, error) {
	if o.Src != "" {
		if _, err := os.Stat(filepath.Join(o.Src, "libtch", "torch_api.cpp")); err != nil {
			return "", fmt.Errorf("-src %s: not a gotch module folder: %w", o.Src, err)
		}
		return o.Src, nil
	}
	return moduleDir(o.GotchVersion)
}

func readStamp(dir string) (stamp, error) {
	var st stamp
	b, err := os.ReadFile(filepath.Join(dir, ".gotchprep.json"))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func relink(link, target string) error {
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	tmp := link + ".new"
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

func abiFlag(t Torch) string {
	if t.CXX11ABI {
		return "1"
	}
	return "0"
}

func cudaFlag(t Torch) string {
	if t.CUDA {
		return "1"
	}
	return "0"
}

func incFlags(t Torch) []string {
	var inc []string
	for _, d := range t.Includes {
		inc = append(inc, "-I"+d)
	}
	return inc
}

// linkLibs are the libtorch libraries gotch's C++ layer links.
func linkLibs(t Torch) string {
	libs := "-lstdc++ -ltorch -ltorch_cpu -lc10"
	if t.CUDA {
		// libtorch_cuda is only reached through static registration, so
		// --as-needed would drop it and CUDA would silently be missing.
		libs = "-Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed " + libs
	}
	return libs
}

// CgoFlags renders libtch/lib.go for t (cgo link mode), compiling the C++
// sources with -std=std.
func CgoFlags(t Torch, std string) string {
	if std == "" {
		std = "c++17"
	}
	abi := abiFlag(t)
	return fmt.Sprintf(`// Code generated by flowssl tools/gotchprep for libtorch %s; DO NOT EDIT.

package libtch

// #cgo CFLAGS: -I${SRCDIR} -O2 -w -D_GLIBCXX_USE_CXX11_ABI=%s
// #cgo CXXFLAGS: -std=%s -I${SRCDIR} -O2 -w -D_GLIBCXX_USE_CXX11_ABI=%s -DFLOWSSL_CUDA=%s %s
// #cgo LDFLAGS: -L%s -Wl,-rpath,%s %s
import "C"
`, t.Version, abi, std, abi, cudaFlag(t), strings.Join(incFlags(t), " "), t.LibDir, t.LibDir, linkLibs(t))
}

// SharedCgoFlags renders libtch/lib.go for the shared link mode: only
// libflowssl_tch.so's C interface, looked up at run time beside the
// binary, in ../lib from it (the GPU bundle's layout), then in libDir.
func SharedCgoFlags(libDir string) string {
	return fmt.Sprintf(`// Code generated by flowssl tools/gotchprep (shared link mode); DO NOT EDIT.

package libtch

// #cgo CFLAGS: -I${SRCDIR} -O2 -w
// #cgo LDFLAGS: -L%s -Wl,-rpath,$ORIGIN -Wl,-rpath,$ORIGIN/../lib -Wl,-rpath,%s -lflowssl_tch
import "C"
`, libDir, libDir)
}

func syntaxCheck(cxx string, t Torch, std, libtch string) (string, bool) {
	args := []string{"-std=" + std, "-fsyntax-only", "-fmax-errors=0", "-w", "-D_GLIBCXX_USE_CXX11_ABI=" + abiFlag(t), "-I" + libtch}
	args = append(args, incFlags(t)...)
	args = append(args, filepath.Join(libtch, "torch_api.cpp"))
	cmd := exec.Command(cxx, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

// FindTorch locates libtorch: under root (a libtorch or PyTorch torch/
// folder with lib/ and include/) or, when root is empty, the system's.
func FindTorch(root, flavour string) (Torch, error) {
	var t Torch
	var inc string
	if root != "" {
		t.LibDir = filepath.Join(root, "lib")
		inc = filepath.Join(root, "include")
	} else {
		inc = "/usr/include"
		for _, d := range []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib", "/usr/local/lib"} {
			if _, err := os.Stat(filepath.Join(d, "libtorch.so")); err == nil {
				t.LibDir = d
				break
			}
		}
		if t.LibDir == "" {
			return t, errors.New("libtorch not found: install Debian's libtorch-dev (make setup) or set LIBTORCH to a libtorch or PyTorch torch/ folder")
		}
	}
	if _, err := os.Stat(filepath.Join(t.LibDir, "libtorch.so")); err != nil {
		return t, fmt.Errorf("libtorch not found in %s: %w", t.LibDir, err)
	}
	api := filepath.Join(inc, "torch", "csrc", "api", "include")
	t.Includes = []string{inc, api}
	v, err := torchVersion(filepath.Join(api, "torch", "version.h"))
	if err != nil {
		return t, err
	}
	t.Version = v
	_, cudaErr := os.Stat(filepath.Join(t.LibDir, "libtorch_cuda.so"))
	switch flavour {
	case "cpu":
	case "cuda":
		if cudaErr != nil {
			return t, fmt.Errorf("flavour cuda: %s has no libtorch_cuda.so", t.LibDir)
		}
		t.CUDA = true
	case "auto", "":
		t.CUDA = cudaErr == nil
	default:
		return t, fmt.Errorf("flavour %q: want cpu, cuda or auto", flavour)
	}
	abi, err := usesCXX11ABI(filepath.Join(t.LibDir, "libc10.so"))
	if err != nil {
		return t, err
	}
	t.CXX11ABI = abi
	return t, nil
}

var versionRE = regexp.MustCompile(`#define TORCH_VERSION_(MAJOR|MINOR|PATCH) (\d+)`)

func torchVersion(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("libtorch headers: %w", err)
	}
	parts := map[string]string{}
	for _, m := range versionRE.FindAllStringSubmatch(string(b), -1) {
		parts[m[1]] = m[2]
	}
	if len(parts) != 3 {
		return "", fmt.Errorf("%s: no TORCH_VERSION_MAJOR/MINOR/PATCH", path)
	}
	return parts["MAJOR"] + "." + parts["MINOR"] + "." + parts["PATCH"], nil
}

// usesCXX11ABI tells from libc10's exported symbols whether libtorch was
// built with the new libstdc++ ABI: Debian's is, older pip wheels are not,
// and a mismatch only shows up as undefined std::string symbols at link time.
func usesCXX11ABI(lib string) (bool, error) {
	f, err := elf.Open(lib)
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", lib, err)
	}
	defer f.Close()
	syms, err := f.DynamicSymbols()
	if err != nil {
		return false, fmt.Errorf("inspect %s: %w", lib, err)
	}
	for _, s := range syms {
		if strings.Contains(s.Name, "__cxx11") {
			return true, nil
		}
	}
	return false, nil
}

func moduleDir(version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/sugarme/gotch@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download github.com/sugarme/gotch@%s: %v %s", version, err, info.Error)
	}
	return info.Dir, nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && (rel == "example" || rel == ".git") {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
