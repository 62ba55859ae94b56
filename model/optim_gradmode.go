package model

/*
// Defined in gotch's libtch (torch_api.cpp). Called directly because
// gotch v0.7.0's Go wrapper reads this 4-byte int return as an 8-byte Go
// int, so ts.GradSetEnabled (and ts.NoGrad, which restores from it)
// report a garbage previous mode and can leave grad mode off.
int at_grad_set_enabled(int);
*/
import "C"

import (
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// SetGradMode sets libtorch's grad mode on this OS thread and returns the
// previous mode. Use it (or WithoutGrad) instead of ts.GradSetEnabled /
// ts.NoGrad, whose previous-mode value is unreliable in gotch v0.7.0.
func SetGradMode(on bool) (bool, error) {
	b := C.int(0)
	if on {
		b = 1
	}
	prev := C.at_grad_set_enabled(b)
	if err := ts.TorchErr(); err != nil {
		return false, err
	}
	switch prev {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("at_grad_set_enabled returned %d", int(prev))
}
