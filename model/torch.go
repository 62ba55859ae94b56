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
