package model

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// tinySimMIMCfg is simmim_swin-base scaled down: embed 16, depths [2, 2],
// heads [2, 4], window 4, 32 px images (8×8 tokens, patch 4), stride 8.
func tinySimMIMCfg() map[string]any {
	return map[string]any{
		"type": "SimMIM",
		"backbone": map[string]any{"type": "SimMIMSwinTransformer",
			"arch":     map[string]any{"embed_dims": 16, "depths": []any{2, 2}, "num_heads": []any{2, 4}},
			"img_size": 32, "drop_path_rate": 0.0, "out_indices": []any{1},
			"stage_cfgs": map[string]any{"block_cfgs": map[string]any{"window_size": 4}}},
		"neck": map[string]any{"type": "SimMIMNeck", "in_channels": 32, "encoder_stride": 8},
		"head": map[string]any{"type": "SimMIMHead", "patch_size": 4, "encoder_in_channels": 3},
	}
}

// randomMask is an N×8×8 int64 mask with about half the tokens masked.
func randomMask(n int64) *ts.Tensor {
	r := ts.MustRand([]int64{n, 8, 8}, gotch.Float, gotch.CPU)
	half := ts.FloatScalar(0.5)
	defer half.MustDrop()
	return r.MustLt(half, true).MustTotype(gotch.Int64, true)
}

// TestSimMIMSwinParityTorch compares the tiny SimMIM Swin (with and
// without mask; a 40 px input exercising window padding and the shifted
// window mask on a 10×10 and a 5×5 map), the neck's reconstruction and
// the L1 loss with testdata/vit/ref_vit.py (mmcls 0.23 Swin layout,
// torch 1.13.1), within 1e-4; keys and order equal.
func TestSimMIMSwinParityTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(5)
		a, vs := algoBuild(t, tinySimMIMCfg())
		m := a.(*SimMIM)
		randomiseLN(vs)
		writeStateDict(t, filepath.Join(dir, "w.pth"), StateDict(vs))
		x := ts.MustRandn([]int64{2, 3, 32, 32}, gotch.Float, gotch.CPU)
		xo := ts.MustRandn([]int64{2, 3, 40, 40}, gotch.Float, gotch.CPU)
		mask := randomMask(2)
		defer algoDropAll([]*ts.Tensor{x, xo, mask})
		writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "x", T: x}, {Name: "x_odd", T: xo}, {Name: "mask", T: mask}})
		cfg := map[string]any{"embed_dims": 16, "depths": []int{2, 2}, "heads": []int{2, 4}, "window": 4,
			"out_indices": []int{1}, "stride": 8, "mask_patch": 4}
		runViTRef(t, "swin", cfg, filepath.Join(dir, "in.pth"), filepath.Join(dir, "w.pth"), filepath.Join(dir, "out.pth"), filepath.Join(dir, "keys.txt"))
		ref := readTensors(t, filepath.Join(dir, "out.pth"))
		sameKeys(t, vs, readKeys(t, filepath.Join(dir, "keys.txt")))
		return WithoutGrad(func() error {
			s := NewScope()
			defer s.Close()
			for _, in := range []struct {
				name string
				x    *ts.Tensor
			}{{"x", x}, {"x_odd", xo}} {
				outs, err := m.backbone.Forward(in.x, false)
				if err != nil {
					return err
				}
				s.TrackAll(outs)
				near(t, ref, in.name+".0", outs[0], 1e-4)
			}
			feats, err := m.backbone.ForwardMasked(x, mask, true)
			if err != nil {
				return err
			}
			s.TrackAll(feats)
			near(t, ref, "masked.0", feats[0], 1e-4)
			rec, err := m.neck.Forward(feats, true)
			if err != nil {
				return err
			}
			s.TrackAll(rec)
			near(t, ref, "rec", rec[0], 1e-4)
			l, err := a.TrainStep(&StepInput{Views: []*ts.Tensor{x}, Masks: []*ts.Tensor{mask}})
			if err != nil {
				return err
			}
			defer l.Drop()
			near(t, ref, "loss", l.Get("loss"), 1e-4)
			return nil
		})
	})
}

// TestSwinWindowShapes checks the window machinery on its own: the
// relative position index against the formula of components.md §4.3, the
// shifted-window mask's region structure, and block/merging shapes.
func TestSwinWindowShapes(t *testing.T) {
	idx := relativePositionIndex(3)
	for _, c := range []struct{ i, j, want int64 }{
		{0, 0, 12}, {0, 8, 0}, {8, 0, 24}, {4, 5, 11}, {2, 6, 4},
	} { // (Δrow+2)·5 + (Δcol+2)
		if got := idx[c.i*9+c.j]; got != c.want {
			t.Errorf("relative_position_index[%d][%d] = %d, want %d", c.i, c.j, got, c.want)
		}
	}
	vals, dims := shiftAttnMask(8, 8, 4, 2)
	if fmt.Sprint(dims) != "[4 16 16]" {
		t.Fatalf("mask dims %v, want [4 16 16]", dims)
	}
	// Window 0 lies in region 0 only: no masking. Window 3 (bottom
	// right) mixes 4 regions of 4 tokens each: 16·12 entries are −100.
	count := func(w int) int {
		n := 0
		for _, v := range vals[w*256 : (w+1)*256] {
			if v == -100 {
				n++
			}
		}
		return n
	}
	if count(0) != 0 || count(3) != 16*12 || count(1) != 16*8 {
		t.Errorf("masked entries per window: %d, %d, %d; want 0, 128, 192", count(0), count(1), count(3))
	}
	onPinned(t, func() error {
		ManualSeed(6)
		a, _ := algoBuild(t, tinySimMIMCfg())
		sw := a.(*SimMIM).backbone
		x := ts.MustRandn([]int64{3, 64, 16}, gotch.Float, gotch.CPU) // B×(8·8)×C
		defer x.MustDrop()
		return WithoutGrad(func() error {
			y, err := sw.stages[0].blocks[1].forward(x, [2]int64{8, 8}, false)
			if err != nil {
				return err
			}
			defer y.MustDrop()
			if d := y.MustSize(); fmt.Sprint(d) != "[3 64 16]" {
				t.Errorf("shifted block output %v, want [3 64 16]", d)
			}
			win := ts.MustRandn([]int64{12, 16, 16}, gotch.Float, gotch.CPU) // 4 windows × 3 images
			defer win.MustDrop()
			s := NewScope()
			defer s.Close()
			mt := s.Track(ts.MustOfSlice(vals).MustView(dims, true))
			if d := sw.stages[0].blocks[1].attn.forward(s, win, mt).MustSize(); fmt.Sprint(d) != "[12 16 16]" {
				t.Errorf("window attention output %v, want [12 16 16]", d)
			}
			z, hw := sw.stages[0].down.forward(x, [2]int64{8, 8})
			defer z.MustDrop()
			if d := z.MustSize(); fmt.Sprint(d) != "[3 16 32]" || hw != [2]int64{4, 4} {
				t.Errorf("PatchMerging output %v on %v, want [3 16 32] on [4 4]", d, hw)
			}
			if _, err := sw.stages[1].blocks[0].forward(ts.MustZeros([]int64{1, 4, 32}, gotch.Float, gotch.CPU), [2]int64{2, 2}, false); err == nil {
				t.Error("a 2×2 map under a 4×4 window must be an error (pad_small_map False)")
			}
			return nil
		})
	})
}

// TestSimMIMLossFalls: AdamW on a fixed batch and mask lowers the masked
// L1 loss by > 10 % in 8 steps; the loss ignores unmasked pixels.
func TestSimMIMLossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(7)
		a, vs := algoBuild(t, tinySimMIMCfg())
		x := algoImages(1, 4, 32)
		mask := randomMask(4)
		defer algoDropAll(append(x, mask))
		in := &StepInput{Views: x, Masks: []*ts.Tensor{mask}}
		opt, err := BuildOptimizer(ParamsOf(vs), map[string]any{"type": "AdamW", "lr": 3e-3, "weight_decay": 0.05})
		if err != nil {
			return err
		}
		defer opt.Close()
		var first, last float64
		for it := 0; it < 8; it++ {
			l, err := a.TrainStep(in)
			if err != nil {
				return err
			}
			total, _ := l.Total()
			v := total.Float64Values()[0]
			if it == 0 {
				first = v
			}
			last = v
			if err := opt.ZeroGrad(); err != nil {
				return err
			}
			if err := total.Backward(); err != nil {
				return err
			}
			total.MustDrop()
			l.Drop()
			if err := opt.Step(); err != nil {
				return err
			}
		}
		if math.IsNaN(last) || !(last < 0.9*first) {
			t.Fatalf("SimMIM loss %.5f → %.5f over 8 AdamW steps; want a fall of > 10%%", first, last)
		}
		// The loss formula on known tensors: with x̂ = x + noise·(1 − mask)
		// the loss is 0; with x̂ = 0 it is Σ|x|·mask / (Σ mask + 1e-5) / 3.
		h := a.(*SimMIM).head
		return WithoutGrad(func() error {
			img := x[0]
			pix := mask.MustRepeatInterleaveSelfInt(4, []int64{1}, nil, false).MustRepeatInterleaveSelfInt(4, []int64{2}, nil, true).MustUnsqueeze(1, true).MustTotype(gotch.Float, true)
			defer pix.MustDrop()
			noise := ts.MustRandn(img.MustSize(), gotch.Float, gotch.CPU)
			keep := addScalar(mulScalar(pix, -1, false), 1, true)
			rec := img.MustAdd(noise.MustMul(keep, true), false)
			keep.MustDrop()
			defer rec.MustDrop()
			l, err := h.Loss(img, rec, mask)
			if err != nil {
				return err
			}
			if v := f64s(l.Get("loss"))[0]; math.Abs(v) > 1e-7 {
				t.Errorf("noise on unmasked pixels only: loss %g, want 0", v)
			}
			l.Drop()
			zero := img.MustZerosLike(false)
			defer zero.MustDrop()
			l, err = h.Loss(img, zero, mask)
			if err != nil {
				return err
			}
			defer l.Drop()
			xs, ms := f64s(img), f64s(pix)
			var num, den float64
			for i := range xs {
				c := (i / (32 * 32)) % 3
				nIdx := i / (3 * 32 * 32)
				pixIdx := nIdx*32*32 + i%(32*32)
				num += math.Abs(xs[i]) * ms[pixIdx]
				if c == 0 {
					den += ms[pixIdx]
				}
			}
			if got, want := f64s(l.Get("loss"))[0], num/(den+1e-5)/3; math.Abs(got-want) > 1e-5*math.Max(1, want) {
				t.Errorf("SimMIM loss %.7f, formula %.7f", got, want)
			}
			return nil
		})
	})
}
