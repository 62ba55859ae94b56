package augment

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// checkComplete rejects JPEG and PNG files whose end is missing. libvips
// decodes these formats sequentially and stops at the last row a crop
// needs, so without this check a truncated file would fail for crops near
// its bottom and succeed for crops near its top: the same file would be
// skipped in one epoch and used in the next. Checking the end marker makes
// the verdict a property of the file, as it is for Decode (and for PIL,
// which decodes everything before cropping). It is a byte search, no
// decoding.
func checkComplete(buf []byte) error {
	switch {
	case len(buf) >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF:
		sos := jpegScanStart(buf)
		if sos < 0 || bytes.LastIndex(buf, []byte{0xFF, 0xD9}) < sos {
			return fmt.Errorf("%w: truncated: JPEG scan data has no end-of-image marker (%d bytes)", ErrBadImage, len(buf))
		}
	case bytes.HasPrefix(buf, []byte("\x89PNG\r\n\x1a\n")):
		if bytes.LastIndex(buf, []byte("IEND")) < 8 {
			return fmt.Errorf("%w: truncated: PNG has no IEND chunk (%d bytes)", ErrBadImage, len(buf))
		}
	}
	return nil
}

// jpegScanStart walks the marker segments after SOI, by their lengths (so
// an EXIF thumbnail's own markers inside APP1 are skipped), and returns the
// offset just after the first start-of-scan segment, or -1. Entropy-coded
// data stuffs every 0xFF as FF 00, so an FF D9 after that offset can only be
// a marker.
func jpegScanStart(buf []byte) int {
	i := 2
	for i+4 <= len(buf) {
		if buf[i] != 0xFF {
			return -1
		}
		m := buf[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		if m == 0x01 || (m >= 0xD0 && m <= 0xD7) { // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(buf[i+2:]))
		if n < 2 {
			return -1
		}
		i += 2 + n
		if m == 0xDA {
			if i > len(buf) {
				return -1
			}
			return i
		}
	}
	return -1
}
