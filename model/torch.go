package model

/*
#include <stdint.h>
// Defined in gotch's libtch (torch_api.cpp) but not exposed by its Go API.
void at_manual_seed(int64_t);
*/
import "C"

import (
	_ "github.com/sugarme/gotch/libtch" // provides at_manual_seed at link time
)

// ManualSeed seeds libtorch's global CPU (and CUDA) generators, as
// torch.manual_seed does; weight initialisation draws from them.
func ManualSeed(seed int64) { C.at_manual_seed(C.int64_t(seed)) }
