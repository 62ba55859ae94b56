package augment

import (
	"math/bits"
	"sync"
)

// Scratch and image buffers are recycled through size-class pools
// (capacities are powers of two), so that a view costs little garbage: at
// hundreds of images per second per core, allocating and zeroing each
// decoded image, intermediate and blur buffer kept the garbage collector
// busy for a tenth of the time. A buffer from getBytes holds stale bytes;
// every user overwrites all of it.
var (
	bytePools [48]sync.Pool // *[]byte with cap 1<<k
	wordPools [48]sync.Pool // *[]uint32 with cap 1<<k
)

func sizeClass(n int) int { return bits.Len(uint(max(n, 1) - 1)) }

// getBytes returns a buffer of length n; give it back with putBytes.
func getBytes(n int) *[]byte {
	k := sizeClass(n)
	if p, ok := bytePools[k].Get().(*[]byte); ok {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n, 1<<k)
	return &b
}

// putBytes recycles a buffer from getBytes (others are left to the
// garbage collector).
func putBytes(p *[]byte) {
	c := cap(*p)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	bytePools[bits.Len(uint(c))-1].Put(p)
}

func getWords(n int) *[]uint32 {
	k := sizeClass(n)
	if p, ok := wordPools[k].Get().(*[]uint32); ok {
		*p = (*p)[:n]
		return p
	}
	w := make([]uint32, n, 1<<k)
	return &w
}

func putWords(p *[]uint32) {
	c := cap(*p)
	if c == 0 || c&(c-1) != 0 {
		return
	}
	wordPools[bits.Len(uint(c))-1].Put(p)
}

// newPooledImage is NewImage with recycled, not zeroed, pixels: for
// results that are written completely.
func newPooledImage(w, h, c int) *Image {
	return &Image{W: w, H: h, C: c, Pix: *getBytes(w * h * c)}
}

// releaseImage recycles im's pixels; im must not be used afterwards.
func releaseImage(im *Image) {
	if im != nil {
		p := im.Pix
		im.Pix = nil
		putBytes(&p)
	}
}
