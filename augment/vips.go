package augment

/*
#cgo pkg-config: vips
#cgo LDFLAGS: -lm
#include "vips_decode.h"
*/
import "C"

import (
	"strings"

	"github.com/h2non/bimg"
)

// init runs after bimg's init (imported packages initialise first), which has
// already called vips_init and, unless VIPS_CONCURRENCY is set,
// vips_concurrency_set(1). One libvips worker thread per image is what
// flowssl wants: the Loader/Augment actors decode many images at once in
// their own goroutines, so parallelism comes from images, and a per-image
// thread pool would only oversubscribe the cores and add hand-off latency.
//
// On top of that, fs_init turns the operation cache off and blocks the
// loaders libvips marks untrusted; see the package doc's # libvips section.
func init() {
	bimg.VipsCacheSetMax(0)
	bimg.VipsCacheSetMaxMem(0)
	C.fs_init()
}

// RecommendedEnv lists the environment settings that flowssl's decoding
// wants in place before the process starts, as "NAME=value".
//
// MALLOC_ARENA_MAX=2: glibc gives each thread that allocates concurrently
// its own arena (up to 8 per core) and returns freed memory to the OS only
// from the top of an arena. libvips allocates per-image strip buffers from
// whichever OS thread the calling goroutine runs on and from its worker
// threads, so with many decoding goroutines the resident size creeps up with
// memory that is free but held in scattered arenas. Two arenas keep the
// resident size flat at no measurable decode-speed cost (the same advice
// libvips and sharp give). glibc reads the variable at its first malloc, so
// it must be in the environment of the process at exec time: cmd/flowssl
// re-executes itself with MissingEnv's entries appended to os.Environ()
// (or the user exports the variable); os.Setenv at run time has no effect.
func RecommendedEnv() []string {
	return []string{"MALLOC_ARENA_MAX=2"}
}

// MissingEnv returns the entries of RecommendedEnv whose variable is not set
// according to lookup (normally os.LookupEnv). A variable the user has set,
// to any value, is respected.
func MissingEnv(lookup func(string) (string, bool)) []string {
	var out []string
	for _, kv := range RecommendedEnv() {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := lookup(name); !ok {
			out = append(out, kv)
		}
	}
	return out
}
