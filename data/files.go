package data

import (
	"fmt"
	"os"
	"path/filepath"
)

// Files is a source of encoded image files: a path and a label per sample,
// read from disk at Get time. ImageNet and ImageList build it.
type Files struct {
	prefix  string
	names   []string // relative to prefix (or absolute)
	labels  []int
	classes []string
	dec     Decoding
}

var (
	_ Source  = (*Files)(nil)
	_ Decoder = (*Files)(nil)
)

// Len is the number of files.
func (f *Files) Len() int { return len(f.names) }

// Labels returns the label of every file (-1 unlabelled); do not mutate.
func (f *Files) Labels() []int { return f.labels }

// ClassNames returns the class names, or nil.
func (f *Files) ClassNames() []string { return f.classes }

// Decoding says how the files are to be decoded.
func (f *Files) Decoding() Decoding { return f.dec }

// Path returns the file of sample i as Get reads it: MMSelfSup's
// os.path.join(data_prefix, filename), so an absolute filename ignores the
// prefix.
func (f *Files) Path(i int) string {
	n := f.names[i]
	if f.prefix == "" || filepath.IsAbs(n) {
		return n
	}
	return filepath.Join(f.prefix, n)
}

// Get reads file i. A missing or unreadable file is an error naming it.
func (f *Files) Get(i int) (Sample, error) {
	if i < 0 || i >= len(f.names) {
		return Sample{}, fmt.Errorf("data: index %d out of range [0, %d)", i, len(f.names))
	}
	path := f.Path(i)
	b, err := os.ReadFile(path)
	if err != nil {
		return Sample{}, fmt.Errorf("data: sample %d: %w", i, err)
	}
	return Sample{Index: i, Label: f.labels[i], Name: path, Bytes: b}, nil
}
