// Command gotchprep prepares a copy of github.com/sugarme/gotch for the
// libtorch installed on this machine: it writes libtch's cgo flags for the
// CPU or CUDA flavour and replaces every generated binding that does not
// compile against the installed headers with one that reports
// "<name>: not available in libtorch <version>" at run time.
//
// The result is cached under the output folder keyed by gotch version,
// libtorch version, flavour and libtorch location, and the folder link
// <out>/gotch points at it so go.mod can `replace` gotch with ./.deps/gotch.
//
// Link modes (-link, or FLOWSSL_LINK): "cgo" (default) compiles gotch's C++
// layer into every Go binary through cgo, so a binary is tied to the
// libtorch it was built on. "shared" splits the build: -lib compiles the C++
// layer (same adapter, plus flowssl's shim) into
// <libroot>/<libtorch version>-<flavour>/libflowssl_tch.so with only a C++
// compiler and libtorch, and the prepared Go copy links that library's C
// interface, so a binary built here runs on a machine whose library was
// built there against another libtorch. gotchprep itself is pure Go: built
// with CGO_ENABLED=0 it runs where no Go toolchain is (-src names the gotch
// sources there).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	var o Options
	var lib, printDir bool
	flag.StringVar(&o.GotchVersion, "gotch", "v0.7.0", "gotch module version to prepare")
	flag.StringVar(&o.OutDir, "out", ".deps", "folder for prepared copies")
	flag.StringVar(&o.Libtorch, "libtorch", os.Getenv("LIBTORCH"), "libtorch root with lib/ and include/ (empty: the system's, e.g. Debian's libtorch-dev)")
	flag.StringVar(&o.Flavour, "flavour", envOr("FLOWSSL_FLAVOUR", "auto"), "cpu, cuda or auto (cuda when libtorch_cuda is present)")
	flag.StringVar(&o.CXX, "cxx", envOr("CXX", "g++"), "C++ compiler used to test-compile the bindings")
	flag.BoolVar(&o.Force, "force", false, "rebuild even when a cached copy matches")
	flag.StringVar(&o.Link, "link", envOr("FLOWSSL_LINK", "cgo"), "cgo (C++ layer compiled into the Go binary) or shared (Go links libflowssl_tch.so)")
	flag.StringVar(&o.LibRoot, "libroot", envOr("FLOWSSL_LIBROOT", filepath.Join("build", "libtch")), "where -lib (and -link shared) keep libflowssl_tch.so, one folder per libtorch")
	flag.StringVar(&o.Src, "src", "", "unpacked gotch module to use instead of `go mod download` (for machines without Go)")
	flag.BoolVar(&lib, "lib", false, "only build libflowssl_tch.so for the installed libtorch and print its folder")
	flag.BoolVar(&printDir, "print-libdir", false, "print the folder -lib writes for the installed libtorch and exit")
	flag.Parse()
	var err error
	switch {
	case printDir:
		var t Torch
		if t, err = FindTorch(o.Libtorch, o.Flavour); err == nil {
			fmt.Println(filepath.Join(o.LibRoot, LibSubdir(t)))
		}
	case lib:
		var dir string
		if dir, _, err = BuildLib(o, os.Stderr); err == nil {
			fmt.Println(dir)
		}
	default:
		err = Prepare(o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gotchprep:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
