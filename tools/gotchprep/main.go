// Command gotchprep prepares a copy of github.com/sugarme/gotch for the
// libtorch installed on this machine: it writes libtch's cgo flags for the
// CPU or CUDA flavour and replaces every generated binding that does not
// compile against the installed headers with one that reports
// "<name>: not available in libtorch <version>" at run time.
//
// The result is cached under the output folder keyed by gotch version,
// libtorch version, flavour and libtorch location, and the folder link
// <out>/gotch points at it so go.mod can `replace` gotch with ./.deps/gotch.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var o Options
	flag.StringVar(&o.GotchVersion, "gotch", "v0.7.0", "gotch module version to prepare")
	flag.StringVar(&o.OutDir, "out", ".deps", "folder for prepared copies")
	flag.StringVar(&o.Libtorch, "libtorch", os.Getenv("LIBTORCH"), "libtorch root with lib/ and include/ (empty: the system's, e.g. Debian's libtorch-dev)")
	flag.StringVar(&o.Flavour, "flavour", envOr("FLOWSSL_FLAVOUR", "auto"), "cpu, cuda or auto (cuda when libtorch_cuda is present)")
	flag.StringVar(&o.CXX, "cxx", envOr("CXX", "g++"), "C++ compiler used to test-compile the bindings")
	flag.BoolVar(&o.Force, "force", false, "rebuild even when a cached copy matches")
	flag.Parse()
	if err := Prepare(o, os.Stdout); err != nil {
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
