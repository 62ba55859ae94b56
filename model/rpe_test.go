package model

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// TestMIMViTRelPosBiasParityTorch builds a 2-layer, 32-d MIMVisionTransformer
// (img 32, patch 8 ⇒ a 4×4 window, use_window, init_values 0.1,
// final_norm False) with a random relative_position_bias_table, q/v bias
// and LayerNorms, and compares against testdata/vit/ref_rpe.py (MMSelfSup
// 0.9.0's MultiheadAttentionWithRPE / TransformerEncoderLayer /
// MIMVisionTransformer, torch 1.13.1) on the same weights:
//   - state-dict keys and order equal (the table and the int64
//     relative_position_index buffer between v_bias and qkv);
//   - relative_position_index equal exactly;
//   - layers.0.attn and layers.0 on a random 2×17×32 token input, and the
//     backbone on a 2×3×32×32 image, within 1e-5 (relative to max |ref|).
func TestMIMViTRelPosBiasParityTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(11)
		vs := nn.NewVarStore(gotch.CPU)
		c := DefaultMIMVisionTransformerConfig()
		c.Arch, c.ImgSize, c.PatchSize = tinyViTArch(), 32, 8
		c.UseWindow, c.InitValues, c.FinalNorm = true, 0.1, false
		v, err := NewMIMVisionTransformer(vs.Root(), c)
		if err != nil {
			return err
		}
		randomiseLN(vs)
		noGradDo(func() {
			for _, l := range v.layers {
				fillVia(l.attn.rpe.table, func(x *ts.Tensor) { x.MustNormal_(0, 0.5) })
				fillVia(l.attn.qBias, func(x *ts.Tensor) { x.MustNormal_(0, 0.1) })
				fillVia(l.attn.vBias, func(x *ts.Tensor) { x.MustNormal_(0, 0.1) })
			}
		})
		if got := v.layers[0].attn.rpe.table.MustSize(); got[0] != 7*7+3 || got[1] != 4 {
			t.Errorf("table %v, want [52 4] ((2·4−1)²+3 rows × 4 heads)", got)
		}
		writeStateDict(t, filepath.Join(dir, "w.pth"), StateDict(vs))
		x := ts.MustRandn([]int64{2, 3, 32, 32}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		tok := ts.MustRandn([]int64{2, 17, 32}, gotch.Float, gotch.CPU)
		defer tok.MustDrop()
		writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "x", T: x}, {Name: "tok", T: tok}})
		cfg := map[string]any{"embed_dims": 32, "num_layers": 2, "num_heads": 4, "ffn": 64, "eps": v.geo.eps,
			"img_size": 32, "patch_size": 8, "init_values": 0.1}
		runRPERef(t, cfg, dir)
		ref := readTensors(t, filepath.Join(dir, "out.pth"))
		sameKeys(t, vs, readKeys(t, filepath.Join(dir, "keys.txt")))
		near(t, ref, "index", v.layers[0].attn.rpe.index, 0)
		return WithoutGrad(func() error {
			s := NewScope()
			defer s.Close()
			near(t, ref, "attn0", s.Track(v.layers[0].attn.forward(s, tok, false)), 1e-5)
			near(t, ref, "block0", s.Track(v.layers[0].forward(tok, false)), 1e-5)
			out, err := v.Forward(x, false)
			if err != nil {
				return err
			}
			s.TrackAll(out)
			near(t, ref, "out", out[0], 1e-5)
			return nil
		})
	})
}

// TestRelPosIndexLayout spot-checks relPosIndex for a 2×3 window against
// values worked out by hand from MMSelfSup's construction: R = 3·5+3 = 18
// rows; [0,0] = R−1, [0,j] = R−3, [i,0] = R−2; patch (0,0)→(1,2):
// Δ = (−1, −2) ⇒ (−1+1)·5 + (−2+2) = 0; (1,2)→(0,0): (2)·5 + 4 = 14;
// a token with itself: (1)·5 + 2 = 7.
func TestRelPosIndexLayout(t *testing.T) {
	idx := relPosIndex([2]int64{2, 3})
	n := int64(7)
	at := func(i, j int64) int64 { return idx[i*n+j] }
	for _, c := range []struct{ i, j, want int64 }{
		{0, 0, 17}, {0, 3, 15}, {4, 0, 16}, {1, 6, 0}, {6, 1, 14}, {3, 3, 7}, {5, 5, 7},
	} {
		if got := at(c.i, c.j); got != c.want {
			t.Errorf("index[%d,%d] = %d, want %d", c.i, c.j, got, c.want)
		}
	}
}

// TestMIMViTUseWindowKeys checks the names the fine-tuning checkpoint
// carries per block (MMSelfSup's module names) and that a window built at
// img_size rejects another input size with an error, not a crash.
func TestMIMViTUseWindowKeys(t *testing.T) {
	onPinned(t, func() error {
		vs := nn.NewVarStore(gotch.CPU)
		c := DefaultMIMVisionTransformerConfig()
		c.Arch, c.ImgSize, c.PatchSize, c.UseWindow = tinyViTArch(), 32, 8, true
		v, err := NewMIMVisionTransformer(vs.Root().Sub("backbone"), c)
		if err != nil {
			return err
		}
		got := suffixes(algoKeys(vs), "backbone.layers.1.attn")
		want := []string{"proj.bias", "proj.weight", "q_bias", "qkv.weight", "relative_position_bias_table", "relative_position_index", "v_bias"}
		if len(got) != len(want) {
			t.Fatalf("layers.1.attn keys %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("layers.1.attn keys %v, want %v", got, want)
			}
		}
		for _, p := range ParamsOf(vs) {
			if p.Name == "backbone.layers.1.attn.relative_position_index" {
				t.Error("relative_position_index is a buffer, not a trainable parameter")
			}
		}
		x := ts.MustRandn([]int64{1, 3, 40, 40}, gotch.Float, gotch.CPU)
		defer x.MustDrop()
		if _, err := v.Forward(x, false); err == nil {
			t.Error("a 40 px input (5×5 grid) on a 4×4 window: want an error")
		}
		return nil
	})
}

// runRPERef runs testdata/vit/ref_rpe.py on dir/{in,w}.pth, writing
// dir/out.pth and dir/keys.txt.
func runRPERef(t testing.TB, cfg map[string]any, dir string) {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(refPython, filepath.Join("testdata", "vit", "ref_rpe.py"), string(js),
		filepath.Join(dir, "in.pth"), filepath.Join(dir, "w.pth"), filepath.Join(dir, "out.pth"), filepath.Join(dir, "keys.txt"))
	cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ref_rpe.py: %v\n%s", err, out)
	}
}
