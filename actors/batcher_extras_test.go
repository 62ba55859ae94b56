package actors

import (
	"slices"
	"strings"
	"testing"
)

// maskedViews is sample i with one 1×2×2 view, a 2×2 mask whose cells
// encode i, and (with second) a 1×4×4 second image filled with i.
func maskedViews(i int, second bool) *Views {
	v := View{C: 1, H: 2, W: 2, Data: make([]float32, 4),
		Mask: &Mask{H: 2, W: 2, Data: []uint8{uint8(i), uint8(i + 1), uint8(i + 2), uint8(i + 3)}}}
	if second {
		d := make([]float32, 16)
		for k := range d {
			d[k] = float32(i)
		}
		v.Second = &View{C: 1, H: 4, W: 4, Data: d}
	}
	return &Views{Index: i, Views: []View{v}}
}

// TestStackCarriesMasksInIndexOrder: masks and second images are stacked
// per view position in the batch's Indices order, skipped samples leave no
// row, and a batch whose samples disagree on having a mask, or on its
// size, is an error naming the sample.
func TestStackCarriesMasksInIndexOrder(t *testing.T) {
	b, err := stack([]*Views{maskedViews(7, true), {Index: 8, Skipped: true}, maskedViews(3, true), maskedViews(5, true)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Indices, []int{7, 3, 5}) || len(b.Masks) != 1 || len(b.Seconds) != 1 {
		t.Fatalf("indices %v, %d mask positions, %d second positions", b.Indices, len(b.Masks), len(b.Seconds))
	}
	m := b.Masks[0]
	if m.N != 3 || m.H != 2 || m.W != 2 || !slices.Equal(m.Data, []uint8{7, 8, 9, 10, 3, 4, 5, 6, 5, 6, 7, 8}) {
		t.Errorf("masks %+v, want the rows of samples 7, 3, 5", m)
	}
	if s := b.Seconds[0]; s.N != 3 || s.Data[0] != 7 || s.Data[16] != 3 || s.Data[47] != 5 {
		t.Errorf("second images N=%d, first values %v %v %v", s.N, s.Data[0], s.Data[16], s.Data[47])
	}
	plain, err := stack([]*Views{{Index: 1, Views: []View{{C: 1, H: 2, W: 2, Data: make([]float32, 4)}}}})
	if err != nil || plain.Masks != nil || plain.Seconds != nil {
		t.Errorf("views without masks: masks %v, seconds %v, err %v", plain.Masks, plain.Seconds, err)
	}
	noMask := &Views{Index: 4, Views: []View{{C: 1, H: 2, W: 2, Data: make([]float32, 4)}}}
	big := maskedViews(6, false)
	big.Views[0].Mask = &Mask{H: 3, W: 3, Data: make([]uint8, 9)}
	for _, c := range []struct {
		vs   []*Views
		want string
	}{
		{[]*Views{maskedViews(1, false), noMask}, "sample 4 view 0: has a mask: false"},
		{[]*Views{noMask, maskedViews(1, false)}, "sample 1 view 0: has a mask: true"},
		{[]*Views{maskedViews(1, false), big}, "sample 6 view 0: mask 3x3"},
		{[]*Views{maskedViews(1, true), maskedViews(2, false)}, "sample 2 view 0: has a second image: false"},
	} {
		if _, err := stack(c.vs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("stack: %v, want an error containing %q", err, c.want)
		}
	}
}
