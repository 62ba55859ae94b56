package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path"
	"strings"
)

// ErrLegacyTar is returned for the tar-based format of PyTorch before 0.4.
var ErrLegacyTar = errors.New("legacy tar checkpoint format (PyTorch < 0.4) not supported")

// legacyMagic is torch.serialization.MAGIC_NUMBER, the first pickle of a legacy
// (non-zip, _use_new_zipfile_serialization=False) file.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

const legacyProtocol = 1001

// ReadFile reads a file written by torch.save (zip or legacy format) or by WriteFile.
func ReadFile(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	v, err := read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return v, nil
}

// Read reads a torch.save stream of size bytes from r.
//
// The result is built from nil, bool, int64 (*big.Int beyond 64 bits), float64,
// string, []byte, []any (list), Tuple (tuple and torch.Size), *Dict (dict and
// OrderedDict) and *Tensor (contiguous, Stride nil). Tensors sharing a storage in
// the file get their own copies of the data. Pickle globals other than torch's
// tensor and storage rebuilders, OrderedDict, torch.Size and bytes are refused.
func Read(r io.ReaderAt, size int64) (any, error) {
	v, err := read(r, size)
	if err != nil {
		return nil, fmt.Errorf("checkpoint read: %w", err)
	}
	return v, nil
}

func read(r io.ReaderAt, size int64) (any, error) {
	var head [512]byte
	n, err := r.ReadAt(head[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	h := head[:n]
	switch {
	case bytes.HasPrefix(h, []byte("PK\x03\x04")) || bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return readZip(r, size)
	case bytes.HasPrefix(h, []byte{opProto, 2, opLong1, 10}):
		return readLegacy(r, size)
	case n >= 262 && string(h[257:262]) == "ustar":
		return nil, ErrLegacyTar
	case n == 0:
		return nil, errors.New("empty file")
	}
	return nil, errors.New("not a PyTorch checkpoint (neither a zip archive nor the legacy pickle format)")
}

func readZip(r io.ReaderAt, size int64) (any, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("zip archive: %w", err)
	}
	records := make(map[string]*zip.File, len(zr.File))
	prefix := ""
	for _, f := range zr.File {
		records[f.Name] = f
		dir, base := path.Split(f.Name)
		if base == "data.pkl" && strings.Count(dir, "/") == 1 && prefix == "" {
			prefix = dir
		}
	}
	if prefix == "" {
		return nil, errors.New("zip archive has no <archive>/data.pkl record")
	}
	if _, ok := records[prefix+"constants.pkl"]; ok {
		return nil, errors.New("TorchScript archive (torch.jit.save); not supported")
	}
	if f, ok := records[prefix+"byteorder"]; ok {
		b, err := readRecord(f, 16, size)
		if err != nil {
			return nil, err
		}
		if string(b) != "little" {
			return nil, fmt.Errorf("byte order %q not supported", b)
		}
	}
	pkl, err := readRecord(records[prefix+"data.pkl"], -1, size)
	if err != nil {
		return nil, err
	}
	ctx := &loadContext{storages: map[string]*storageRef{}, views: map[string]*storageRef{}}
	u := &unpickler{data: pkl, persistentLoad: ctx.persistentLoad, call: ctx.call}
	v, err := u.load()
	if err != nil {
		return nil, fmt.Errorf("%sdata.pkl: %w", prefix, err)
	}
	for key, s := range ctx.storages {
		name := prefix + "data/" + key
		f, ok := records[name]
		if !ok {
			return nil, fmt.Errorf("record %s missing", name)
		}
		nbytes := s.numel * int64(s.dtype.Size())
		if s.data, err = readRecord(f, nbytes, size); err != nil {
			return nil, err
		}
	}
	if err := ctx.complete(); err != nil {
		return nil, err
	}
	return finish(v, rootPath("obj"), map[any]bool{})
}

// readRecord reads a zip record, checking its CRC. want >= 0 is the exact size
// expected; the allocation is bounded by the archive size for stored records.
func readRecord(f *zip.File, want int64, archiveSize int64) ([]byte, error) {
	if want >= 0 && f.UncompressedSize64 != uint64(want) {
		return nil, fmt.Errorf("record %s has %d bytes, want %d", f.Name, f.UncompressedSize64, want)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	defer rc.Close()
	var b []byte
	if f.Method == zip.Store && f.UncompressedSize64 <= uint64(archiveSize) {
		b = make([]byte, f.UncompressedSize64)
		if _, err = io.ReadFull(rc, b); err == nil {
			// Reading past the end makes archive/zip verify the CRC.
			var one [1]byte
			if n, rerr := rc.Read(one[:]); n != 0 || !errors.Is(rerr, io.EOF) {
				err = rerr
				if err == nil {
					err = errors.New("longer than its declared size")
				}
			}
		}
	} else {
		limit := int64(1) << 62
		if want >= 0 {
			limit = want + 1
		}
		b, err = io.ReadAll(io.LimitReader(rc, limit))
		if err == nil && want >= 0 && int64(len(b)) != want {
			err = fmt.Errorf("has %d bytes, want %d", len(b), want)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", f.Name, err)
	}
	return b, nil
}

// readLegacy reads torch.save(..., _use_new_zipfile_serialization=False): pickles
// of the magic number, protocol version, system info, the object and the sorted
// storage keys, then each storage as an int64 element count and its raw bytes.
func readLegacy(r io.ReaderAt, size int64) (any, error) {
	data := make([]byte, size)
	if _, err := r.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	ctx := &loadContext{storages: map[string]*storageRef{}, views: map[string]*storageRef{}}
	next := func(what string, pos int) (any, int, error) {
		u := &unpickler{data: data, pos: pos, persistentLoad: ctx.persistentLoad, call: ctx.call}
		v, err := u.load()
		if err != nil {
			return nil, 0, fmt.Errorf("legacy format %s: %w", what, err)
		}
		return v, u.pos, nil
	}
	magic, pos, err := next("magic number", 0)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, errors.New("legacy format: bad magic number")
	}
	proto, pos, err := next("protocol version", pos)
	if err != nil {
		return nil, err
	}
	if proto != int64(legacyProtocol) {
		return nil, fmt.Errorf("legacy format: protocol version %v, want %d", proto, legacyProtocol)
	}
	info, pos, err := next("system info", pos)
	if err != nil {
		return nil, err
	}
	if d, ok := info.(*Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le != true {
			return nil, errors.New("legacy format: big-endian files not supported")
		}
	}
	obj, pos, err := next("object", pos)
	if err != nil {
		return nil, err
	}
	keysV, pos, err := next("storage keys", pos)
	if err != nil {
		return nil, err
	}
	keys, ok := keysV.(*pyList)
	if !ok {
		return nil, fmt.Errorf("legacy format: storage keys are %s, not a list", typeName(keysV))
	}
	for _, k := range keys.items {
		key, ok := asString(k)
		if !ok {
			return nil, fmt.Errorf("legacy format: storage key is %s", typeName(k))
		}
		s, ok := ctx.storages[key]
		if !ok {
			return nil, fmt.Errorf("legacy format: storage %s listed but not used", key)
		}
		if len(data)-pos < 8 {
			return nil, fmt.Errorf("legacy format: storage %s: file ends early", key)
		}
		n := int64(binary.LittleEndian.Uint64(data[pos:]))
		pos += 8
		if n != s.numel {
			return nil, fmt.Errorf("legacy format: storage %s has %d elements, pickle says %d", key, n, s.numel)
		}
		nbytes := n * int64(s.dtype.Size())
		if nbytes > int64(len(data)-pos) {
			return nil, fmt.Errorf("legacy format: storage %s: file ends early", key)
		}
		s.data = data[pos : pos+int(nbytes) : pos+int(nbytes)]
		pos += int(nbytes)
	}
	if err := ctx.complete(); err != nil {
		return nil, fmt.Errorf("legacy format: %w", err)
	}
	return finish(obj, rootPath("obj"), map[any]bool{})
}
