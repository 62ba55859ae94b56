package eval

import (
	"math"
	"strings"
	"testing"
)

func TestTopK(t *testing.T) {
	// 4 rows × 6 classes; expected counts worked out by hand.
	scores := []float32{
		0.9, 0.1, 0.2, 0.3, 0.4, 0.5, // label 0: rank 0
		0.1, 0.2, 0.3, 0.4, 0.5, 0.6, // label 1: rank 4
		0.6, 0.5, 0.4, 0.3, 0.2, 0.1, // label 5: rank 5
		0.0, 0.7, 0.7, 0.1, 0.1, 0.1, // label 2: tie with 1, lower index first ⇒ rank 1
	}
	labels := []int{0, 1, 5, 2}
	for _, c := range []struct {
		ks   []int
		want []float64
	}{
		{[]int{1}, []float64{25}},
		{[]int{1, 2, 5}, []float64{25, 50, 75}},
		{[]int{6}, []float64{100}},
	} {
		got, err := TopK(scores, 4, 6, labels, c.ks)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Errorf("ks %v: %v, want %v", c.ks, got, c.want)
			}
		}
	}
	for _, c := range []struct {
		labels []int
		ks     []int
		want   string
	}{
		{labels, []int{7}, "k=7 outside 1..6"},
		{[]int{0, 1, 6, 2}, []int{1}, "label 6 of row 2"},
		{[]int{0}, []int{1}, "1 labels"},
	} {
		_, err := TopK(scores, 4, 6, c.labels, c.ks)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
}

func TestHeadsAccuracy(t *testing.T) {
	// Two heads of 2 classes side by side: head0 right on both rows, head4 on one.
	f := Features{N: 2, D: 4, Labels: []int{1, 0}, Data: []float32{0, 1, 1, 0, 1, 0, 1, 0}}
	got, err := HeadsAccuracy(f, []string{"head0", "head4"}, []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"head0_top1": 100, "head0_top2": 100, "head4_top1": 50, "head4_top2": 100}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if _, err := HeadsAccuracy(f, []string{"a", "b", "c"}, []int{1}); err == nil {
		t.Error("4 columns split over 3 heads: no error")
	}
}
