package eval

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// WriteNPY writes a little-endian float32 ("<f4") or int64 ("<i8") array
// of the given shape as a NumPy .npy file (format 1.0, C order), via a
// temporary file renamed into place. data is []float32 or []int64.
func WriteNPY(path string, shape []int, data any) error {
	var descr string
	n := 1
	for _, s := range shape {
		n *= s
	}
	switch d := data.(type) {
	case []float32:
		descr = "<f4"
		if len(d) != n {
			return fmt.Errorf("npy %s: %d values for shape %v", path, len(d), shape)
		}
	case []int64:
		descr = "<i8"
		if len(d) != n {
			return fmt.Errorf("npy %s: %d values for shape %v", path, len(d), shape)
		}
	default:
		return fmt.Errorf("npy %s: unsupported data %T", path, data)
	}
	dims := make([]string, len(shape))
	for i, s := range shape {
		dims[i] = fmt.Sprint(s)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	// Magic (6) + version (2) + header length (2) + header + "\n" padded to 64.
	pad := 64 - (10+len(header)+1)%64
	if pad == 64 {
		pad = 0
	}
	header += strings.Repeat(" ", pad) + "\n"
	var buf bytes.Buffer
	buf.WriteString("\x93NUMPY\x01\x00")
	_ = binary.Write(&buf, binary.LittleEndian, uint16(len(header)))
	buf.WriteString(header)
	_ = binary.Write(&buf, binary.LittleEndian, data)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".npy-*")
	if err != nil {
		return fmt.Errorf("npy %s: %w", path, err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("npy %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("npy %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}

// WriteFeaturesNPY writes f as PATH.npy (N×D float32) and its labels as
// PATH_labels.npy (int64).
func WriteFeaturesNPY(path string, f Features) error {
	if err := f.Validate(path); err != nil {
		return err
	}
	base := strings.TrimSuffix(path, ".npy")
	if err := WriteNPY(base+".npy", []int{f.N, f.D}, f.Data); err != nil {
		return err
	}
	l := make([]int64, f.N)
	for i, v := range f.Labels {
		l[i] = int64(v)
	}
	return WriteNPY(base+"_labels.npy", []int{f.N}, l)
}
