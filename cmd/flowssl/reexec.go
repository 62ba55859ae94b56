package main

import (
	"os"
	"strings"
	"syscall"

	"github.com/flowssl/flowssl/augment"
	"github.com/flowssl/flowssl/model"
)

// reexecWithEnv restarts the process with the environment libvips, glibc
// and libgomp need set before start-up (MALLOC_ARENA_MAX and OMP_WAIT_POLICY
// only take effect at exec time; see augment.RecommendedEnv and
// model.RecommendedEnv). A user's own setting wins.
func reexecWithEnv() {
	if os.Getenv("FLOWSSL_REEXEC") != "" {
		return
	}
	missing := append(augment.MissingEnv(os.LookupEnv), missingEnv(model.RecommendedEnv(), os.LookupEnv)...)
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

// missingEnv returns the entries of want ("NAME=value") whose variable
// lookup does not find: a variable the user set, to any value, is kept.
func missingEnv(want []string, lookup func(string) (string, bool)) []string {
	var out []string
	for _, kv := range want {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := lookup(name); !ok {
			out = append(out, kv)
		}
	}
	return out
}
