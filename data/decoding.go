package data

import (
	"fmt"

	"github.com/flowssl/flowssl/augment"
)

// Decoding says how a sample's encoded Bytes become pixels: MMSelfSup's
// color_type and channel_order. Sources with raw pixels apply both
// themselves.
type Decoding struct {
	// Grayscale is color_type "grayscale": one channel. The default,
	// "color", gives three.
	Grayscale bool
	// BGR is channel_order "bgr": red and blue swapped after decoding.
	BGR bool
}

// Decoder is implemented by sources whose samples carry Bytes.
type Decoder interface {
	Decoding() Decoding
}

// Options returns the augment decode options for d.
func (d Decoding) Options() augment.DecodeOptions {
	if d.Grayscale {
		return augment.DecodeOptions{Channels: 1}
	}
	return augment.DecodeOptions{Channels: 3}
}

// Apply swaps red and blue in place when d.BGR and im has three channels.
func (d Decoding) Apply(im *augment.Image) {
	if !d.BGR || im.C != 3 {
		return
	}
	for i := 0; i+2 < len(im.Pix); i += 3 {
		im.Pix[i], im.Pix[i+2] = im.Pix[i+2], im.Pix[i]
	}
}

// parseDecoding reads color_type and channel_order. MMSelfSup passes both
// to mmcv.imfrombytes; of mmcv's flags only the two that yield an 8-bit
// 1- or 3-channel image are meaningful here ("unchanged" would keep alpha).
func parseDecoding(p *params, defaultColor string) (Decoding, error) {
	var d Decoding
	ct, err := p.str("color_type", defaultColor)
	if err != nil {
		return d, err
	}
	switch ct {
	case "color":
	case "grayscale":
		d.Grayscale = true
	default:
		return d, p.errf("color_type", "%q: want \"color\" or \"grayscale\"", ct)
	}
	co, err := p.str("channel_order", "rgb")
	if err != nil {
		return d, err
	}
	switch co {
	case "rgb":
	case "bgr":
		d.BGR = true
	default:
		return d, p.errf("channel_order", "%q: want \"rgb\" or \"bgr\"", co)
	}
	return d, nil
}

// convert returns im with d applied, converting the channel count: grey
// to colour by replication, colour to grey by PIL's convert('L') luma
// (R·299 + G·587 + B·114)/1000 in its fixed-point form. im may be reused.
func (d Decoding) convert(im *augment.Image) *augment.Image {
	switch {
	case d.Grayscale && im.C == 3:
		g := augment.NewImage(im.W, im.H, 1)
		for i := range g.Pix {
			r, gg, b := uint32(im.Pix[3*i]), uint32(im.Pix[3*i+1]), uint32(im.Pix[3*i+2])
			g.Pix[i] = uint8((r*19595 + gg*38470 + b*7471 + 0x8000) >> 16)
		}
		return g
	case !d.Grayscale && im.C == 1:
		c := augment.NewImage(im.W, im.H, 3)
		for i, v := range im.Pix {
			c.Pix[3*i], c.Pix[3*i+1], c.Pix[3*i+2] = v, v, v
		}
		return c
	}
	d.Apply(im)
	return im
}

func (d Decoding) String() string {
	ct, co := "color", "rgb"
	if d.Grayscale {
		ct = "grayscale"
	}
	if d.BGR {
		co = "bgr"
	}
	return fmt.Sprintf("color_type=%s channel_order=%s", ct, co)
}
