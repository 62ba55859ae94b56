package augment

// resizeNearest is PIL's NEAREST resize (Pillow's ImagingResample hands it
// to an affine transform): output pixel (x, y) copies source pixel
// (int((x+0.5)·W/outW), int((y+0.5)·H/outH)). It runs in Go because
// vips_resize's nearest path picks neighbouring pixels depending on how the
// pipeline is tiled, so it would match neither PIL nor itself across
// DecodeCrop and Decode+crop+resize.
func resizeNearest(im *Image, outW, outH int) *Image {
	out := NewImage(outW, outH, im.C)
	sx := float64(im.W) / float64(outW)
	sy := float64(im.H) / float64(outH)
	cols := make([]int, outW)
	for x := range cols {
		cols[x] = min(im.W-1, int((float64(x)+0.5)*sx)) * im.C
	}
	for y := 0; y < outH; y++ {
		src := im.Pix[min(im.H-1, int((float64(y)+0.5)*sy))*im.W*im.C:]
		dst := out.Pix[y*outW*im.C : (y+1)*outW*im.C]
		for x, sc := range cols {
			copy(dst[x*im.C:(x+1)*im.C], src[sc:sc+im.C])
		}
	}
	return out
}
