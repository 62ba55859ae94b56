package model

import "github.com/flowssl/flowssl/internal/torchx"

// SetGradMode sets libtorch's grad mode on this OS thread and returns the
// previous mode. Use it (or WithoutGrad) instead of ts.GradSetEnabled /
// ts.NoGrad, whose previous-mode value is unreliable in gotch v0.7.0 (it
// reads a C int as a Go int).
func SetGradMode(on bool) (bool, error) { return torchx.SetGradMode(on) }
