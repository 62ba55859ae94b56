package augment

import (
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func tfEqualSets(a, b ViewSet) bool {
	if len(a.Views) != len(b.Views) || !slices.Equal(a.Labels, b.Labels) || len(a.Masks) != len(b.Masks) {
		return false
	}
	for i := range a.Views {
		if a.Views[i].C != b.Views[i].C || a.Views[i].H != b.Views[i].H || !slices.Equal(a.Views[i].Data, b.Views[i].Data) {
			return false
		}
	}
	for i := range a.Masks {
		if !slices.Equal(a.Masks[i].Data, b.Masks[i].Data) {
			return false
		}
	}
	return true
}

// TestViewsDeterministic: a sample's views depend on (seed, epoch, index,
// view) only — not on the goroutine, nor on the order samples are made in.
// From JPEG bytes it also checks that recycled buffers (bufpool.go) are
// never handed out while in use.
func TestViewsDeterministic(t *testing.T) {
	for name, src := range map[string]string{"mocov2": tfMoCoV2YAML, "mocov2 jpeg": tfMoCoV2YAML, "simclr jpeg": tfSimCLRYAML,
		"odc": tfODCYAML, "relloc": tfRelLocYAML, "simmim": tfSimMIMYAML, "cae": tfCAEYAML} {
		t.Run(name, func(t *testing.T) {
			vm := tfViews(t, src)
			in := Input{Image: tfImage(120, 90, 3)}
			if strings.HasSuffix(name, "jpeg") {
				in = Input{Bytes: tfJPEG(t, 260, 190)}
			}
			const n = 8
			seq := make([]ViewSet, n)
			for i := range n {
				vs, err := vm.Make(in, 42, 3, i)
				if err != nil {
					t.Fatal(err)
				}
				seq[i] = vs
			}
			again, _ := vm.Make(in, 42, 3, 5)
			if !tfEqualSets(seq[5], again) {
				t.Fatal("same (seed, epoch, index) gave different views")
			}
			if other, _ := vm.Make(in, 42, 4, 5); tfEqualSets(seq[5], other) {
				t.Fatal("another epoch gave identical views")
			}
			par := make([]ViewSet, n)
			order := rand.New(rand.NewPCG(9, 9)).Perm(n)
			var wg sync.WaitGroup
			jobs := make(chan int)
			errs := make(chan error, n)
			for range 4 {
				wg.Go(func() {
					for i := range jobs {
						vs, err := vm.Make(in, 42, 3, i)
						if err != nil {
							errs <- err
						}
						par[i] = vs
					}
				})
			}
			for _, i := range order {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for i := range n {
				if !tfEqualSets(seq[i], par[i]) {
					t.Fatalf("index %d: 4 goroutines in shuffled order differ from 1 in order", i)
				}
			}
			if n := vm.NumViews(); n != len(seq[0].Views) {
				t.Fatalf("NumViews %d, Make gave %d", n, len(seq[0].Views))
			}
		})
	}
}

// TestViewShapes checks each dataset type's ViewSet against the shapes
// MMSelfSup's datasets return (algorithms.md data sections).
func TestViewShapes(t *testing.T) {
	type shape struct{ c, h, w int }
	cases := []struct {
		name   string
		src    string
		views  []shape
		labels []int
		mask   [2]int // mask H, W; 0 = none
		ones   int
		second *shape
	}{
		{"swav", tfSwAVYAML, []shape{{3, 224, 224}, {3, 224, 224}, {3, 96, 96}, {3, 96, 96}, {3, 96, 96}, {3, 96, 96}, {3, 96, 96}, {3, 96, 96}}, nil, [2]int{}, 0, nil},
		{"byol", tfBYOLYAML, []shape{{3, 224, 224}, {3, 224, 224}}, nil, [2]int{}, 0, nil},
		{"rotation", tfRotationYAML, []shape{{3, 224, 224}, {3, 224, 224}, {3, 224, 224}, {3, 224, 224}}, []int{0, 1, 2, 3}, [2]int{}, 0, nil},
		{"relloc", tfRelLocYAML, []shape{{6, 64, 64}, {6, 64, 64}, {6, 64, 64}, {6, 64, 64}, {6, 64, 64}, {6, 64, 64}, {6, 64, 64}, {6, 64, 64}}, []int{0, 1, 2, 3, 4, 5, 6, 7}, [2]int{}, 0, nil},
		{"odc", tfODCYAML, []shape{{3, 224, 224}}, []int{-1}, [2]int{}, 0, nil},
		{"simmim", tfSimMIMYAML, []shape{{3, 192, 192}}, nil, [2]int{48, 48}, 22 * 64, nil},
		{"cae", tfCAEYAML, []shape{{3, 224, 224}}, nil, [2]int{14, 14}, 75, &shape{3, 112, 112}},
	}
	in := Input{Image: tfImage(500, 375, 4)}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vm := tfViews(t, c.src)
			for idx := range 5 {
				vs, err := vm.Make(in, 1, 0, idx)
				if err != nil {
					t.Fatal(err)
				}
				if len(vs.Views) != len(c.views) {
					t.Fatalf("%d views, want %d", len(vs.Views), len(c.views))
				}
				for i, v := range vs.Views {
					if (shape{v.C, v.H, v.W}) != c.views[i] || v.Validate() != nil {
						t.Fatalf("view %d is %dx%dx%d, want %v", i, v.C, v.H, v.W, c.views[i])
					}
				}
				if !slices.Equal(vs.Labels, c.labels) {
					t.Fatalf("labels %v, want %v", vs.Labels, c.labels)
				}
				if c.mask[0] != 0 {
					m := vs.Masks[0]
					if m.H != c.mask[0] || m.W != c.mask[1] || m.Count() != c.ones {
						t.Fatalf("mask %dx%d with %d ones, want %v with %d", m.H, m.W, m.Count(), c.mask, c.ones)
					}
				} else if vs.Masks != nil {
					t.Fatal("unexpected masks")
				}
				if c.second != nil {
					s := vs.Seconds[0]
					if (shape{s.C, s.H, s.W}) != *c.second {
						t.Fatalf("second image %dx%dx%d, want %v", s.C, s.H, s.W, *c.second)
					}
				}
			}
		})
	}
}

// TestRotationPredRotations checks the four tensors against np.rot90
// semantics on a non-square tensor.
func TestRotationPredRotations(t *testing.T) {
	src := NewTensor(2, 3, 4)
	for i := range src.Data {
		src.Data[i] = float32(i)
	}
	r1, r2, r3 := rot90(src, 1), rot90(src, 2), rot90(src, 3)
	if r1.H != 4 || r1.W != 3 || r2.H != 3 || r3.H != 4 {
		t.Fatalf("shapes %dx%d %dx%d %dx%d", r1.H, r1.W, r2.H, r2.W, r3.H, r3.W)
	}
	for c := range 2 {
		for y := range 3 {
			for x := range 4 {
				v := src.At(c, y, x)
				// np.rot90(k=1): (y, x) → (W−1−x, y); k=2: (H−1−y, W−1−x); k=3: (x, H−1−y)
				if r1.At(c, 3-x, y) != v || r2.At(c, 2-y, 3-x) != v || r3.At(c, x, 2-y) != v {
					t.Fatalf("channel %d pixel (%d,%d) misplaced", c, y, x)
				}
			}
		}
	}
	if r := rot90(rot90(src, 1), 3); !slices.Equal(r.Data, src.Data) {
		t.Fatal("rot90 then rot270 is not the identity")
	}
}

// TestRelativeLocPairs: every pair carries the centre patch in channels
// 3..5 and its own patch, cropped from its own grid cell, in 0..2.
func TestRelativeLocPairs(t *testing.T) {
	vm := tfViews(t, tfRelLocYAML)
	vs, err := vm.Make(Input{Image: tfImage(400, 300, 5)}, 7, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	plane := 64 * 64
	centre := vs.Views[0].Data[3*plane:]
	for k, v := range vs.Views {
		if !slices.Equal(v.Data[3*plane:], centre) {
			t.Fatalf("pair %d: centre channels differ", k)
		}
		if slices.Equal(v.Data[:3*plane], centre) {
			t.Fatalf("pair %d: patch equals the centre", k)
		}
	}
}

// TestDeepClusterLabels: labels are −1 until SetLabels, then follow the
// table, which can be swapped while other goroutines call Make.
func TestDeepClusterLabels(t *testing.T) {
	vm := tfViews(t, tfODCYAML).(*DeepCluster)
	in := Input{Image: tfImage(64, 64, 6)}
	if vs, _ := vm.Make(in, 0, 0, 2); vs.Labels[0] != -1 {
		t.Fatalf("label before clustering %d, want -1", vs.Labels[0])
	}
	vm.SetLabels([]int{10, 11, 12, 13})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 20 {
				vs, err := vm.Make(in, 0, 0, (g+i)%4)
				if err != nil {
					t.Error(err)
					return
				}
				if l := vs.Labels[0]; l%10 != (g+i)%4 || (l != 10+(g+i)%4 && l != 20+(g+i)%4) {
					t.Errorf("index %d got label %d", (g+i)%4, l)
				}
			}
		})
	}
	vm.SetLabels([]int{20, 21, 22, 23})
	wg.Wait()
	if vs, _ := vm.Make(in, 0, 0, 3); vs.Labels[0] != 23 {
		t.Fatalf("label after swap %d, want 23", vs.Labels[0])
	}
	if _, err := vm.Make(in, 0, 0, 4); err == nil {
		t.Fatal("index outside the label table accepted")
	}
}
