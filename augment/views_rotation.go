package augment

// RotationPred is RotationPredDataset: the pipeline's tensor and its
// rotations by 90° counter-clockwise, 180° and 270° (np.rot90 with k = 1,
// 2, 3 over H and W), labels [0 1 2 3].
type RotationPred struct{ Pipeline *Pipeline }

// NumViews implements ViewMaker.
func (*RotationPred) NumViews() int { return 4 }

// Make implements ViewMaker.
func (r *RotationPred) Make(in Input, seed, epoch uint64, index int) (ViewSet, error) {
	out, err := r.Pipeline.Run(in, NewRNG(seed, epoch, uint64(index), 0))
	if err != nil {
		return ViewSet{}, err
	}
	t := out.Tensor
	return ViewSet{
		Views:  []Tensor{t, *rot90(&t, 1), *rot90(&t, 2), *rot90(&t, 3)},
		Labels: []int{0, 1, 2, 3},
	}, nil
}

// rot90 rotates every channel by k·90° counter-clockwise.
func rot90(t *Tensor, k int) *Tensor {
	H, W := t.H, t.W
	oh, ow := H, W
	if k%2 == 1 {
		oh, ow = W, H
	}
	out := NewTensor(t.C, oh, ow)
	for c := range t.C {
		src := t.Data[c*H*W : (c+1)*H*W]
		dst := out.Data[c*oh*ow : (c+1)*oh*ow]
		for i := range oh {
			row := dst[i*ow : (i+1)*ow]
			for j := range row {
				var y, x int
				switch k {
				case 1: // out[i][j] = in[j][W−1−i]
					y, x = j, W-1-i
				case 2:
					y, x = H-1-i, W-1-j
				default: // out[i][j] = in[H−1−j][i]
					y, x = H-1-j, i
				}
				row[j] = src[y*W+x]
			}
		}
	}
	return out
}
