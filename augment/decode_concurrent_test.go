package augment

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestDecodeConcurrent decodes 8 different images from 8 goroutines at once,
// repeatedly, mixing Decode, DecodeCrop (with and without shrink-on-load)
// and failing inputs, and requires exactly the serial results: libvips state
// shared between calls (error buffer, caches, thread pools) must not leak
// from one decode into another.
func TestDecodeConcurrent(t *testing.T) {
	type job struct {
		buf  []byte
		crop *cropSpec
		opt  DecodeOptions
	}
	var jobs []job
	for i := 0; i < 8; i++ {
		w, h := 300+37*i, 200+23*i
		pat := testPattern(w, h)
		for j := range pat.Pix {
			pat.Pix[j] += uint8(i * 13)
		}
		suffix := []string{".jpg[Q=90]", ".png", ".webp[Q=90]", ".tif"}[i%4]
		buf := mustEncode(t, pat.Pix, w, h, 3, vipsUchar, vipsSRGB, i%9, suffix)
		jobs = append(jobs,
			job{buf, nil, DecodeOptions{Channels: 1 + 2*(i%2)}},
			job{buf, &cropSpec{i, 2 * i, w - 2*i, h - 3*i, 40 + i, 30, Interp(i % 4)}, DecodeOptions{}},
			job{buf[:len(buf)/2], nil, DecodeOptions{}},
		)
	}
	run := func(j job) string {
		var im *Image
		var err error
		if j.crop == nil {
			im, err = Decode(j.buf, j.opt)
		} else {
			im, _, err = decodeCrop(j.buf, *j.crop, j.opt)
		}
		if err != nil {
			if !errors.Is(err, ErrBadImage) {
				return "unexpected error: " + err.Error()
			}
			return "bad image"
		}
		return fmt.Sprintf("%dx%dx%d %x", im.W, im.H, im.C, im.Pix)
	}
	serial := make([]string, len(jobs))
	for i, j := range jobs {
		serial[i] = run(j)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(jobs))
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for rep := 0; rep < 4; rep++ {
				for k := range jobs {
					i := (k + 3*g) % len(jobs) // goroutines work on different images at each moment
					if got := run(jobs[i]); got != serial[i] {
						errs <- fmt.Sprintf("goroutine %d, job %d: result differs from the serial decode (%.40s vs %.40s)", g, i, got, serial[i])
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if !bytes.Contains([]byte(serial[2]), []byte("bad image")) {
		t.Errorf("truncated input decoded: %.40s", serial[2])
	}
}
