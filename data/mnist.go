package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/flowssl/flowssl/augment"
)

// MNISTConfig configures an MNIST or Fashion-MNIST source read from the
// idx files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-…),
// gzipped (".gz") or not.
type MNISTConfig struct {
	DataPrefix string
	// TestMode selects the t10k files instead of train.
	TestMode bool
	Classes  []string
	// Decoding defaults to grayscale (28×28×1); color_type "color"
	// replicates the grey value into three channels.
	Decoding Decoding
}

const (
	idxImagesMagic = 0x00000803 // unsigned bytes, 3 dimensions
	idxLabelsMagic = 0x00000801 // unsigned bytes, 1 dimension
)

var fashionClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// MNIST holds the images of one split in memory.
type MNIST struct {
	imagesName string
	w, h       int
	pix        []byte
	labels     []int
	classes    []string
	dec        Decoding
}

var _ Source = (*MNIST)(nil)

func init() {
	register("MNIST", cifarKeys, parseMNIST, func(c MNISTConfig) (Source, error) { return NewMNIST(c) })
	register("FashionMNIST", cifarKeys, parseMNIST, func(c MNISTConfig) (Source, error) { return NewFashionMNIST(c) })
}

func parseMNIST(p *params) (MNISTConfig, error) {
	var c MNISTConfig
	var err error
	if c.DataPrefix, err = p.str("data_prefix", ""); err != nil {
		return c, err
	}
	if c.DataPrefix == "" {
		return c, p.errf("data_prefix", "required")
	}
	if c.TestMode, err = p.boolean("test_mode", false); err != nil {
		return c, err
	}
	if c.Classes, err = classesKey(p); err != nil {
		return c, err
	}
	if c.Decoding, err = parseDecoding(p, "grayscale"); err != nil {
		return c, err
	}
	return c, fileClient(p)
}

// NewMNIST reads an MNIST split; class names are the digits.
func NewMNIST(c MNISTConfig) (*MNIST, error) {
	if c.Classes == nil {
		for d := range 10 {
			c.Classes = append(c.Classes, strconv.Itoa(d))
		}
	}
	return openMNIST(c)
}

// NewFashionMNIST reads a Fashion-MNIST split (same file format as MNIST)
// with torchvision's class names.
func NewFashionMNIST(c MNISTConfig) (*MNIST, error) {
	if c.Classes == nil {
		c.Classes = fashionClasses
	}
	return openMNIST(c)
}

func openMNIST(c MNISTConfig) (*MNIST, error) {
	split := "train"
	if c.TestMode {
		split = "t10k"
	}
	imgPath, imgRaw, err := readIdx(c.DataPrefix, split+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lblPath, lblRaw, err := readIdx(c.DataPrefix, split+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	m := &MNIST{imagesName: filepath.Base(imgPath), classes: c.Classes, dec: c.Decoding}
	n, err := m.parseImages(imgPath, imgRaw)
	if err != nil {
		return nil, err
	}
	if err := m.parseLabels(lblPath, lblRaw, n); err != nil {
		return nil, err
	}
	if err := checkClasses(m.labels, m.classes, lblPath); err != nil {
		return nil, err
	}
	return m, nil
}

// readIdx reads dir/base, or dir/base.gz decompressed.
func readIdx(dir, base string) (string, []byte, error) {
	path := filepath.Join(dir, base)
	raw, err := os.ReadFile(path)
	if err == nil {
		return path, raw, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", nil, fmt.Errorf("read idx file: %w", err)
	}
	gzPath := path + ".gz"
	gz, err := os.ReadFile(gzPath)
	if err != nil {
		return "", nil, fmt.Errorf("read idx file: %s(.gz): %w", path, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", gzPath, err)
	}
	raw, err = io.ReadAll(zr)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", gzPath, err)
	}
	return gzPath, raw, nil
}

func (m *MNIST) parseImages(path string, raw []byte) (int, error) {
	if len(raw) < 16 {
		return 0, fmt.Errorf("%s: %d bytes, shorter than the 16-byte idx3 header", path, len(raw))
	}
	if magic := binary.BigEndian.Uint32(raw); magic != idxImagesMagic {
		return 0, fmt.Errorf("%s: magic %#08x, want %#08x (idx3 unsigned bytes)", path, magic, idxImagesMagic)
	}
	n := int(binary.BigEndian.Uint32(raw[4:]))
	m.h = int(binary.BigEndian.Uint32(raw[8:]))
	m.w = int(binary.BigEndian.Uint32(raw[12:]))
	if m.w <= 0 || m.h <= 0 || m.w > 1<<14 || m.h > 1<<14 {
		return 0, fmt.Errorf("%s: image size %d×%d out of range", path, m.w, m.h)
	}
	if want := 16 + int64(n)*int64(m.w*m.h); int64(len(raw)) != want {
		return 0, fmt.Errorf("%s: %d bytes, want %d for %d images of %d×%d (truncated?)", path, len(raw), want, n, m.w, m.h)
	}
	m.pix = raw[16:]
	return n, nil
}

func (m *MNIST) parseLabels(path string, raw []byte, n int) error {
	if len(raw) < 8 {
		return fmt.Errorf("%s: %d bytes, shorter than the 8-byte idx1 header", path, len(raw))
	}
	if magic := binary.BigEndian.Uint32(raw); magic != idxLabelsMagic {
		return fmt.Errorf("%s: magic %#08x, want %#08x (idx1 unsigned bytes)", path, magic, idxLabelsMagic)
	}
	k := int(binary.BigEndian.Uint32(raw[4:]))
	if k != n {
		return fmt.Errorf("%s: %d labels but the images file has %d images", path, k, n)
	}
	if len(raw) != 8+k {
		return fmt.Errorf("%s: %d bytes, want %d for %d labels (truncated?)", path, len(raw), 8+k, k)
	}
	m.labels = make([]int, k)
	for i, b := range raw[8:] {
		m.labels[i] = int(b)
	}
	return nil
}

// Len is the number of images.
func (m *MNIST) Len() int { return len(m.labels) }

// Labels returns the label of every image; do not mutate.
func (m *MNIST) Labels() []int { return m.labels }

// ClassNames returns the class names.
func (m *MNIST) ClassNames() []string { return m.classes }

// Get returns image i, 1 channel unless color_type is "color".
func (m *MNIST) Get(i int) (Sample, error) {
	if i < 0 || i >= len(m.labels) {
		return Sample{}, fmt.Errorf("data: index %d out of range [0, %d)", i, len(m.labels))
	}
	sz := m.w * m.h
	im := &augment.Image{W: m.w, H: m.h, C: 1, Pix: append([]byte(nil), m.pix[i*sz:(i+1)*sz]...)}
	return Sample{Index: i, Label: m.labels[i], Name: fmt.Sprintf("%s#%d", m.imagesName, i), Image: m.dec.convert(im)}, nil
}
