package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flowssl/flowssl/augment"
)

// CIFARConfig configures a CIFAR-10 or CIFAR-100 source read from the
// binary distribution (cifar-10-binary.tar.gz / cifar-100-binary.tar.gz).
type CIFARConfig struct {
	// DataPrefix holds cifar-10-batches-bin/ or cifar-100-binary/, or is
	// that folder itself.
	DataPrefix string
	// TestMode selects the test batch instead of the training batches.
	TestMode bool
	// Classes overrides the names read from the meta file.
	Classes  []string
	Decoding Decoding
}

// cifarFormat describes one of the two binary layouts.
type cifarFormat struct {
	folder    string
	train     []string
	test      []string
	meta      string
	labelSkip int // bytes before the label used (CIFAR-100: the coarse label)
	classes   int
	defaults  []string
}

const cifarPixels = 32 * 32 * 3

// cifarKeys are the keys of the in-memory sources (CIFAR, MNIST): those of
// files minus ann_file.
var cifarKeys = []string{"data_prefix", "classes", "test_mode", "color_type", "channel_order", "file_client_args"}

var (
	cifar10Format = cifarFormat{
		folder: "cifar-10-batches-bin",
		train:  []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
		test:   []string{"test_batch.bin"},
		meta:   "batches.meta.txt", classes: 10,
		defaults: []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"},
	}
	// CIFAR-100 records are <coarse label><fine label><pixels>; MMSelfSup
	// uses the fine labels.
	cifar100Format = cifarFormat{
		folder: "cifar-100-binary",
		train:  []string{"train.bin"},
		test:   []string{"test.bin"},
		meta:   "fine_label_names.txt", labelSkip: 1, classes: 100,
	}
)

// CIFAR holds the records of the selected batches in memory.
type CIFAR struct {
	files   []cifarFile
	labels  []int
	classes []string
	dec     Decoding
	recSize int
	skip    int
}

type cifarFile struct {
	name  string // folder/file, for sample names
	raw   []byte
	first int // index of its first record
}

var _ Source = (*CIFAR)(nil)

func init() {
	register("CIFAR10", cifarKeys, parseCIFAR, func(c CIFARConfig) (Source, error) { return NewCIFAR10(c) })
	register("CIFAR100", cifarKeys, parseCIFAR, func(c CIFARConfig) (Source, error) { return NewCIFAR100(c) })
}

func parseCIFAR(p *params) (CIFARConfig, error) {
	var c CIFARConfig
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
	if c.Decoding, err = parseDecoding(p, "color"); err != nil {
		return c, err
	}
	return c, fileClient(p)
}

// NewCIFAR10 reads data_batch_1..5.bin (or test_batch.bin in test mode)
// and batches.meta.txt, if present, for the class names.
func NewCIFAR10(c CIFARConfig) (*CIFAR, error) { return openCIFAR(c, cifar10Format) }

// NewCIFAR100 reads train.bin (or test.bin) with the fine labels, and
// fine_label_names.txt, if present, for the class names.
func NewCIFAR100(c CIFARConfig) (*CIFAR, error) { return openCIFAR(c, cifar100Format) }

func openCIFAR(c CIFARConfig, f cifarFormat) (*CIFAR, error) {
	dir := filepath.Join(c.DataPrefix, f.folder)
	if _, err := os.Stat(dir); err != nil {
		// data_prefix may name the batches folder itself.
		if _, err2 := os.Stat(filepath.Join(c.DataPrefix, f.train[0])); err2 != nil {
			if _, err3 := os.Stat(filepath.Join(c.DataPrefix, f.test[0])); err3 != nil {
				return nil, fmt.Errorf("no %s folder: %w", f.folder, err)
			}
		}
		dir = c.DataPrefix
	}
	names := f.train
	if c.TestMode {
		names = f.test
	}
	s := &CIFAR{dec: c.Decoding, recSize: cifarPixels + 1 + f.labelSkip, skip: f.labelSkip}
	for _, n := range names {
		path := filepath.Join(dir, n)
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read CIFAR batch: %w", err)
		}
		if len(raw) == 0 || len(raw)%s.recSize != 0 {
			return nil, fmt.Errorf("%s: %d bytes is not a whole number of %d-byte records (truncated?)", path, len(raw), s.recSize)
		}
		cf := cifarFile{name: filepath.Join(filepath.Base(dir), n), raw: raw, first: len(s.labels)}
		for r := 0; r < len(raw); r += s.recSize {
			l := int(raw[r+f.labelSkip])
			if l >= f.classes {
				return nil, fmt.Errorf("%s: record %d has label %d, want < %d", path, r/s.recSize, l, f.classes)
			}
			s.labels = append(s.labels, l)
		}
		s.files = append(s.files, cf)
	}
	s.classes = c.Classes
	if s.classes == nil {
		names, err := readLines(filepath.Join(dir, f.meta))
		switch {
		case err == nil:
			for _, n := range names {
				if n = strings.TrimSpace(n); n != "" {
					s.classes = append(s.classes, n)
				}
			}
			if len(s.classes) != f.classes {
				return nil, fmt.Errorf("%s: %d class names, want %d", filepath.Join(dir, f.meta), len(s.classes), f.classes)
			}
		case os.IsNotExist(err):
			s.classes = f.defaults
		default:
			return nil, fmt.Errorf("read CIFAR class names: %w", err)
		}
	}
	if err := checkClasses(s.labels, s.classes, "classes"); err != nil {
		return nil, err
	}
	return s, nil
}

// Len is the number of records.
func (s *CIFAR) Len() int { return len(s.labels) }

// Labels returns the label of every record; do not mutate.
func (s *CIFAR) Labels() []int { return s.labels }

// ClassNames returns the class names, or nil for CIFAR-100 without its
// names file.
func (s *CIFAR) ClassNames() []string { return s.classes }

// Get returns record i as a 32×32 image (channel-planar in the file, HWC
// here), converted as the source's color_type and channel_order say.
func (s *CIFAR) Get(i int) (Sample, error) {
	if i < 0 || i >= len(s.labels) {
		return Sample{}, fmt.Errorf("data: index %d out of range [0, %d)", i, len(s.labels))
	}
	k := len(s.files) - 1
	for s.files[k].first > i {
		k--
	}
	f := s.files[k]
	rec := i - f.first
	pix := f.raw[rec*s.recSize+1+s.skip : (rec+1)*s.recSize]
	im := augment.NewImage(32, 32, 3)
	for p := 0; p < 1024; p++ {
		im.Pix[3*p] = pix[p]
		im.Pix[3*p+1] = pix[1024+p]
		im.Pix[3*p+2] = pix[2048+p]
	}
	return Sample{Index: i, Label: s.labels[i], Name: fmt.Sprintf("%s#%d", f.name, rec), Image: s.dec.convert(im)}, nil
}
