package augment

// Pure-Go ports of Pillow that the C kernels (kernels.c) replaced; kept
// as references: kernels_test.go requires the kernels to agree with them
// bit for bit.

// gaussianBlurRef is Pillow's ImagingGaussianBlur with 3 passes: three
// horizontal extended-box passes, then three vertical ones, each rounding
// to 8 bits.
func gaussianBlurRef(img *Image, sigma float64) *Image {
	r := boxRadius(float32(sigma), 3)
	out := img.Clone()
	if r == 0 {
		return out
	}
	line := boxBlurRowsRef(out, r, 3, nil)
	tr := transposeRef(out)
	boxBlurRowsRef(tr, r, 3, line)
	transposeIntoRef(out, tr)
	return out
}

// boxBlurRowsRef runs `passes` passes of ImagingHorizontalBoxBlur over every
// row of im in place (all passes on a row while it is in cache; rows are
// independent, so the order does not change the result). Each output is
// (sum of the 2·⌊r⌋+1 centred pixels)·ww + (the two pixels at distance
// ⌊r⌋+1)·fw, in 24-bit fixed point, indices clamped to the row, which is
// what Pillow's edge loops amount to. line is scratch space: the row is
// copied into it with ⌊r⌋+1 edge pixels repeated on each side so the inner
// loop needs no clamping.
func boxBlurRowsRef(im *Image, fr float32, passes int, line []uint8) []uint8 {
	radius := int(fr)
	ww := uint32(float32(1<<24) / (fr*2 + 1))
	fw := ((1 << 24) - uint32(radius*2+1)*ww) / 2
	c, w := im.C, im.W
	pad := radius + 1
	if need := (w + 2*pad) * c; len(line) < need {
		line = make([]uint8, need)
	}
	in := line[:(w+2*pad)*c]
	for y := range im.H {
		row := im.Pix[y*w*c : (y+1)*w*c]
		for range passes {
			for i := range pad {
				copy(in[i*c:(i+1)*c], row[:c])
				copy(in[(pad+w+i)*c:(pad+w+i+1)*c], row[(w-1)*c:])
			}
			copy(in[pad*c:], row)
			if c == 3 {
				boxLine3Ref(row, in, w, radius, ww, fw)
				continue
			}
			for ch := range c {
				// Padded index p corresponds to x = p − pad.
				var acc uint32
				for p := 0; p < 2*radius+1; p++ { // window of output −1: x ∈ [−r−1, r−1]
					acc += uint32(in[p*c+ch])
				}
				for x := range w {
					lo := (x + pad - radius - 1) * c // x − r − 1
					hi := (x + pad + radius) * c     // x + r
					acc += uint32(in[hi+ch]) - uint32(in[lo+ch])
					bulk := acc*ww + (uint32(in[lo+ch])+uint32(in[hi+c+ch]))*fw
					row[x*c+ch] = uint8((bulk + (1 << 23)) >> 24)
				}
			}
		}
	}
	return line
}

// boxLine3Ref is boxBlurRowsRef's inner loop for RGB, the three channels at once.
func boxLine3Ref(row, in []uint8, w, radius int, ww, fw uint32) {
	var a0, a1, a2 uint32
	for p := 0; p < 2*radius+1; p++ {
		a0 += uint32(in[3*p])
		a1 += uint32(in[3*p+1])
		a2 += uint32(in[3*p+2])
	}
	const half = 1 << 23
	for x := range w {
		lo := in[3*x : 3*x+3 : 3*x+3]                                        // x − r − 1
		hi := in[3*(x+2*radius+1) : 3*(x+2*radius+1)+6 : 3*(x+2*radius+1)+6] // x + r, x + r + 1
		a0 += uint32(hi[0]) - uint32(lo[0])
		a1 += uint32(hi[1]) - uint32(lo[1])
		a2 += uint32(hi[2]) - uint32(lo[2])
		d := row[3*x : 3*x+3 : 3*x+3]
		d[0] = uint8((a0*ww + (uint32(lo[0])+uint32(hi[3]))*fw + half) >> 24)
		d[1] = uint8((a1*ww + (uint32(lo[1])+uint32(hi[4]))*fw + half) >> 24)
		d[2] = uint8((a2*ww + (uint32(lo[2])+uint32(hi[5]))*fw + half) >> 24)
	}
}

// transposeRef returns im with rows and columns swapped.
func transposeRef(im *Image) *Image {
	out := NewImage(im.H, im.W, im.C)
	transposeIntoRef(out, im)
	return out
}

// transposeIntoRef writes src transposed into dst.
func transposeIntoRef(dst, src *Image) {
	c := src.C
	for y := range src.H {
		for x := range src.W {
			copy(dst.Pix[(x*dst.W+y)*c:(x*dst.W+y+1)*c], src.Pix[(y*src.W+x)*c:(y*src.W+x+1)*c])
		}
	}
}

// resampleHRef is Pillow's horizontal resampling pass.
func resampleHRef(out, in *Image, y0, ksize int, bounds []int, kk []int32) {
	c := in.C
	rowIn := in.W * c
	rowOut := out.W * c
	const half = int32(1) << (resamplePrecision - 1)
	for y := range out.H {
		src := in.Pix[(y+y0)*rowIn : (y+y0+1)*rowIn]
		dst := out.Pix[y*rowOut : (y+1)*rowOut]
		for xx := range out.W {
			xmin, n := bounds[2*xx], bounds[2*xx+1]
			k := kk[xx*ksize : xx*ksize+n]
			s := src[xmin*c : (xmin+n)*c]
			if c == 3 {
				s0, s1, s2 := half, half, half
				for x, w := range k {
					p := s[3*x : 3*x+3 : 3*x+3]
					s0 += int32(p[0]) * w
					s1 += int32(p[1]) * w
					s2 += int32(p[2]) * w
				}
				d := dst[3*xx : 3*xx+3 : 3*xx+3]
				d[0], d[1], d[2] = clip8(s0), clip8(s1), clip8(s2)
				continue
			}
			for ch := range c {
				ss := half
				for x, w := range k {
					ss += int32(s[x*c+ch]) * w
				}
				dst[xx*c+ch] = clip8(ss)
			}
		}
	}
}

// resampleVRef is Pillow's vertical resampling pass.
func resampleVRef(out, in *Image, ksize int, bounds []int, kk []int32) {
	row := in.W * in.C
	const half = int32(1) << (resamplePrecision - 1)
	acc := make([]int32, row)
	for yy := range out.H {
		ymin, n := bounds[2*yy], bounds[2*yy+1]
		k := kk[yy*ksize : yy*ksize+n]
		for i := range acc {
			acc[i] = half
		}
		for y, w := range k {
			src := in.Pix[(ymin+y)*row : (ymin+y+1)*row]
			a := acc[:len(src)]
			for i, v := range src {
				a[i] += int32(v) * w
			}
		}
		dst := out.Pix[yy*row : (yy+1)*row]
		for i, v := range acc {
			dst[i] = clip8(v)
		}
	}
}

// adjustHueRef is adjustHue pixel by pixel.
func adjustHueRef(img *Image, f float64) *Image {
	delta := uint8(int64(f * 255))
	dst := NewImage(img.W, img.H, 3)
	for i := range img.W * img.H {
		s := img.Pix[3*i : 3*i+3]
		h, sat, v := rgbToHSV(s[0], s[1], s[2])
		dst.Pix[3*i], dst.Pix[3*i+1], dst.Pix[3*i+2] = hsvToRGB(h+delta, sat, v)
	}
	return dst
}

// adjustSaturationRef is ImageEnhance.Color: blend each pixel with its luma.
func adjustSaturationRef(img *Image, f float64, owned bool) *Image {
	if img.C == 1 {
		if owned {
			return img
		}
		return img.Clone()
	}
	dst := img
	if !owned {
		dst = NewImage(img.W, img.H, 3)
	}
	alpha := float32(f)
	n := img.W * img.H
	sp, dp := img.Pix[:3*n], dst.Pix[:3*n]
	inside := alpha >= 0 && alpha <= 1
	for i := range n {
		s := sp[3*i : 3*i+3 : 3*i+3]
		d := dp[3*i : 3*i+3 : 3*i+3]
		g := luma(s[0], s[1], s[2])
		gf := float32(g)
		for ch := range 3 {
			v := gf + float32(alpha*float32(int(s[ch])-int(g)))
			switch {
			case inside:
				d[ch] = uint8(v)
			case v <= 0:
				d[ch] = 0
			case v >= 255:
				d[ch] = 255
			default:
				d[ch] = uint8(v)
			}
		}
	}
	return dst
}

// grayIntoRef writes the luma of src into dst.
func grayIntoRef(dst, src *Image) {
	n := src.W * src.H
	sp := src.Pix[:3*n]
	if dst.C == 1 {
		dp := dst.Pix[:n]
		for i := range n {
			p := sp[3*i : 3*i+3 : 3*i+3]
			dp[i] = luma(p[0], p[1], p[2])
		}
		return
	}
	dp := dst.Pix[:3*n]
	for i := range n {
		p := sp[3*i : 3*i+3 : 3*i+3]
		l := luma(p[0], p[1], p[2])
		d := dp[3*i : 3*i+3 : 3*i+3]
		d[0], d[1], d[2] = l, l, l
	}
}

// hflipRef mirrors im left-right in place.
func hflipRef(im *Image) {
	c := im.C
	row := im.W * c
	for y := range im.H {
		r := im.Pix[y*row : (y+1)*row]
		for l, rr := 0, im.W-1; l < rr; l, rr = l+1, rr-1 {
			for ch := range c {
				r[l*c+ch], r[rr*c+ch] = r[rr*c+ch], r[l*c+ch]
			}
		}
	}
}

// toTensorRef converts HWC uint8 to CHW float32 through lut.
func toTensorRef(im *Image, lut tensorLUT) *Tensor {
	t := NewTensor(im.C, im.H, im.W)
	n := im.W * im.H
	if im.C == 3 {
		r, g, b := t.Data[:n], t.Data[n:2*n], t.Data[2*n:]
		l0, l1, l2 := &lut[0], &lut[1], &lut[2]
		pix := im.Pix[:3*n]
		for i := range n {
			p := pix[3*i : 3*i+3 : 3*i+3]
			r[i] = l0[p[0]]
			g[i] = l1[p[1]]
			b[i] = l2[p[2]]
		}
		return t
	}
	for ch := range im.C {
		l := &lut[ch]
		plane := t.Data[ch*n : (ch+1)*n]
		for i := range n {
			plane[i] = l[im.Pix[i*im.C+ch]]
		}
	}
	return t
}
