package augment

import (
	"fmt"
	"math/rand/v2"
)

// fastDecode runs a leading geometric step inside the decoder: the crop
// box comes from Probe's size (the oriented size, which Decode would give),
// drawn exactly as the Go op would draw it, and DecodeCrop decodes only
// that region, resized with PIL's algorithm. done is false when first is not such a
// step or the geometry needs padding, which only the Go op does.
func fastDecode(buf []byte, first step, opt DecodeOptions, rng *rand.Rand) (img *Image, done bool, err error) {
	if first.kind != stepImage {
		return nil, false, nil
	}
	switch t := first.image.(type) {
	case *RandomResizedCrop:
		W, H, err := Probe(buf)
		if err != nil {
			return nil, false, err
		}
		i, j, h, w := t.Box(W, H, rng)
		img, err = decodeCropResize(buf, j, i, w, h, t.Width, t.Height, t.Interp, opt)
		return img, err == nil, wrapStep(t, err)
	case *Resize:
		W, H, err := Probe(buf)
		if err != nil {
			return nil, false, err
		}
		w, h := t.OutSize(W, H)
		if w == W && h == H {
			return nil, false, nil
		}
		img, err = decodeCropResize(buf, 0, 0, W, H, w, h, t.Interp, opt)
		return img, err == nil, wrapStep(t, err)
	case *CenterCrop:
		W, H, err := Probe(buf)
		if err != nil {
			return nil, false, err
		}
		top, left := t.Box(W, H)
		if top < 0 || left < 0 || top+t.Height > H || left+t.Width > W {
			return nil, false, nil
		}
		img, err = DecodeCrop(buf, left, top, t.Width, t.Height, t.Width, t.Height, InterpBilinear, opt)
		return img, err == nil, wrapStep(t, err)
	}
	return nil, false, nil
}

// decodeCropResize is DecodeCrop: it resamples with PIL's algorithm
// whether the crop is enlarged or reduced, so the fast route gives the Go
// route's pixels (except for JPEG shrink-on-load, see DecodeCrop).
func decodeCropResize(buf []byte, x, y, cw, ch, outW, outH int, interp Interp, opt DecodeOptions) (*Image, error) {
	return DecodeCrop(buf, x, y, cw, ch, outW, outH, interp, opt)
}

func wrapStep(t Transform, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", t.Name(), err)
}
