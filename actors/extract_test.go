package actors

import (
	"context"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/data"
	"github.com/flowssl/flowssl/model"
)

// Features come back in index order whatever the worker count: here the
// feature of sample i is (pixel value, 2·pixel value) = (i, 2i).
func TestExtractOrder(t *testing.T) {
	one := AugmentFunc(func(s data.Sample, _ int) ([]View, []int64, error) {
		return []View{{C: 1, H: 1, W: 1, Data: []float32{float32(s.Image.Pix[0])}}}, nil, nil
	})
	p := model.NewPinned()
	defer p.Close()
	feat := func(x *ts.Tensor) (*ts.Tensor, error) {
		flat, err := x.Flatten(1, -1, false)
		if err != nil {
			return nil, err
		}
		two := flat.MustMulScalar(ts.FloatScalar(2), false)
		defer two.MustDrop()
		defer flat.MustDrop()
		return ts.Cat([]ts.Tensor{*flat, *two}, 1)
	}
	for _, w := range []int{1, 3} {
		f, err := Extract(context.Background(), ExtractOptions{Source: fakeSource{n: 23}, Augmenter: one, Features: feat,
			Pinned: p, Device: gotch.CPU, BatchSize: 5, Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		if f.N != 23 || f.D != 2 {
			t.Fatalf("%d×%d features", f.N, f.D)
		}
		for i := 0; i < 23; i++ {
			if f.Data[2*i] != float32(i) || f.Data[2*i+1] != float32(2*i) || f.Labels[i] != i%3 {
				t.Fatalf("%d workers: row %d = %v label %d", w, i, f.Data[2*i:2*i+2], f.Labels[i])
			}
		}
	}
}
