package augment

import (
	"fmt"
	"sync/atomic"
)

// DeepCluster is DeepClusterDataset (DeepCluster, ODC): one view plus the
// sample's current pseudo-label. The label table is replaced as a whole
// by SetLabels after each clustering while other goroutines keep calling
// Make; before the first SetLabels every label is −1, as in MMSelfSup.
type DeepCluster struct {
	Pipeline *Pipeline
	labels   atomic.Pointer[[]int]
}

// SetLabels installs a new label table (index → cluster). The slice must
// not be modified afterwards.
func (d *DeepCluster) SetLabels(labels []int) { d.labels.Store(&labels) }

// Labels returns the current table (nil before the first SetLabels).
func (d *DeepCluster) Labels() []int {
	if p := d.labels.Load(); p != nil {
		return *p
	}
	return nil
}

// NumViews implements ViewMaker.
func (*DeepCluster) NumViews() int { return 1 }

// Make implements ViewMaker.
func (d *DeepCluster) Make(in Input, seed, epoch uint64, index int) (ViewSet, error) {
	label := -1
	if table := d.Labels(); table != nil {
		if index < 0 || index >= len(table) {
			return ViewSet{}, fmt.Errorf("%s: index %d outside the label table of %d", in.label(), index, len(table))
		}
		label = table[index]
	}
	out, err := d.Pipeline.Run(in, NewRNG(seed, epoch, uint64(index), 0))
	if err != nil {
		return ViewSet{}, err
	}
	vs := singleSet(out)
	vs.Labels = []int{label}
	return vs, nil
}
