package torchx

/*
#include <stdint.h>
// Defined in gotch's libtch (torch_api.cpp). Declared here because gotch
// v0.7.0's Go wrapper reads at_grad_set_enabled's 4-byte int as an 8-byte Go
// int (so ts.GradSetEnabled and ts.NoGrad see a garbage previous mode), and
// at_manual_seed has no Go wrapper.
int at_grad_set_enabled(int);
void at_manual_seed(int64_t);
*/
import "C"

import (
	"fmt"
	"runtime"

	_ "github.com/sugarme/gotch/libtch" // links the C symbols declared above
	"github.com/sugarme/gotch/ts"
)

// SetGradMode sets libtorch's grad mode on the calling OS thread and returns
// the previous mode. Use it (or WithoutGrad) instead of ts.GradSetEnabled /
// ts.NoGrad.
func SetGradMode(on bool) (bool, error) {
	b := C.int(0)
	if on {
		b = 1
	}
	prev := C.at_grad_set_enabled(b)
	if err := ts.TorchErr(); err != nil {
		return false, fmt.Errorf("torchx: set grad mode: %w", err)
	}
	switch prev {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("torchx: at_grad_set_enabled returned %d", int(prev))
}

// WithoutGrad runs fn with grad mode off on this OS thread and restores the
// previous mode afterwards, also when fn fails or panics.
func WithoutGrad(fn func() error) (err error) {
	// Grad mode is per OS thread: keep the goroutine on this one until the
	// mode is restored, whether or not the caller pinned it (locks nest).
	// Unpinned, fn's ops could run on another thread with grad on, where
	// an in-place update of a parameter fails (seen in the model tests).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	prev, err := SetGradMode(false)
	if err != nil {
		return err
	}
	defer func() {
		if _, rerr := SetGradMode(prev); rerr != nil && err == nil {
			err = rerr
		}
	}()
	return fn()
}

// ManualSeed seeds libtorch's global CPU (and CUDA) generators, as
// torch.manual_seed does. The packages using torchx draw their own random
// numbers from a Go RNG passed in; this is for callers that need torch's.
func ManualSeed(seed int64) { C.at_manual_seed(C.int64_t(seed)) }
