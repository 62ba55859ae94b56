package model

/*
#include <stdint.h>
// Defined in gotch's libtch (torch_api.cpp) but not exposed by its Go API.
void at_set_num_threads(int);
int at_get_num_threads();
*/
import "C"

import (
	_ "github.com/sugarme/gotch/libtch" // provides at_set_num_threads at link time

	"github.com/flowssl/flowssl/internal/torchx"
)

// ManualSeed seeds libtorch's global CPU (and CUDA) generators, as
// torch.manual_seed does; weight initialisation draws from them.
func ManualSeed(seed int64) { torchx.ManualSeed(seed) }

// SetNumThreads sets libtorch's intra-op thread count (process-wide).
func SetNumThreads(n int) { C.at_set_num_threads(C.int(n)) }

// NumThreads is libtorch's intra-op thread count.
func NumThreads() int { return int(C.at_get_num_threads()) }

// RecommendedEnv lists the environment settings libtorch's OpenMP runtime
// wants before the process starts, as "NAME=value".
//
// OMP_WAIT_POLICY=PASSIVE: libgomp's default lets an idle team thread spin
// for a while before it sleeps. flowssl's augment workers, libvips and any
// other process share the cores with libtorch's team, and a spinning thread
// takes a core a worker needs, while a descheduled team member stalls the
// whole parallel region at its barrier. On the 2-core dev VM with one
// competing process, a ResNet-18 step ran at 8–10 img/s with the default
// policy and 99–123 img/s passive (BENCHMARKS.md, "Cores"). libgomp reads
// the variable once, when it loads, so cmd/flowssl re-executes itself with
// it set; a value the user exported wins.
//
// OPENBLAS_NUM_THREADS=1: Debian's libtorch sends matrix products (the
// necks' and heads' linear layers) to OpenBLAS's pthread build, whose own
// pool of one thread per core spins after every call, again on the cores
// libtorch's OpenMP team is using for the convolutions. These products are
// small next to the convolutions, so one BLAS thread loses nothing and the
// step gains: SimCLR ResNet-18 at 96 px ran at 59–62 img/s instead of
// 56 end to end (BENCHMARKS.md, "End to end").
func RecommendedEnv() []string {
	return []string{"OMP_WAIT_POLICY=PASSIVE", "OPENBLAS_NUM_THREADS=1"}
}
