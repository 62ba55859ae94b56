package augment

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPILParity compares each PIL-stage op at fixed parameters with
// torchvision 0.14.1 on Pillow 9.4 (testdata/transforms/ref.py run by
// /usr/bin/python3). Tolerance is the largest |Go − PIL| allowed in uint8
// levels; 0 means bit-identical, which every op reaches.
func TestPILParity(t *testing.T) {
	py := tfPython(t)
	dir := t.TempDir()
	imgs := map[string]*Image{"small": tfImage(97, 73, 1), "photo": tfImage(500, 375, 2)}
	spec := map[string]any{"images": map[string]any{}}
	for name, im := range imgs {
		path := filepath.Join(dir, name+".rgb")
		if err := os.WriteFile(path, im.Pix, 0o644); err != nil {
			t.Fatal(err)
		}
		spec["images"].(map[string]any)[name] = map[string]any{"path": path, "w": im.W, "h": im.H}
	}
	type pcase struct {
		name, image string
		args        map[string]any
		tol         int
		got         func(im *Image) *Image
	}
	var cases []pcase
	add := func(name, image string, tol int, args map[string]any, got func(im *Image) *Image) {
		cases = append(cases, pcase{name, image, args, tol, got})
	}
	for _, im := range []string{"small", "photo"} {
		for _, interp := range []string{"bilinear", "bicubic", "lanczos", "nearest"} {
			in, _ := interpByName(interp)
			add("resize_down_"+interp+"_"+im, im, 0, map[string]any{"op": "resize", "w": 61, "h": 37, "interp": interp},
				func(x *Image) *Image { return resizePIL(x, 61, 37, in) })
			add("resize_up_"+interp+"_"+im, im, 0, map[string]any{"op": "resize", "w": 131, "h": 240, "interp": interp},
				func(x *Image) *Image { return resizePIL(x, 131, 240, in) })
			add("resize_h_only_"+interp+"_"+im, im, 0, map[string]any{"op": "resize", "w": 50, "h": imgs[im].H, "interp": interp},
				func(x *Image) *Image { return resizePIL(x, 50, x.H, in) })
			add("resized_crop_"+interp+"_"+im, im, 0, map[string]any{"op": "resized_crop", "top": 5, "left": 9, "h": 60, "w": 77, "size": 224, "interp": interp},
				func(x *Image) *Image { return resizePIL(cropPIL(x, 5, 9, 60, 77), 224, 224, in) })
		}
		add("hamming_"+im, im, 0, map[string]any{"op": "hamming", "w": 40, "h": 30},
			func(x *Image) *Image { return resizePIL(x, 40, 30, interpHamming) })
		add("resize_short_"+im, im, 0, map[string]any{"op": "resize_short", "size": 64, "interp": "bilinear"},
			func(x *Image) *Image { r, _ := (&Resize{Height: 64, Interp: InterpBilinear}).Apply(x, nil); return r })
		add("center_crop_"+im, im, 0, map[string]any{"op": "center_crop", "size": 50},
			func(x *Image) *Image { r, _ := (&CenterCrop{Height: 50, Width: 50}).Apply(x, nil); return r })
		add("center_crop_pad_"+im, im, 0, map[string]any{"op": "center_crop", "size": 101},
			func(x *Image) *Image { r, _ := (&CenterCrop{Height: 101, Width: 101}).Apply(x, nil); return r })
		add("crop_outside_"+im, im, 0, map[string]any{"op": "crop", "top": -3, "left": 40, "h": 20, "w": 70},
			func(x *Image) *Image { return cropPIL(x, -3, 40, 20, 70) })
		add("hflip_"+im, im, 0, map[string]any{"op": "hflip"},
			func(x *Image) *Image { y := x.Clone(); hflipInPlace(y); return y })
		add("grayscale_"+im, im, 0, map[string]any{"op": "grayscale"},
			func(x *Image) *Image { y := NewImage(x.W, x.H, 3); grayInto(y, x); return y })
		add("solarize_"+im, im, 0, map[string]any{"op": "solarize", "threshold": 128},
			func(x *Image) *Image { r, _ := (&Solarization{Threshold: 128, P: 1}).Apply(x, tfRNG()); return r })
		for _, f := range []float64{0, 0.37, 0.6, 1, 1.4, 1.8} {
			add(fmt.Sprintf("brightness_%g_%s", f, im), im, 0, map[string]any{"op": "brightness", "f": f},
				func(x *Image) *Image { return adjustBrightness(x, f, false) })
			add(fmt.Sprintf("contrast_%g_%s", f, im), im, 0, map[string]any{"op": "contrast", "f": f},
				func(x *Image) *Image { return adjustContrast(x, f, false) })
			add(fmt.Sprintf("saturation_%g_%s", f, im), im, 0, map[string]any{"op": "saturation", "f": f},
				func(x *Image) *Image { return adjustSaturation(x, f, false) })
		}
		for _, f := range []float64{-0.5, -0.37, -0.1, 0, 0.05, 0.2, 0.4999} {
			add(fmt.Sprintf("hue_%g_%s", f, im), im, 0, map[string]any{"op": "hue", "f": f},
				func(x *Image) *Image { return adjustHue(x, f, false) })
		}
		for _, s := range []float64{0.1, 0.5, 1.0, 1.7, 2.0, 9.5} {
			add(fmt.Sprintf("blur_%g_%s", s, im), im, 0, map[string]any{"op": "blur", "sigma": s},
				func(x *Image) *Image { return gaussianBlurPIL(x, s) })
		}
		add("autocontrast_"+im, im, 0, map[string]any{"op": "autocontrast"}, autoContrast)
		add("equalize_"+im, im, 0, map[string]any{"op": "equalize"}, equalize)
		add("invert_"+im, im, 0, map[string]any{"op": "invert"},
			func(x *Image) *Image { return lutImage(x, func(v int) int { return 255 - v }) })
		add("posterize_2_"+im, im, 0, map[string]any{"op": "posterize", "bits": 2},
			func(x *Image) *Image { return (&RandomAug{}).applyOp(x, "PosterizeIncreasing", 0.5, tfRNG()) })
		for _, f := range []float64{0.1, 1.9} {
			add(fmt.Sprintf("sharpness_%g_%s", f, im), im, 0, map[string]any{"op": "sharpness", "f": f},
				func(x *Image) *Image { return sharpness(x, f) })
		}
		for _, a := range []float64{-2, -0.7, 1.3, 2, 33} {
			add(fmt.Sprintf("rotate_%g_%s", a, im), im, 0, map[string]any{"op": "rotate", "angle": a},
				func(x *Image) *Image { return rotatePIL(x, a) })
		}
	}
	var specCases []map[string]any
	for _, c := range cases {
		m := map[string]any{"name": c.name, "image": c.image}
		for k, v := range c.args {
			m[k] = v
		}
		specCases = append(specCases, m)
	}
	mean, std := []float64{0.485, 0.456, 0.406}, []float64{0.229, 0.224, 0.225}
	specCases = append(specCases,
		map[string]any{"name": "to_tensor", "image": "small", "op": "to_tensor"},
		map[string]any{"name": "to_tensor_norm", "image": "small", "op": "to_tensor", "mean": mean, "std": std})
	spec["cases"] = specCases
	specPath := filepath.Join(dir, "spec.json")
	b, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "testdata/transforms/ref.py", specPath, dir).CombinedOutput(); err != nil {
		t.Fatalf("ref.py: %v\n%s", err, out)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, c.name+".raw"))
			if err != nil {
				t.Fatal(err)
			}
			got := c.got(imgs[c.image])
			if len(got.Pix) != len(want) {
				t.Fatalf("got %dx%dx%d (%d bytes), PIL gave %d bytes", got.W, got.H, got.C, len(got.Pix), len(want))
			}
			if d, n := tfMaxDiff(got.Pix, want); d > c.tol {
				t.Errorf("max |Go − PIL| = %d levels at %d of %d values, tolerance %d", d, n, len(want), c.tol)
			}
		})
	}
	for _, norm := range []bool{false, true} {
		name := "to_tensor"
		lut := newTensorLUT(3, nil, nil)
		if norm {
			name += "_norm"
			lut = newTensorLUT(3, mean, std)
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, name+".raw"))
			if err != nil {
				t.Fatal(err)
			}
			got := toTensor(imgs["small"], lut)
			if len(raw) != 4*len(got.Data) {
				t.Fatalf("torch gave %d floats, Go %d", len(raw)/4, len(got.Data))
			}
			for i, g := range got.Data {
				w := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				if g != w { // torch's float32 sub and div are exactly rounded: bit-identical
					t.Fatalf("value %d: Go %v, torch %v", i, g, w)
				}
			}
		})
	}
}
