package model

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// randomiseBN gives every BN weight, bias and running statistic a random
// value so that eval mode exercises them (construction leaves 1/0/0/1).
func randomiseBN(vs *nn.VarStore) {
	noGradDo(func() {
		for _, e := range StateDict(vs) {
			if e.T.DType() != gotch.Float || e.T.Dim() != 1 {
				continue
			}
			switch {
			case strings.HasSuffix(e.Name, "running_var"), strings.HasSuffix(e.Name, ".weight"):
				fillVia(e.T, func(t *ts.Tensor) { t.MustUniform_(0.5, 1.5) })
			default:
				fillVia(e.T, func(t *ts.Tensor) { t.MustNormal_(0, 0.1) })
			}
		}
	})
}

// TestResNetParityTorch compares ResNet-18 and ResNet-50 with the same
// weights against testdata/nets/ref_resnet.py (torch 1.13.1): every
// out_index output in train then eval mode, the state dict after the train
// step (running statistics, num_batches_tracked), and the key list.
// Tolerance: max|Δ| / max(1, max|ref|) ≤ 1e-4 in float32.
func TestResNetParityTorch(t *testing.T) {
	needTorch(t)
	for _, tc := range []struct {
		depth int
		size  int64
	}{{18, 64}, {50, 64}} {
		t.Run(fmt.Sprintf("resnet%d", tc.depth), func(t *testing.T) {
			dir := t.TempDir()
			onPinned(t, func() error {
				ManualSeed(int64(tc.depth))
				vs := nn.NewVarStore(gotch.CPU)
				cfg := DefaultResNetConfig(tc.depth)
				cfg.OutIndices = []int{0, 1, 2, 3, 4}
				r, err := NewResNet(vs.Root().Sub("backbone"), cfg)
				if err != nil {
					return err
				}
				randomiseBN(vs)
				// Weights under PyTorch's module keys (backbone. stripped).
				var w []Named
				for _, e := range StateDict(vs) {
					w = append(w, Named{Name: strings.TrimPrefix(e.Name, "backbone."), T: e.T})
				}
				writeStateDict(t, filepath.Join(dir, "weights.pth"), w)
				x := ts.MustRandn([]int64{2, 3, tc.size, tc.size}, gotch.Float, gotch.CPU)
				defer x.MustDrop()
				depth := ts.MustOfSlice([]int64{int64(tc.depth)}).MustSqueeze(true)
				defer depth.MustDrop()
				idx := ts.MustOfSlice([]int64{0, 1, 2, 3, 4})
				defer idx.MustDrop()
				writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "input", T: x}, {Name: "depth", T: depth}, {Name: "out_indices", T: idx}})
				runRefScript(t, "resnet", filepath.Join(dir, "in.pth"), filepath.Join(dir, "weights.pth"), filepath.Join(dir, "out.pth"), filepath.Join(dir, "keys.txt"))
				ref := readTensors(t, filepath.Join(dir, "out.pth"))

				s := NewScope()
				defer s.Close()
				noGradDo(func() {
					outs, ferr := r.Forward(x, true)
					if ferr != nil {
						err = ferr
						return
					}
					s.TrackAll(outs)
					for i, o := range outs {
						if d := relDiff(t, fmt.Sprint("train.", i), o, refTensor(t, ref, fmt.Sprint("train.", i))); d > 1e-4 {
							t.Errorf("train output %d: relative diff %.3g > 1e-4", i, d)
						}
					}
					for _, e := range StateDict(vs) {
						key := "state." + strings.TrimPrefix(e.Name, "backbone.")
						if d := relDiff(t, key, e.T, refTensor(t, ref, key)); d > 1e-4 {
							t.Errorf("%s after a train step: relative diff %.3g > 1e-4", key, d)
						}
					}
					outs, ferr = r.Forward(x, false)
					if ferr != nil {
						err = ferr
						return
					}
					s.TrackAll(outs)
					for i, o := range outs {
						if d := relDiff(t, fmt.Sprint("eval.", i), o, refTensor(t, ref, fmt.Sprint("eval.", i))); d > 1e-4 {
							t.Errorf("eval output %d: relative diff %.3g > 1e-4", i, d)
						}
					}
				})
				if err != nil {
					return err
				}
				// Key names and order must equal torch's state_dict().keys().
				f, err := os.Open(filepath.Join(dir, "keys.txt"))
				if err != nil {
					return err
				}
				defer f.Close()
				var want []string
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					if sc.Text() != "" {
						want = append(want, "backbone."+sc.Text())
					}
				}
				var got []string
				for _, e := range StateDict(vs) {
					got = append(got, e.Name)
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					return fmt.Errorf("state dict keys differ from torch's:\n go  %d keys, first %v\n ref %d keys, first %v", len(got), got[:min(6, len(got))], len(want), want[:min(6, len(want))])
				}
				if len(r.OutChannels()) != 5 || r.OutChannels()[4] != map[int]int64{18: 512, 50: 2048}[tc.depth] {
					return fmt.Errorf("OutChannels %v", r.OutChannels())
				}
				return nil
			})
		})
	}
}
