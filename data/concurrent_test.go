package data

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentGet: many goroutines calling Get on every kind of source
// see what sequential calls see (run with -race to check the sharing).
func TestConcurrentGet(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{}
	for i := range 12 {
		files[fmt.Sprintf("imgs/c%d/%02d.jpg", i%3, i)] = fmt.Sprint("content ", i)
	}
	writeFiles(t, root, files)
	cifar := filepath.Join(root, "cifar")
	for b := 1; b <= 5; b++ {
		writeBin(t, filepath.Join(cifar, "cifar-10-batches-bin", fmt.Sprintf("data_batch_%d.bin", b)), cifarRecords(10*b, []byte{1}, []byte{2}, []byte{3}))
	}
	mnist := filepath.Join(root, "mnist")
	writeBin(t, filepath.Join(mnist, "train-images-idx3-ubyte.gz"), gz(t, idxImages(idxImagesMagic, 9, 9, 6, 6)))
	writeBin(t, filepath.Join(mnist, "train-labels-idx1-ubyte.gz"), gz(t, idxLabels(idxLabelsMagic, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8)))

	for _, cfg := range []map[string]any{
		{"type": "ImageNet", "data_prefix": filepath.Join(root, "imgs")},
		{"type": "CIFAR10", "data_prefix": cifar, "color_type": "grayscale"},
		{"type": "MNIST", "data_prefix": mnist, "color_type": "color"},
		{"type": "Shapes", "num_samples": 20, "size": 24},
	} {
		t.Run(cfg["type"].(string), func(t *testing.T) {
			src := mustBuild(t, cfg)
			want := make([]Sample, src.Len())
			for i := range want {
				want[i] = mustGet(t, src, i)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range 3 * src.Len() {
						i := (k*5 + w) % src.Len()
						s, err := src.Get(i)
						if err == nil && !sameSample(s, want[i]) {
							err = fmt.Errorf("Get(%d) differs", i)
						}
						if err != nil {
							errs <- err
							return
						}
						if s.Image != nil {
							s.Image.Pix[0]++ // the caller owns it
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

func sameSample(a, b Sample) bool {
	if a.Index != b.Index || a.Label != b.Label || a.Name != b.Name || !bytes.Equal(a.Bytes, b.Bytes) {
		return false
	}
	if (a.Image == nil) != (b.Image == nil) {
		return false
	}
	return a.Image == nil || (a.Image.W == b.Image.W && a.Image.H == b.Image.H && a.Image.C == b.Image.C && bytes.Equal(a.Image.Pix, b.Image.Pix))
}
