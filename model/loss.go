package model

import (
	"fmt"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Losses is a head's named outputs in insertion order, as MMSelfSup's loss
// dicts: keys containing "loss" enter the total, the others ("acc") are
// only logged. The Losses owns its tensors; Drop frees them.
type Losses struct {
	names []string
	vals  []*ts.Tensor
}

// NewLosses returns an empty set.
func NewLosses() *Losses { return &Losses{} }

// Set stores t under name, dropping a tensor already stored there.
func (l *Losses) Set(name string, t *ts.Tensor) {
	for i, n := range l.names {
		if n == name {
			l.vals[i].MustDrop()
			l.vals[i] = t
			return
		}
	}
	l.names = append(l.names, name)
	l.vals = append(l.vals, t)
}

// Get returns the tensor under name (borrowed) or nil.
func (l *Losses) Get(name string) *ts.Tensor {
	for i, n := range l.names {
		if n == name {
			return l.vals[i]
		}
	}
	return nil
}

// Names lists the keys in insertion order.
func (l *Losses) Names() []string { return append([]string(nil), l.names...) }

// Merge moves o's entries into l, prefixing their names; o is left empty.
func (l *Losses) Merge(prefix string, o *Losses) {
	for i, n := range o.names {
		l.Set(prefix+n, o.vals[i])
	}
	o.names, o.vals = nil, nil
}

// Total is MMSelfSup's _parse_losses: the sum over keys containing "loss" of
// each tensor's mean. The caller owns the result.
func (l *Losses) Total() (*ts.Tensor, error) {
	var total *ts.Tensor
	for i, n := range l.names {
		if !strings.Contains(n, "loss") {
			continue
		}
		m, err := l.vals[i].Mean(gotch.Float, false)
		if err != nil {
			return nil, fmt.Errorf("loss %s: %w", n, err)
		}
		if total == nil {
			total = m
			continue
		}
		total = total.MustAdd(m, true)
		m.MustDrop()
	}
	if total == nil {
		return nil, fmt.Errorf("losses %v: no key contains \"loss\"", l.names)
	}
	return total, nil
}

// Values reads every entry's mean as float64, for logging.
func (l *Losses) Values() map[string]float64 {
	out := make(map[string]float64, len(l.names))
	for i, n := range l.names {
		m := l.vals[i].MustMean(gotch.Float, false)
		out[n] = m.Float64Values()[0]
		m.MustDrop()
	}
	return out
}

// Drop frees every tensor.
func (l *Losses) Drop() {
	for _, t := range l.vals {
		t.MustDrop()
	}
	l.names, l.vals = nil, nil
}

// crossEntropy is torch's F.cross_entropy(logits, labels) with mean
// reduction; labels are int64 class indices.
func crossEntropy(logits, labels *ts.Tensor) (*ts.Tensor, error) {
	return logits.CrossEntropyLoss(labels, noTensor(), ts.ReductionMean, -100, 0, false)
}

// weightedCrossEntropy is CE with per-class weights (ODC, DeepCluster
// re-weighting): Σ w[y]·nll / Σ w[y].
func weightedCrossEntropy(logits, labels, weight *ts.Tensor) (*ts.Tensor, error) {
	return logits.CrossEntropyLoss(labels, weight, ts.ReductionMean, -100, 0, false)
}

// accuracyTop1 is MMSelfSup's accuracy(pred, target, 1): the percentage of
// rows whose arg-max equals the label, computed without gradient.
func accuracyTop1(logits, labels *ts.Tensor) *ts.Tensor {
	var acc *ts.Tensor
	noGradDo(func() {
		pred := logits.MustArgmax([]int64{1}, false, false)
		eq := pred.MustEqTensor(labels, true)
		n := float64(labels.MustSize()[0])
		s := eq.MustTotype(gotch.Float, true).MustSum(gotch.Float, true)
		acc = mulScalar(s, 100/n, true)
	})
	return acc
}
