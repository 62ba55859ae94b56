package model

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// EMA keeps an exponential moving average of every parameter as a buffer
// named "ema_" + the parameter's name with dots replaced by underscores,
// registered at the model's root: mmcv's EMAHook layout, so its
// checkpoints carry the averages and resume restores them.
type EMA struct {
	pairs [][2]*ts.Tensor // [parameter, average]
}

// NewEMA registers the averages in vs, each starting as a copy of its
// parameter. Call it on vs's pinned thread, after the model is built and
// before any checkpoint is loaded.
func NewEMA(vs *nn.VarStore) (*EMA, error) {
	e := &EMA{}
	root := vs.Root()
	err := WithoutGrad(func() error {
		for _, p := range NamedParameters(vs) {
			name := "ema_" + strings.ReplaceAll(p.Name, ".", "_")
			c, err := deepCopy(p.T)
			if err != nil {
				return fmt.Errorf("ema %s: %w", p.Name, err)
			}
			buf, err := AddBuffer(root, name, c)
			c.MustDrop()
			if err != nil {
				return fmt.Errorf("ema %s: %w", p.Name, err)
			}
			e.pairs = append(e.pairs, [2]*ts.Tensor{p.T, buf})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(e.pairs) == 0 {
		return nil, fmt.Errorf("ema: the model has no parameters")
	}
	return e, nil
}

// Len is the number of averaged parameters.
func (e *EMA) Len() int { return len(e.pairs) }

// Update sets average = (1 - momentum)·average + momentum·parameter.
func (e *EMA) Update(momentum float64) error {
	return emaUpdate(e.pairs, 1-momentum)
}

// Swap exchanges every parameter's value with its average (EMAHook swaps
// at epoch ends so the model evaluates and ends with the averages).
func (e *EMA) Swap() error {
	return WithoutGrad(func() error {
		for _, p := range e.pairs {
			tmp, err := deepCopy(p[0])
			if err != nil {
				return err
			}
			p[0].Copy_(p[1])
			p[1].Copy_(tmp)
			tmp.MustDrop()
			if err := ts.TorchErr(); err != nil {
				return err
			}
		}
		return nil
	})
}

// deepCopy returns a tensor with its own storage holding x's values
// (Detach and ShallowClone share x's storage).
func deepCopy(x *ts.Tensor) (*ts.Tensor, error) {
	c, err := x.ZerosLike(false)
	if err != nil {
		return nil, err
	}
	c.Copy_(x)
	if err := ts.TorchErr(); err != nil {
		c.MustDrop()
		return nil, err
	}
	return c, nil
}
