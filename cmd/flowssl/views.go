package main

import (
	"github.com/flowssl/flowssl/actors"
	"github.com/flowssl/flowssl/augment"
	"github.com/flowssl/flowssl/data"
)

// buildViews wires augment's dataset view builders into the dataflow.
func buildViews(dataset map[string]any, seed uint64) (actors.Augmenter, error) {
	vb, err := augment.BuildViews(dataset)
	if err != nil {
		return nil, err
	}
	return actors.AugmentFunc(func(s data.Sample, epoch int) ([]actors.View, []int64, error) {
		set, err := vb.Make(augment.Input{Bytes: s.Bytes, Image: s.Image, Name: s.Name}, seed, uint64(epoch), s.Index)
		if err != nil {
			return nil, nil, err
		}
		views := make([]actors.View, len(set.Views))
		for i, t := range set.Views {
			views[i] = actors.View{C: t.C, H: t.H, W: t.W, Data: t.Data}
		}
		var labels []int64
		if set.Labels != nil {
			labels = make([]int64, len(set.Labels))
			for i, l := range set.Labels {
				labels[i] = int64(l)
			}
		}
		return views, labels, nil
	}), nil
}
