package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// idxImages encodes n w×h images whose pixel p of image i is byte(i*13+p).
func idxImages(magic uint32, n, declared, w, h int) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, uint32(declared))
	b = binary.BigEndian.AppendUint32(b, uint32(h))
	b = binary.BigEndian.AppendUint32(b, uint32(w))
	for i := range n {
		for p := range w * h {
			b = append(b, byte(i*13+p))
		}
	}
	return b
}

func idxLabels(magic uint32, declared int, labels ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, uint32(declared))
	return append(b, labels...)
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestMNIST(t *testing.T) {
	root := t.TempDir()
	// train gzipped, t10k plain; 5×4 images.
	writeBin(t, filepath.Join(root, "train-images-idx3-ubyte.gz"), gz(t, idxImages(idxImagesMagic, 3, 3, 5, 4)))
	writeBin(t, filepath.Join(root, "train-labels-idx1-ubyte.gz"), gz(t, idxLabels(idxLabelsMagic, 3, 7, 0, 9)))
	writeBin(t, filepath.Join(root, "t10k-images-idx3-ubyte"), idxImages(idxImagesMagic, 2, 2, 5, 4))
	writeBin(t, filepath.Join(root, "t10k-labels-idx1-ubyte"), idxLabels(idxLabelsMagic, 2, 1, 2))

	src := mustBuild(t, map[string]any{"type": "MNIST", "data_prefix": root})
	if !reflect.DeepEqual(src.Labels(), []int{7, 0, 9}) || src.ClassNames()[7] != "7" {
		t.Fatalf("labels %v, classes %v", src.Labels(), src.ClassNames())
	}
	s := mustGet(t, src, 2)
	if s.Image.W != 5 || s.Image.H != 4 || s.Image.C != 1 || s.Image.At(3, 2, 0) != byte(2*13+2*5+3) {
		t.Errorf("image 2: %dx%dx%d, (3,2) = %d", s.Image.W, s.Image.H, s.Image.C, s.Image.At(3, 2, 0))
	}
	if s.Name != "train-images-idx3-ubyte.gz#2" {
		t.Errorf("name %s", s.Name)
	}

	test := mustBuild(t, map[string]any{"type": "FashionMNIST", "data_prefix": root, "test_mode": true, "color_type": "color"})
	if !reflect.DeepEqual(test.Labels(), []int{1, 2}) || test.ClassNames()[9] != "Ankle boot" {
		t.Fatalf("test labels %v, classes %v", test.Labels(), test.ClassNames())
	}
	c := mustGet(t, test, 1)
	want := byte(1*13 + 7)
	if c.Image.C != 3 || c.Image.At(2, 1, 0) != want || c.Image.At(2, 1, 1) != want || c.Image.At(2, 1, 2) != want {
		t.Errorf("colour image: C %d, (2,1) = %v", c.Image.C, c.Image.Pix[3*7:3*7+3])
	}
	if c.Name != "t10k-images-idx3-ubyte#1" {
		t.Errorf("name %s", c.Name)
	}
}

func TestMNISTErrors(t *testing.T) {
	root := t.TempDir()
	good := idxImages(idxImagesMagic, 3, 3, 2, 2)
	for _, tc := range []struct {
		name           string
		images, labels []byte
		want           []string
	}{
		{"bad image magic", idxImages(0x00000801, 3, 3, 2, 2), idxLabels(idxLabelsMagic, 3, 1, 2, 3), []string{"train-images-idx3-ubyte", "magic 0x00000801, want 0x00000803"}},
		{"bad label magic", good, idxLabels(idxImagesMagic, 3, 1, 2, 3), []string{"train-labels-idx1-ubyte", "magic"}},
		{"truncated images", good[:len(good)-1], idxLabels(idxLabelsMagic, 3, 1, 2, 3), []string{"train-images-idx3-ubyte", "27 bytes, want 28", "truncated"}},
		{"short header", good[:10], idxLabels(idxLabelsMagic, 3, 1, 2, 3), []string{"train-images-idx3-ubyte", "16-byte idx3 header"}},
		{"count mismatch", good, idxLabels(idxLabelsMagic, 2, 1, 2), []string{"train-labels-idx1-ubyte", "2 labels but the images file has 3 images"}},
		{"truncated labels", good, idxLabels(idxLabelsMagic, 3, 1, 2), []string{"train-labels-idx1-ubyte", "10 bytes, want 11"}},
		{"label out of range", good, idxLabels(idxLabelsMagic, 3, 1, 12, 3), []string{"train-labels-idx1-ubyte", "sample 1 has label 12"}},
		{"missing labels", good, nil, []string{"train-labels-idx1-ubyte(.gz)", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, strings.ReplaceAll(tc.name, " ", "_"))
			writeBin(t, filepath.Join(dir, "train-images-idx3-ubyte"), tc.images)
			if tc.labels != nil {
				writeBin(t, filepath.Join(dir, "train-labels-idx1-ubyte"), tc.labels)
			}
			_, err := Build(map[string]any{"type": "MNIST", "data_prefix": dir})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	bad := filepath.Join(root, "badgz")
	writeBin(t, filepath.Join(bad, "train-images-idx3-ubyte.gz"), []byte("not gzip"))
	if _, err := Build(map[string]any{"type": "MNIST", "data_prefix": bad}); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz") {
		t.Errorf("corrupt gzip: %v", err)
	}
}

// TestFashionMNISTReal reads the Debian package dataset-fashion-mnist.
// Expected values: 60000/10000 images, 6000/1000 per class, and the pixel
// mean and standard deviation (of pixels/255) commonly used to normalise
// Fashion-MNIST, 0.2860 and 0.3530 on the training set (numpy on the same
// files gives 0.286041 and 0.353024); the first training labels are
// 9 0 0 3 0 (ankle boot, T-shirt, ...).
func TestFashionMNISTReal(t *testing.T) {
	const dir = "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(filepath.Join(dir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	for _, tc := range []struct {
		testMode    bool
		n, perClass int
		mean, std   float64
		firstLabels []int
	}{
		{false, 60000, 6000, 0.2860, 0.3530, []int{9, 0, 0, 3, 0}},
		{true, 10000, 1000, 0.2868, 0.3524, []int{9, 2, 1, 1, 6}},
	} {
		src := mustBuild(t, map[string]any{"type": "FashionMNIST", "data_prefix": dir, "test_mode": tc.testMode})
		if src.Len() != tc.n {
			t.Fatalf("test_mode %v: %d images, want %d", tc.testMode, src.Len(), tc.n)
		}
		var hist [10]int
		for _, l := range src.Labels() {
			hist[l]++
		}
		for c, k := range hist {
			if k != tc.perClass {
				t.Errorf("test_mode %v: class %d has %d images, want %d", tc.testMode, c, k, tc.perClass)
			}
		}
		if got := src.Labels()[:5]; !reflect.DeepEqual(got, tc.firstLabels) {
			t.Errorf("test_mode %v: first labels %v, want %v", tc.testMode, got, tc.firstLabels)
		}
		var sum, sq float64
		for i := range src.Len() {
			s, err := src.Get(i)
			if err != nil {
				t.Fatal(err)
			}
			if s.Image.W != 28 || s.Image.H != 28 || s.Image.C != 1 {
				t.Fatalf("image %d: %dx%dx%d", i, s.Image.W, s.Image.H, s.Image.C)
			}
			for _, p := range s.Image.Pix {
				v := float64(p) / 255
				sum += v
				sq += v * v
			}
		}
		n := float64(src.Len() * 784)
		mean := sum / n
		std := math.Sqrt(sq/n - mean*mean)
		if math.Abs(mean-tc.mean) > 5e-4 || math.Abs(std-tc.std) > 5e-4 {
			t.Errorf("test_mode %v: pixel mean %.5f std %.5f, want %.4f %.4f", tc.testMode, mean, std, tc.mean, tc.std)
		}
	}
}
