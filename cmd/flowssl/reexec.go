package main

import (
	"os"
	"syscall"

	"github.com/flowssl/flowssl/augment"
)

// reexecWithEnv restarts the process with the environment libvips and
// glibc need set before start-up (MALLOC_ARENA_MAX only takes effect at
// exec time; see augment.RecommendedEnv). A user's own setting wins.
func reexecWithEnv() {
	if os.Getenv("FLOWSSL_REEXEC") != "" {
		return
	}
	missing := augment.MissingEnv(os.LookupEnv)
	if len(missing) == 0 {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	env := append(append(os.Environ(), missing...), "FLOWSSL_REEXEC=1")
	_ = syscall.Exec(exe, os.Args, env) // on failure, run as we are
}
