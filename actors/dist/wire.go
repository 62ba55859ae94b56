package dist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

// kind tags a framed message.
type kind byte

const (
	kHello     kind = iota + 1 // joiner → coordinator: token, rank wanted, world, address
	kWelcome                   // coordinator → member: session, member list, settings, payload
	kRefused                   // coordinator → joiner: reason
	kHeartbeat                 // member → member
	kBye                       // member → member: finished cleanly
	kAbort                     // member → member: failed, with the reason
	kPart                      // member → bucket owner: one rank's share of a bucket
	kSum                       // bucket owner → member: the reduced bucket
	kChunk                     // rank 0 → member: a piece of a broadcast
	kRow                       // member → member: one rank's row of an all-gather
)

func (k kind) String() string {
	names := [...]string{"?", "hello", "welcome", "refused", "heartbeat", "bye", "abort", "part", "sum", "chunk", "row"}
	if int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

// frame is the union of every message's fields; each kind uses a subset.
type frame struct {
	Kind    kind
	Session uint64
	Rank    int32  // sender's rank (Hello: the rank asked for, -1 any)
	World   int32  // Hello, Welcome
	Seq     uint64 // collective number
	Index   int32  // bucket, chunk or row index
	Count   int32  // Chunk: chunks in all
	Total   int64  // Part/Sum/Row: elements in the whole buffer; Chunk: bytes
	Text    string // Hello: token; Refused/Abort: reason
	Addr    string // Hello: joiner's address
	Addrs   []string
	Ints    []int64   // Welcome: bucket elements, heartbeat and timeout in ms
	Floats  []float32 // Part, Sum, Row
	Bytes   []byte    // Welcome: payload; Chunk: data
}

// encode frames f into a BytesValue.
func (f *frame) encode() *wrapperspb.BytesValue {
	n := 64 + len(f.Text) + len(f.Addr) + 4*len(f.Floats) + len(f.Bytes) + 8*len(f.Ints)
	for _, a := range f.Addrs {
		n += 4 + len(a)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(f.Kind))
	b = binary.LittleEndian.AppendUint64(b, f.Session)
	b = binary.LittleEndian.AppendUint32(b, uint32(f.Rank))
	b = binary.LittleEndian.AppendUint32(b, uint32(f.World))
	b = binary.LittleEndian.AppendUint64(b, f.Seq)
	b = binary.LittleEndian.AppendUint32(b, uint32(f.Index))
	b = binary.LittleEndian.AppendUint32(b, uint32(f.Count))
	b = binary.LittleEndian.AppendUint64(b, uint64(f.Total))
	b = appendBytes(b, []byte(f.Text))
	b = appendBytes(b, []byte(f.Addr))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Addrs)))
	for _, a := range f.Addrs {
		b = appendBytes(b, []byte(a))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Ints)))
	for _, v := range f.Ints {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Floats)))
	b = appendFloats(b, f.Floats)
	b = appendBytes(b, f.Bytes)
	return wrapperspb.Bytes(b)
}

func appendBytes(b, s []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

var errShort = errors.New("dist: truncated message")

type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = errShort
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}
func (r *reader) u32() uint32 {
	s := r.take(4)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(s)
}
func (r *reader) u64() uint64 {
	s := r.take(8)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(s)
}
func (r *reader) bytes() []byte { return r.take(int(r.u32())) }

// decode parses a framed message.
func decode(b []byte) (*frame, error) {
	if len(b) == 0 {
		return nil, errShort
	}
	f := &frame{Kind: kind(b[0])}
	r := &reader{b: b[1:]}
	f.Session = r.u64()
	f.Rank = int32(r.u32())
	f.World = int32(r.u32())
	f.Seq = r.u64()
	f.Index = int32(r.u32())
	f.Count = int32(r.u32())
	f.Total = int64(r.u64())
	f.Text = string(r.bytes())
	f.Addr = string(r.bytes())
	if n := int(r.u32()); r.err == nil && n <= len(r.b)/4 {
		for i := 0; i < n; i++ {
			f.Addrs = append(f.Addrs, string(r.bytes()))
		}
	} else {
		r.err = errShort
	}
	if n := int(r.u32()); r.err == nil && n <= len(r.b)/8 {
		for i := 0; i < n; i++ {
			f.Ints = append(f.Ints, int64(r.u64()))
		}
	} else {
		r.err = errShort
	}
	if n := int(r.u32()); r.err == nil && n <= len(r.b)/4 {
		if raw := r.take(4 * n); raw != nil {
			f.Floats = floatsOf(raw)
		}
	} else {
		r.err = errShort
	}
	if bs := r.bytes(); len(bs) > 0 {
		f.Bytes = append([]byte(nil), bs...)
	}
	if r.err != nil {
		return nil, fmt.Errorf("%s: %w", f.Kind, r.err)
	}
	if f.Kind < kHello || f.Kind > kRow {
		return nil, fmt.Errorf("dist: unknown message kind %d", byte(f.Kind))
	}
	return f, nil
}

// littleEndian says whether float32s can be copied as they lie in memory.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// appendFloats appends v as little-endian float32s: one copy on
// little-endian hosts (gradients are tens of MB per step).
func appendFloats(b []byte, v []float32) []byte {
	if littleEndian && len(v) > 0 {
		return append(b, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))...)
	}
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// floatsOf decodes little-endian float32s into a new slice.
func floatsOf(raw []byte) []float32 {
	out := make([]float32, len(raw)/4)
	if littleEndian && len(out) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(raw)), raw)
		return out
	}
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}
