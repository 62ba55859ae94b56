package main

import (
	"fmt"

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
		views, err := viewsOf(set)
		if err != nil {
			return nil, nil, err
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

// viewsOf converts a ViewSet's views, attaching each view's mask and
// second image (SimMIM, CAE) so that they travel with it to the batch.
func viewsOf(set augment.ViewSet) ([]actors.View, error) {
	if set.Masks != nil && len(set.Masks) != len(set.Views) {
		return nil, fmt.Errorf("%d masks for %d views", len(set.Masks), len(set.Views))
	}
	if set.Seconds != nil && len(set.Seconds) != len(set.Views) {
		return nil, fmt.Errorf("%d second images for %d views", len(set.Seconds), len(set.Views))
	}
	views := make([]actors.View, len(set.Views))
	for i, t := range set.Views {
		views[i] = actors.View{C: t.C, H: t.H, W: t.W, Data: t.Data}
		if set.Masks != nil && set.Masks[i] != nil {
			m := set.Masks[i]
			views[i].Mask = &actors.Mask{H: m.H, W: m.W, Data: m.Data}
		}
		if set.Seconds != nil && set.Seconds[i] != nil {
			t2 := set.Seconds[i]
			views[i].Second = &actors.View{C: t2.C, H: t2.H, W: t2.W, Data: t2.Data}
		}
	}
	return views, nil
}
