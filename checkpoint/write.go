package checkpoint

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

// archiveName is the folder torch.save puts records in when writing to a file object.
const archiveName = "archive"

// recordAlign is PyTorch's kFieldAlignment: record data starts at multiples of 64
// bytes so that a reader may map it in place.
const recordAlign = 64

// zipRecordWriter writes stored (uncompressed) zip records laid out as PyTorch's
// PyTorchStreamWriter does, tracking the offset to pad each record's data.
type zipRecordWriter struct {
	zw     *zip.Writer
	offset uint64
}

// paddingExtra is the "FB" extra field PyTorch uses to move data to the next
// 64-byte boundary after the local header (30 bytes), the name and the field's own 4 bytes.
func paddingExtra(offset uint64, nameLen int) []byte {
	start := offset + 30 + uint64(nameLen) + 4
	pad := (recordAlign - start%recordAlign) % recordAlign
	extra := make([]byte, 4+pad)
	extra[0], extra[1] = 'F', 'B'
	binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
	for i := 4; i < len(extra); i++ {
		extra[i] = 'Z'
	}
	return extra
}

func (z *zipRecordWriter) record(name string, data []byte) error {
	full := archiveName + "/" + name
	extra := paddingExtra(z.offset, len(full))
	fh := &zip.FileHeader{
		Name:               full,
		Method:             zip.Store,
		CRC32:              crc32.ChecksumIEEE(data),
		CompressedSize64:   uint64(len(data)),
		UncompressedSize64: uint64(len(data)),
		Extra:              extra,
	}
	w, err := z.zw.CreateRaw(fh)
	if err != nil {
		return fmt.Errorf("record %s: %w", full, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("record %s: %w", full, err)
	}
	z.offset += 30 + uint64(len(full)) + uint64(len(extra)) + uint64(len(data))
	return nil
}

// Write writes obj to w in torch.save's zip format (torch 1.13, pickle protocol 2),
// readable by Python's torch.load.
//
// obj may be nil, bool, any Go integer, *big.Int, float32/64, string, []byte,
// *Tensor, *Dict, Tuple, []any, typed slices of these, and map[string]any (written
// as a dict in sorted key order). Each tensor is written with its own storage.
func Write(w io.Writer, obj any) error {
	pkl, storages, err := encodePickle(obj)
	if err != nil {
		return fmt.Errorf("checkpoint write: %w", err)
	}
	zr := &zipRecordWriter{zw: zip.NewWriter(w)}
	if err := zr.record("data.pkl", pkl); err != nil {
		return fmt.Errorf("checkpoint write: %w", err)
	}
	for i, s := range storages {
		if err := zr.record("data/"+strconv.Itoa(i), s); err != nil {
			return fmt.Errorf("checkpoint write: %w", err)
		}
	}
	if err := zr.record("version", []byte("3\n")); err != nil {
		return fmt.Errorf("checkpoint write: %w", err)
	}
	if err := zr.zw.Close(); err != nil {
		return fmt.Errorf("checkpoint write: %w", err)
	}
	return nil
}

// WriteFile writes obj to path atomically: the data goes to a temporary file in
// the same directory, which is synced and renamed over path, and the directory is
// synced. A reader of path sees the old file or the new one, never a part; on
// error path is untouched and the temporary file removed.
func WriteFile(path string, obj any) error {
	return writeFileWith(path, func(w io.Writer) error { return Write(w, obj) })
}

func writeFileWith(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("save %s: sync: %w", path, err)
	}
	// CreateTemp makes the file 0600; checkpoints are ordinary data files.
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		// The file is complete and in place; only its durability across a crash is in doubt.
		return fmt.Errorf("save %s: sync directory: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrInvalid) {
		return nil // some file systems cannot sync a directory
	}
	return err
}
