package main

import (
	"fmt"

	"github.com/flowssl/flowssl/data"
)

// subsetSource is a data.Source over some samples of another, renumbered
// 0..len(idx)-1 so that augmentation seeds and dataset order follow the
// subset (as a list file of those samples would).
type subsetSource struct {
	src    data.Source
	idx    []int
	labels []int
}

var _ data.Source = (*subsetSource)(nil)

func newSubset(src data.Source, idx []int) (*subsetSource, error) {
	all := src.Labels()
	s := &subsetSource{src: src, idx: idx, labels: make([]int, len(idx))}
	for i, j := range idx {
		if j < 0 || j >= src.Len() {
			return nil, fmt.Errorf("subset: index %d outside the %d samples", j, src.Len())
		}
		s.labels[i] = all[j]
	}
	return s, nil
}

func (s *subsetSource) Len() int             { return len(s.idx) }
func (s *subsetSource) Labels() []int        { return s.labels }
func (s *subsetSource) ClassNames() []string { return s.src.ClassNames() }

func (s *subsetSource) Get(i int) (data.Sample, error) {
	if i < 0 || i >= len(s.idx) {
		return data.Sample{}, fmt.Errorf("subset: index %d out of range [0, %d)", i, len(s.idx))
	}
	smp, err := s.src.Get(s.idx[i])
	smp.Index = i
	return smp, err
}

// belowClass returns the indices of the samples labelled 0..maxClass-1
// (visualize_tsne.py's --max-num-class filter), in order.
func belowClass(src data.Source, maxClass int) []int {
	var idx []int
	for i, l := range src.Labels() {
		if l >= 0 && l < maxClass {
			idx = append(idx, i)
		}
	}
	return idx
}
