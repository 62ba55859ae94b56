package model

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// tinyCAECfg is cae.py scaled down: a 2-layer 32-d CAEViT on 16 px
// images with patch 4 (4×4 patches, 6 masked), one regressor and one
// decoder layer, and a DALL-E tokenizer of width 64 with one block per
// group and 512 ids, random (its 32 px input gives 4×4 ids).
func tinyCAECfg() map[string]any {
	return map[string]any{
		"type": "CAE", "base_momentum": 0.0,
		"backbone": map[string]any{"type": "CAEViT", "arch": tinyViTArch(), "img_size": 16, "patch_size": 4,
			"init_values": 0.1},
		"neck": map[string]any{"type": "CAENeck", "patch_size": 4, "embed_dims": 32, "num_heads": 4,
			"regressor_depth": 1, "decoder_depth": 1, "mlp_ratio": 2, "init_values": 0.1, "num_classes": 512,
			"mask_tokens_num": 6},
		"head": map[string]any{"type": "CAEHead", "tokenizer_path": "", "lambd": 2, "random_tokenizer": true,
			"tokenizer": map[string]any{"n_hid": 64, "n_blk_per_group": 1, "vocab_size": 512}},
	}
}

// caeInputs makes n 16 px images and 32 px tokenizer images in [0, 1] and
// N×4×4 uint8 masks with exactly 6 ones per sample.
func caeInputs(n int64) (img, imgT, mask *ts.Tensor) {
	img = ts.MustRand([]int64{n, 3, 16, 16}, gotch.Float, gotch.CPU)
	imgT = ts.MustRand([]int64{n, 3, 32, 32}, gotch.Float, gotch.CPU)
	vals := make([]uint8, n*16)
	for i := range n {
		perm := ts.MustRandperm(16, gotch.Int64, gotch.CPU)
		for _, j := range perm.Int64Values()[:6] {
			vals[i*16+j] = 1
		}
		perm.MustDrop()
	}
	mask = ts.MustOfSlice(vals).MustView([]int64{n, 4, 4}, true)
	return img, imgT, mask
}

// randomiseCAE gives the q/v biases and γs random values (they start at
// 0 and 0.1) so that the parity test exercises them.
func randomiseCAE(named []Named) {
	noGradDo(func() {
		for _, e := range named {
			if strings.HasSuffix(e.Name, "_bias") || strings.Contains(e.Name, "gamma") {
				fillVia(e.T, func(t *ts.Tensor) { t.MustUniform_(0.05, 0.3) })
			}
		}
	})
}

// TestCAEParityTorch runs one CAE forward_train and backward against
// testdata/vit/ref_cae.py (MMSelfSup 0.9.0's modules, torch 1.13.1) on
// the same weights and inputs: the encoded visible tokens, the teacher's
// latents, the regressor's prediction, the decoder's logits, the DALL-E
// target ids, the losses (main, align, loss) and two gradients within
// 1e-4, the teacher equal to the backbone after the momentum-0 update, and
// state-dict keys and order equal.
func TestCAEParityTorch(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	onPinned(t, func() error {
		ManualSeed(11)
		a, vs := algoBuild(t, tinyCAECfg())
		m := a.(*CAE)
		randomiseLN(vs)
		sd := StateDict(vs)
		randomiseCAE(sd)
		// The teacher starts as a copy of the (randomised) backbone.
		if _, err := copyTarget(vs, "backbone", "teacher"); err != nil {
			return err
		}
		// A different teacher makes the momentum-0 copy observable.
		noGradDo(func() { fillVia(m.teacher.layers[0].attn.qkv.w, func(x *ts.Tensor) { x.MustUniform_(-1, 1) }) })
		writeStateDict(t, filepath.Join(dir, "w.pth"), sd)
		img, imgT, mask := caeInputs(2)
		defer algoDropAll([]*ts.Tensor{img, imgT, mask})
		writeTensors(t, filepath.Join(dir, "in.pth"), []Named{{Name: "img", T: img}, {Name: "img_t", T: imgT}, {Name: "mask", T: mask}})
		cfg := map[string]any{"embed_dims": 32, "num_layers": 2, "num_heads": 4, "ffn": 64, "img_size": 16, "patch_size": 4,
			"init_values": 0.1, "mask_tokens_num": 6, "reg_depth": 1, "dec_depth": 1, "vocab": 512, "n_hid": 64, "n_blk": 1,
			"lambd": 2.0, "momentum": 0.0}
		runCAERef(t, cfg, filepath.Join(dir, "in.pth"), filepath.Join(dir, "w.pth"), filepath.Join(dir, "out.pth"), filepath.Join(dir, "keys.txt"))
		ref := readTensors(t, filepath.Join(dir, "out.pth"))
		sameKeys(t, vs, readKeys(t, filepath.Join(dir, "keys.txt")))
		near(t, ref, "sincos", m.backbone.pos, 1e-6)

		s := NewScope()
		defer s.Close()
		in := &StepInput{Views: []*ts.Tensor{img}, Seconds: []*ts.Tensor{imgT}, Masks: []*ts.Tensor{mask}}
		l, err := a.TrainStep(in)
		if err != nil {
			return err
		}
		s.TrackLosses(l)
		for _, k := range []string{"loss", "main", "align"} {
			near(t, ref, k, l.Get(k), 1e-4)
		}
		total, err := l.Total()
		if err != nil {
			return err
		}
		s.Track(total)
		if err := total.Backward(); err != nil {
			return err
		}
		near(t, ref, "grad.neck.mask_token", s.Track(m.neck.maskToken.MustGrad(false)), 1e-4)
		near(t, ref, "grad.backbone.cls_token", s.Track(m.backbone.cls.MustGrad(false)), 1e-4)
		if d := relDiff(t, "teacher", m.teacher.layers[0].attn.qkv.w, refTensor(t, ref, "teacher.layers.0.attn.qkv.weight")); d != 0 {
			t.Errorf("teacher after the momentum-0 update differs from the backbone by %g", d)
		}
		// The intermediate tensors, recomputed without gradient.
		return WithoutGrad(func() error {
			x, err := imagenetNorm(s, img)
			if err != nil {
				return err
			}
			masked := s.Track(mask.MustFlatten(1, -1, false).MustTotype(gotch.Bool, true))
			visible := s.Track(masked.MustLogicalNot(false))
			u := s.Track(must(m.backbone.ForwardMasked(x, masked, false)))
			near(t, ref, "unmasked", u, 1e-4)
			ids := s.Track(must(m.head.Targets(s.Track(addScalar(s.Track(mulScalar(imgT, 0.8, false)), 0.1, false)))))
			tgt := s.Track(ids.MustMaskedSelect(masked, false))
			if d := relDiff(t, "target", tgt, refTensor(t, ref, "target")); d != 0 {
				t.Errorf("DALL-E target ids differ from torch's (max diff %g)", d)
			}
			if got := tgt.MustSize(); got[0] != 12 {
				t.Errorf("%v target ids, want 2 samples × 6 masked", got)
			}
			pm := s.Track(must(m.backbone.PosEmbed(masked)))
			pu := s.Track(must(m.backbone.PosEmbed(visible)))
			xu := s.Track(u.MustNarrow(1, 1, 10, false))
			outs, err := m.neck.Forward([]*ts.Tensor{xu, pm, pu}, false)
			if err != nil {
				return err
			}
			s.TrackAll(outs)
			near(t, ref, "logits", outs[0], 1e-4)
			near(t, ref, "latent_pred", outs[1], 1e-4)
			return nil
		})
	})
}

// runCAERef runs testdata/vit/ref_cae.py with cfg as JSON.
func runCAERef(t testing.TB, cfg map[string]any, args ...string) {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(refPython, append([]string{filepath.Join("testdata", "vit", "ref_cae.py"), string(js)}, args...)...)
	cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ref_cae.py: %v\n%s", err, out)
	}
}

// sameValues reports whether a and b hold the same float32 values.
func sameValues(a, b *ts.Tensor) bool {
	av, bv := a.MustFlatten(0, -1, false), b.MustFlatten(0, -1, false)
	defer av.MustDrop()
	defer bv.MustDrop()
	x, y := av.Float64Values(), bv.Float64Values()
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}

// must unwraps a (tensor, error) pair in tests that already return errors.
func must(x *ts.Tensor, err error) *ts.Tensor {
	if err != nil {
		panic(err)
	}
	return x
}

// TestCAETrainsAndMasks trains the tiny CAE for 10 AdamW steps on a
// fixed batch: the total loss falls by more than 10%; the step rejects a
// mask whose count differs from mask_tokens_num and a batch without the
// tokenizer image.
func TestCAETrainsAndMasks(t *testing.T) {
	onPinned(t, func() error {
		ManualSeed(12)
		a, vs := algoBuild(t, tinyCAECfg())
		img, imgT, mask := caeInputs(4)
		defer algoDropAll([]*ts.Tensor{img, imgT, mask})
		in := &StepInput{Views: []*ts.Tensor{img}, Seconds: []*ts.Tensor{imgT}, Masks: []*ts.Tensor{mask}}
		opt, err := BuildOptimizer(ParamsOf(vs), map[string]any{"type": "AdamW", "lr": 3e-3, "weight_decay": 0.05})
		if err != nil {
			return err
		}
		defer opt.Close()
		var first, last float64
		for it := range 10 {
			l, err := a.TrainStep(in)
			if err != nil {
				return err
			}
			total, _ := l.Total()
			last = total.Float64Values()[0]
			if it == 0 {
				first = last
			}
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
		t.Logf("CAE loss %.4f → %.4f over 10 steps", first, last)
		if math.IsNaN(last) || !(last < 0.9*first) {
			t.Errorf("CAE loss %.5f → %.5f over 10 AdamW steps; want a fall of > 10%%", first, last)
		}
		bad := ts.MustZeros([]int64{4, 4, 4}, gotch.Uint8, gotch.CPU)
		defer bad.MustDrop()
		for _, c := range []struct {
			in   *StepInput
			want string
		}{
			{&StepInput{Views: []*ts.Tensor{img}, Seconds: []*ts.Tensor{imgT}, Masks: []*ts.Tensor{bad}}, "mask_tokens_num"},
			{&StepInput{Views: []*ts.Tensor{img}, Masks: []*ts.Tensor{mask}}, "BEiTMaskGenerator"},
		} {
			l, err := a.TrainStep(c.in)
			if err == nil {
				l.Drop()
				t.Errorf("TrainStep accepted a bad input; want an error mentioning %q", c.want)
			} else if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		}
		return nil
	})
}

// TestCAETokenizerRequired: without random_tokenizer, a missing
// tokenizer file stops the build with a message naming the key and the
// download; a DALL-E state dict written by the model itself loads back.
func TestCAETokenizerRequired(t *testing.T) {
	dir := t.TempDir()
	onPinned(t, func() error {
		cfg := tinyCAECfg()
		h := cfg["head"].(map[string]any)
		delete(h, "random_tokenizer")
		h["tokenizer_path"] = filepath.Join(dir, "missing.pth")
		_, err := BuildAlgorithm(nn.NewVarStore(gotch.CPU), cfg)
		if err == nil || !strings.Contains(err.Error(), "tokenizer_path") || !strings.Contains(err.Error(), dalleEncoderURL) {
			t.Fatalf("missing tokenizer: got %v, want an error naming tokenizer_path and %s", err, dalleEncoderURL)
		}
		// Write a tokenizer from a random model, as torch.save(Encoder().state_dict()).
		ManualSeed(13)
		src, svs := algoBuild(t, tinyCAECfg())
		var enc []Named
		for _, e := range StateDict(svs) {
			if k, ok := strings.CutPrefix(e.Name, "head.encoder."); ok {
				enc = append(enc, Named{Name: k, T: e.T})
			}
		}
		path := filepath.Join(dir, "dalle_encoder.pth")
		writeTensors(t, path, enc)
		cfg["target_generator"] = map[string]any{"type": "DALL-E", "init_cfg": map[string]any{"type": "Pretrained", "checkpoint": path}}
		ManualSeed(14)
		a, vs := algoBuild(t, cfg)
		if n := a.(*CAE).Notes(); len(n) != 1 || !strings.Contains(n[0], path) {
			t.Errorf("notes %v, want the tokenizer's path", n)
		}
		got := map[string]*ts.Tensor{}
		for _, e := range StateDict(vs) {
			got[e.Name] = e.T
		}
		for _, e := range enc {
			if !sameValues(got["head.encoder."+e.Name], e.T) {
				t.Errorf("head.encoder.%s not loaded from the file", e.Name)
			}
		}
		_ = src
		if _, err := os.Stat(path); err != nil {
			t.Fatal(err)
		}
		return nil
	})
}
