package model

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

func tinyViTArch() map[string]any {
	return map[string]any{"embed_dims": 32, "num_layers": 2, "num_heads": 4, "feedforward_channels": 64}
}

// TestVisionTransformerParityTorch runs a 2-layer, 32-d ViT (patch 8,
// img 32, out_indices [0, -1]) with MoCo v3's init against
// testdata/vit/ref_vit.py (mmcls layout, torch 1.13.1) on a 32 px input
// and on a 48 px input (bicubic position-embedding resize): every
// [patch, cls] output within 1e-4, key names and order equal, and the
// fixed sin-cos table equal to MMSelfSup's within 1e-6.
func TestVisionTransformerParityTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(1)
		vs := nn.NewVarStore(gotch.CPU)
		c := DefaultVisionTransformerConfig()
		c.Arch, c.ImgSize, c.PatchSize, c.OutIndices, c.StopGradConv1 = tinyViTArch(), 32, 8, []any{0, -1}, true
		v, err := NewVisionTransformer(vs.Root(), c)
		if err != nil {
			return err
		}
		randomiseLN(vs)
		writeStateDict(t, filepath.Join(dir, "w.pth"), StateDict(vs))
		x := ts.MustRandn([]int64{2, 3, 32, 32}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		xb := ts.MustRandn([]int64{2, 3, 48, 48}, gotch.Float, gotch.CPU)
		defer xb.MustDrop()
		writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "x", T: x}, {Name: "x_big", T: xb}})
		cfg := map[string]any{"embed_dims": 32, "num_layers": 2, "num_heads": 4, "ffn": 64, "eps": 1e-6,
			"img_size": 32, "patch_size": 8, "out_indices": []int{0, 1}}
		runViTRef(t, "vit", cfg, filepath.Join(dir, "in.pth"), filepath.Join(dir, "w.pth"), filepath.Join(dir, "out.pth"), filepath.Join(dir, "keys.txt"))
		ref := readTensors(t, filepath.Join(dir, "out.pth"))
		sameKeys(t, vs, readKeys(t, filepath.Join(dir, "keys.txt")))
		if d := relDiff(t, "sincos", v.pos, refTensor(t, ref, "sincos")); d > 1e-6 {
			t.Errorf("pos_embed differs from build_2d_sincos_position_embedding by %.3g", d)
		}
		for _, p := range []*ts.Tensor{v.pos, v.patch.proj.w, v.patch.proj.b} {
			if req, _ := p.RequiresGrad(); req {
				t.Error("pos_embed and the stop_grad_conv1 projection must not require grad")
			}
		}
		if got := v.OutChannels(); len(got) != 4 || got[3] != 32 {
			t.Errorf("OutChannels %v, want [32 32 32 32]", got)
		}
		return WithoutGrad(func() error {
			for _, in := range []struct {
				name string
				x    *ts.Tensor
			}{{"x", x}, {"x_big", xb}} {
				outs, err := v.Forward(in.x, false)
				if err != nil {
					return err
				}
				if len(outs) != 4 {
					return fmt.Errorf("%d outputs, want 4 ([patch, cls] × 2)", len(outs))
				}
				for i, o := range outs {
					near(t, ref, fmt.Sprintf("%s.%d", in.name, i), o, 1e-4)
					o.MustDrop()
				}
			}
			return nil
		})
	})
}

func tinyMAECfg() map[string]any {
	return map[string]any{
		"type": "MAE",
		"backbone": map[string]any{"type": "MAEViT", "arch": tinyViTArch(), "img_size": 32, "patch_size": 8,
			"mask_ratio": 0.75},
		"neck": map[string]any{"type": "MAEPretrainDecoder", "patch_size": 8, "in_chans": 3, "embed_dim": 32,
			"decoder_embed_dim": 16, "decoder_depth": 1, "decoder_num_heads": 2, "mlp_ratio": 4.0},
		"head": map[string]any{"type": "MAEPretrainHead", "norm_pix": true, "patch_size": 8},
	}
}

// TestMAEParityTorch feeds the same noise to the Go MAE and to
// ref_vit.py: latent, mask, ids_restore, decoder prediction and the
// norm-pix and plain losses agree within 1e-4; keys match
// backbone.*/neck.* of the reference modules.
func TestMAEParityTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(2)
		a, vs := algoBuild(t, tinyMAECfg())
		m := a.(*MAE)
		randomiseLN(vs)
		writeStateDict(t, filepath.Join(dir, "w.pth"), StateDict(vs))
		x := ts.MustRandn([]int64{2, 3, 32, 32}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		noise := ts.MustRand([]int64{2, 16}, gotch.Float, gotch.CPU)
		defer noise.MustDrop()
		writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "x", T: x}, {Name: "noise", T: noise}})
		cfg := map[string]any{"embed_dims": 32, "num_layers": 2, "num_heads": 4, "ffn": 64, "eps": 1e-6,
			"img_size": 32, "patch_size": 8, "out_indices": []int{1}, "mask_ratio": 0.75,
			"num_patches": 16, "grid": 4, "dec_dim": 16, "dec_heads": 2, "dec_depth": 1}
		runViTRef(t, "mae", cfg, filepath.Join(dir, "in.pth"), filepath.Join(dir, "w.pth"), filepath.Join(dir, "out.pth"), filepath.Join(dir, "keys.txt"))
		ref := readTensors(t, filepath.Join(dir, "out.pth"))
		sameKeys(t, vs, readKeys(t, filepath.Join(dir, "keys.txt")))
		near(t, ref, "dec_sincos", m.neck.pos, 1e-6)
		return WithoutGrad(func() error {
			s := NewScope()
			defer s.Close()
			enc, err := m.backbone.ForwardWithNoise(x, noise, true)
			if err != nil {
				return err
			}
			s.TrackAll(enc)
			near(t, ref, "latent", enc[0], 1e-4)
			near(t, ref, "mask", enc[1], 0)
			near(t, ref, "ids_restore", enc[2], 0)
			pred, err := m.neck.Forward([]*ts.Tensor{enc[0], enc[2]}, true)
			if err != nil {
				return err
			}
			s.TrackAll(pred)
			near(t, ref, "pred", pred[0], 1e-4)
			for _, c := range []struct {
				key     string
				normPix bool
			}{{"loss", true}, {"loss_raw", false}} {
				h, err := NewMAEPretrainHead(MAEPretrainHeadConfig{NormPix: c.normPix, PatchSize: 8})
				if err != nil {
					return err
				}
				l, err := h.Loss(x, pred[0], enc[1])
				if err != nil {
					return err
				}
				near(t, ref, c.key, l.Get("loss"), 1e-4)
				l.Drop()
			}
			return nil
		})
	})
}

// TestMAERandomMasking checks MMSelfSup's random_masking on the model's
// own noise: exactly L − int(L·(1−r)) ones per row, ids_restore the
// inverse of the ascending-noise shuffle, the kept tokens exactly the
// len_keep smallest-noise ones, and the latent 1+len_keep tokens long.
func TestMAERandomMasking(t *testing.T) {
	onPinned(t, func() error {
		for _, ratio := range []float64{0.75, 0.5, 0.6} {
			ManualSeed(3)
			vs := nn.NewVarStore(gotch.CPU)
			c := DefaultMAEViTConfig()
			c.Arch, c.ImgSize, c.PatchSize, c.MaskRatio = tinyViTArch(), 32, 4, ratio // 64 patches
			m, err := NewMAEViT(vs.Root(), c)
			if err != nil {
				return err
			}
			x := ts.MustRandn([]int64{3, 3, 32, 32}, gotch.Float, gotch.CPU)
			noise := ts.MustRand([]int64{3, 64}, gotch.Float, gotch.CPU)
			outs, err := m.ForwardWithNoise(x, noise, false)
			if err != nil {
				return err
			}
			keep := int(64 * (1 - ratio))
			if d := outs[0].MustSize(); d[1] != int64(1+keep) || d[2] != 32 {
				t.Errorf("ratio %g: latent %v, want 3×%d×32", ratio, d, 1+keep)
			}
			mask, ids, nz := f64s(outs[1]), f64s(outs[2]), f64s(noise)
			for r := 0; r < 3; r++ {
				ones := 0
				for j := 0; j < 64; j++ {
					// rank of token j among the row's noise values
					rank := 0
					for k := 0; k < 64; k++ {
						if nz[r*64+k] < nz[r*64+j] {
							rank++
						}
					}
					if int(ids[r*64+j]) != rank {
						t.Fatalf("ratio %g row %d: ids_restore[%d] = %v, want its noise rank %d", ratio, r, j, ids[r*64+j], rank)
					}
					wantMask := 0.0
					if rank >= keep {
						wantMask = 1
					}
					if mask[r*64+j] != wantMask {
						t.Fatalf("ratio %g row %d token %d: mask %v, want %v", ratio, r, j, mask[r*64+j], wantMask)
					}
					ones += int(mask[r*64+j])
				}
				if ones != 64-keep {
					t.Errorf("ratio %g: %d masked tokens, want %d", ratio, ones, 64-keep)
				}
			}
			algoDropAll(append(outs, x, noise))
		}
		return nil
	})
}

// TestMAELossFallsAndStatistics trains the tiny MAE with AdamW on a fixed
// batch and a fixed mask (the generator is reseeded before each step):
// the norm-pix loss must fall over 8 steps.
func TestMAELossFalls(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(4)
		a, vs := algoBuild(t, tinyMAECfg())
		x := algoImages(1, 4, 32)
		defer algoDropAll(x)
		opt, err := BuildOptimizer(ParamsOf(vs), map[string]any{"type": "AdamW", "lr": 3e-3, "betas": []any{0.9, 0.95}, "weight_decay": 0.05})
		if err != nil {
			return err
		}
		defer opt.Close()
		var first, last float64
		for it := 0; it < 8; it++ {
			ManualSeed(40)
			l, err := a.TrainStep(&StepInput{Views: x})
			if err != nil {
				return err
			}
			total, err := l.Total()
			if err != nil {
				return err
			}
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
			t.Fatalf("MAE loss %.5f → %.5f over 8 AdamW steps; want a fall of > 10%%", first, last)
		}
		return nil
	})
}
