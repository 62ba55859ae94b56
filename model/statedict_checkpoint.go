package model

import (
	"fmt"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

var tsToCkpt = map[gotch.DType]checkpoint.DType{
	gotch.Float: checkpoint.Float32, gotch.Double: checkpoint.Float64, gotch.Int64: checkpoint.Int64,
	gotch.Int: checkpoint.Int32, gotch.Int16: checkpoint.Int16, gotch.Int8: checkpoint.Int8,
	gotch.Uint8: checkpoint.Uint8, gotch.Bool: checkpoint.Bool,
}

// ToCheckpointTensor copies t (any layout, CPU or not) into a contiguous
// checkpoint.Tensor. t is not dropped.
func ToCheckpointTensor(t *ts.Tensor) (*checkpoint.Tensor, error) {
	dt, ok := tsToCkpt[t.DType()]
	if !ok {
		return nil, fmt.Errorf("to checkpoint: dtype %v not supported", t.DType())
	}
	shape, err := t.Size()
	if err != nil {
		return nil, fmt.Errorf("to checkpoint: %w", err)
	}
	// Copy out as float32, float64 or int64 and let checkpoint narrow the
	// other dtypes: gotch's CopyData only fills the matching Go slice type.
	host := gotch.Int64
	switch dt {
	case checkpoint.Float32, checkpoint.Float16:
		host = gotch.Float
	case checkpoint.Float64:
		host = gotch.Double
	}
	var c *ts.Tensor
	noGradDo(func() { c = t.MustDetach(false).MustTo(gotch.CPU, true).MustTotype(host, true).MustContiguous(true) })
	defer c.MustDrop()
	n := c.Numel()
	var out *checkpoint.Tensor
	switch host {
	case gotch.Float:
		v := make([]float32, n)
		if n > 0 {
			if err = torchx.CopyOut(c, v); err != nil {
				return nil, fmt.Errorf("to checkpoint: %w", err)
			}
		}
		out, err = checkpoint.FromFloat32(shape, v)
	case gotch.Double:
		v := make([]float64, n)
		if n > 0 {
			if err = torchx.CopyOut(c, v); err != nil {
				return nil, fmt.Errorf("to checkpoint: %w", err)
			}
		}
		out, err = checkpoint.FromFloat64(shape, v)
	default:
		v := make([]int64, n)
		if n > 0 {
			if err = torchx.CopyOut(c, v); err != nil {
				return nil, fmt.Errorf("to checkpoint: %w", err)
			}
		}
		out, err = checkpoint.FromInt64(shape, v)
	}
	if err != nil {
		return nil, fmt.Errorf("to checkpoint: %w", err)
	}
	if out.DType != dt {
		return out.Convert(dt)
	}
	return out, nil
}

// FromCheckpointTensor makes a new CPU tensor from c; the caller owns it.
func FromCheckpointTensor(c *checkpoint.Tensor) (*ts.Tensor, error) {
	cc, err := c.Contiguous()
	if err != nil {
		return nil, fmt.Errorf("from checkpoint: %w", err)
	}
	if cc.DType == checkpoint.Float16 || cc.DType == checkpoint.BFloat16 {
		// gotch cannot tell half from float (both are float32 in Go).
		if cc, err = cc.Convert(checkpoint.Float32); err != nil {
			return nil, fmt.Errorf("from checkpoint: %w", err)
		}
	}
	for tdt, cdt := range tsToCkpt {
		if cdt == cc.DType {
			shape := cc.Shape
			if len(shape) == 0 { // gotch indexes shape[0]: make [1], then squeeze
				shape = []int64{1}
			}
			t, err := ts.OfDataSize(cc.Data, shape, tdt)
			if err != nil {
				return nil, fmt.Errorf("from checkpoint %v %v: %w", cc.DType, cc.Shape, err)
			}
			if len(cc.Shape) == 0 {
				return t.Squeeze(true)
			}
			return t, nil
		}
	}
	return nil, fmt.Errorf("from checkpoint: dtype %v not supported", cc.DType)
}

// StateDictToCheckpoint copies vs's StateDict into an ordered dict of
// checkpoint tensors (aliases included, as torch.save writes them).
func StateDictToCheckpoint(named []Named) (*checkpoint.Dict, error) {
	d := checkpoint.NewOrderedDict()
	for _, e := range named {
		c, err := ToCheckpointTensor(e.T)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name, err)
		}
		d.Set(e.Name, c)
	}
	return d, nil
}

// NamedFromCheckpoint turns a state dict read from a checkpoint into new
// tensors for LoadStateDict; the caller drops them with DropNamed.
func NamedFromCheckpoint(d *checkpoint.Dict) ([]Named, error) {
	var out []Named
	for k, v := range d.All() {
		name, ok := k.(string)
		c, isT := v.(*checkpoint.Tensor)
		if !ok || !isT {
			DropNamed(out)
			return nil, fmt.Errorf("state dict entry %v: want a string key and a tensor, got %T", k, v)
		}
		t, err := FromCheckpointTensor(c)
		if err != nil {
			DropNamed(out)
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Named{Name: name, T: t})
	}
	return out, nil
}

// DropNamed drops tensors the caller owns (from NamedFromCheckpoint), never
// a StateDict's borrowed ones.
func DropNamed(named []Named) {
	for _, e := range named {
		e.T.MustDrop()
	}
}
