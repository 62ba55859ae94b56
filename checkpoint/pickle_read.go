package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// pyGlobal is a module attribute named by GLOBAL or STACK_GLOBAL, resolved
// against the allow-list when it is called.
type pyGlobal struct{ module, name string }

func (g pyGlobal) String() string { return g.module + "." + g.name }

// pyList is a list while unpickling: APPEND mutates it after it may have been
// memoised, so it needs identity; finish turns it into []any.
type pyList struct{ items []any }

// pyMark is the MARK sentinel on the stack.
type pyMark struct{}

// unpickler decodes one pickle from data starting at pos. It implements the
// opcodes of protocols 0 to 5 that carry plain data; sets, extension registry
// codes and out-of-band buffers are rejected.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[int64]any

	// persistentLoad resolves BINPERSID ids (torch storages).
	persistentLoad func(pid any) (any, error)
	// call runs an allow-listed callable for REDUCE and NEWOBJ.
	call func(fn pyGlobal, args Tuple) (any, error)
}

var errTruncated = errors.New("pickle ends early")

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readLine() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:], '\n')
	if i < 0 {
		return "", errTruncated
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) readLen(width int) (int, error) {
	b, err := u.read(width)
	if err != nil {
		return 0, err
	}
	var n uint64
	switch width {
	case 1:
		n = uint64(b[0])
	case 4:
		n = uint64(binary.LittleEndian.Uint32(b))
	case 8:
		n = binary.LittleEndian.Uint64(b)
	}
	if n > uint64(len(u.data)-u.pos) {
		return 0, errTruncated
	}
	return int(n), nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) <= u.marks[len(u.marks)-1]) {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := slices.Clone(u.stack[m:])
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoGet(i int64) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo key %d not defined", i)
	}
	u.push(v)
	return nil
}

func (u *unpickler) memoPut(i int64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if i < 0 {
		return fmt.Errorf("negative memo key %d", i)
	}
	u.memo[i] = v
	return nil
}

// decodeLong decodes LONG1/LONG4's little-endian two's complement.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var x uint64
		for i := len(b) - 1; i >= 0; i-- {
			x = x<<8 | uint64(b[i])
		}
		shift := 64 - 8*uint(len(b))
		return int64(x<<shift) >> shift
	}
	be := slices.Clone(b)
	slices.Reverse(be)
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// load runs the pickle machine to STOP and returns the top of the stack.
func (u *unpickler) load() (any, error) {
	if u.memo == nil {
		u.memo = make(map[int64]any)
	}
	for {
		start := u.pos
		b, err := u.read(1)
		if err != nil {
			return nil, fmt.Errorf("at byte %d: %w", start, err)
		}
		op := b[0]
		done, err := u.step(op)
		if err != nil {
			return nil, fmt.Errorf("at byte %d (opcode %s): %w", start, opName(op), err)
		}
		if done {
			v, err := u.pop()
			if err != nil || len(u.stack) != 0 || len(u.marks) != 0 {
				return nil, fmt.Errorf("at byte %d: STOP with %d values and %d marks left on the stack", start, len(u.stack), len(u.marks))
			}
			return v, nil
		}
	}
}

func opName(op byte) string {
	if op >= 0x20 && op < 0x7f {
		return strconv.QuoteRune(rune(op))
	}
	return fmt.Sprintf("0x%02x", op)
}

// step executes one opcode; done is true at STOP.
func (u *unpickler) step(op byte) (done bool, err error) {
	switch op {
	case opProto:
		v, err := u.read(1)
		if err != nil {
			return false, err
		}
		if v[0] > 5 {
			return false, fmt.Errorf("pickle protocol %d not supported", v[0])
		}
	case opFrame:
		_, err = u.read(8) // frames only group bytes; data is already in memory
	case opStop:
		return true, nil
	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		if len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1] {
			u.marks = u.marks[:len(u.marks)-1] // Python's POP discards a MARK on top
		} else {
			_, err = u.pop()
		}
	case opPopMark:
		_, err = u.popMark()
	case opDup:
		var v any
		if v, err = u.top(); err == nil {
			u.push(v)
		}
	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt1:
		var b []byte
		if b, err = u.read(1); err == nil {
			u.push(int64(b[0]))
		}
	case opBinInt2:
		var b []byte
		if b, err = u.read(2); err == nil {
			u.push(int64(binary.LittleEndian.Uint16(b)))
		}
	case opBinInt:
		var b []byte
		if b, err = u.read(4); err == nil {
			u.push(int64(int32(binary.LittleEndian.Uint32(b))))
		}
	case opLong1, opLong4:
		width := 1
		if op == opLong4 {
			width = 4
		}
		var n int
		if n, err = u.readLen(width); err == nil {
			b, _ := u.read(n)
			u.push(decodeLong(b))
		}
	case opInt, opLong:
		err = u.textInt(op)
	case opFloat:
		var s string
		if s, err = u.readLine(); err == nil {
			var f float64
			if f, err = strconv.ParseFloat(s, 64); err == nil {
				u.push(f)
			}
		}
	case opBinFloat:
		var b []byte
		if b, err = u.read(8); err == nil {
			u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		}
	case opBinUnicode, opShortBinUni, opBinUnicode8, opBinString, opShortBinString:
		width := map[byte]int{opBinUnicode: 4, opShortBinUni: 1, opBinUnicode8: 8, opBinString: 4, opShortBinString: 1}[op]
		var n int
		if n, err = u.readLen(width); err == nil {
			b, _ := u.read(n)
			u.push(string(b))
		}
	case opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		width := map[byte]int{opBinBytes: 4, opShortBinBytes: 1, opBinBytes8: 8, opByteArray8: 8}[op]
		var n int
		if n, err = u.readLen(width); err == nil {
			b, _ := u.read(n)
			u.push(slices.Clone(b))
		}
	case opUnicode:
		var s string
		if s, err = u.readLine(); err == nil {
			u.push(s) // raw-unicode-escape: \uXXXX escapes are left as written
		}
	case opString:
		var s string
		if s, err = u.readLine(); err == nil {
			var q string
			if q, err = strconv.Unquote(strings.Replace(s, "'", "\"", -1)); err != nil {
				err = fmt.Errorf("bad STRING literal %q", s)
			} else {
				u.push(q)
			}
		}
	case opEmptyList:
		u.push(&pyList{})
	case opList:
		var items []any
		if items, err = u.popMark(); err == nil {
			u.push(&pyList{items: items})
		}
	case opAppend:
		var v any
		if v, err = u.pop(); err == nil {
			err = u.appendTo([]any{v})
		}
	case opAppends:
		var items []any
		if items, err = u.popMark(); err == nil {
			err = u.appendTo(items)
		}
	case opEmptyTuple:
		u.push(Tuple{})
	case opTuple:
		var items []any
		if items, err = u.popMark(); err == nil {
			u.push(Tuple(items))
		}
	case opTuple1, opTuple2, opTuple3:
		n := int(op-opTuple1) + 1
		t := make(Tuple, n)
		for i := n - 1; i >= 0 && err == nil; i-- {
			t[i], err = u.pop()
		}
		u.push(t)
	case opEmptyDict:
		u.push(NewDict())
	case opDict:
		var items []any
		if items, err = u.popMark(); err == nil {
			d := NewDict()
			u.push(d)
			err = setItems(d, items)
		}
	case opSetItem:
		var k, v any
		if v, err = u.pop(); err == nil {
			if k, err = u.pop(); err == nil {
				err = u.setItems([]any{k, v})
			}
		}
	case opSetItems:
		var items []any
		if items, err = u.popMark(); err == nil {
			err = u.setItems(items)
		}
	case opGlobal:
		var mod, name string
		if mod, err = u.readLine(); err == nil {
			if name, err = u.readLine(); err == nil {
				u.push(pyGlobal{mod, name})
			}
		}
	case opStackGlobal:
		var mod, name any
		if name, err = u.pop(); err == nil {
			if mod, err = u.pop(); err == nil {
				ms, ok1 := mod.(string)
				ns, ok2 := name.(string)
				if !ok1 || !ok2 {
					return false, errors.New("STACK_GLOBAL needs two strings")
				}
				u.push(pyGlobal{ms, ns})
			}
		}
	case opReduce, opNewObj:
		err = u.reduce()
	case opBuild:
		err = u.build()
	case opBinPersID, opPersID:
		var pid any
		if op == opPersID {
			pid, err = u.readLine()
		} else {
			pid, err = u.pop()
		}
		if err == nil {
			if u.persistentLoad == nil {
				return false, errors.New("persistent id outside a torch archive")
			}
			var v any
			if v, err = u.persistentLoad(pid); err == nil {
				u.push(v)
			}
		}
	case opBinGet:
		var b []byte
		if b, err = u.read(1); err == nil {
			err = u.memoGet(int64(b[0]))
		}
	case opLongBinGet:
		var b []byte
		if b, err = u.read(4); err == nil {
			err = u.memoGet(int64(binary.LittleEndian.Uint32(b)))
		}
	case opGet:
		var s string
		if s, err = u.readLine(); err == nil {
			var i int64
			if i, err = strconv.ParseInt(s, 10, 64); err == nil {
				err = u.memoGet(i)
			}
		}
	case opBinPut:
		var b []byte
		if b, err = u.read(1); err == nil {
			err = u.memoPut(int64(b[0]))
		}
	case opLongBinPut:
		var b []byte
		if b, err = u.read(4); err == nil {
			err = u.memoPut(int64(binary.LittleEndian.Uint32(b)))
		}
	case opPut:
		var s string
		if s, err = u.readLine(); err == nil {
			var i int64
			if i, err = strconv.ParseInt(s, 10, 64); err == nil {
				err = u.memoPut(i)
			}
		}
	case opMemoize:
		err = u.memoPut(int64(len(u.memo)))
	default:
		return false, errors.New("unsupported opcode")
	}
	return false, err
}

func (u *unpickler) textInt(op byte) error {
	s, err := u.readLine()
	if err != nil {
		return err
	}
	s = strings.TrimSuffix(s, "L")
	switch {
	case op == opInt && s == "00":
		u.push(false)
		return nil
	case op == opInt && s == "01":
		u.push(true)
		return nil
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return fmt.Errorf("bad integer literal %q", s)
	}
	if v.IsInt64() {
		u.push(v.Int64())
	} else {
		u.push(v)
	}
	return nil
}

func (u *unpickler) appendTo(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	l, ok := v.(*pyList)
	if !ok {
		return fmt.Errorf("APPEND to %s", typeName(v))
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItems(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	d, ok := v.(*Dict)
	if !ok {
		return fmt.Errorf("SETITEM on %s", typeName(v))
	}
	return setItems(d, items)
}

func setItems(d *Dict, items []any) error {
	if len(items)%2 != 0 {
		return errors.New("odd number of items for a dict")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func (u *unpickler) reduce() error {
	args, err := u.pop()
	if err != nil {
		return err
	}
	fn, err := u.pop()
	if err != nil {
		return err
	}
	g, ok := fn.(pyGlobal)
	if !ok {
		return fmt.Errorf("call of %s, not a global", typeName(fn))
	}
	t, ok := args.(Tuple)
	if !ok {
		return fmt.Errorf("%s called with %s, not a tuple", g, typeName(args))
	}
	v, err := u.call(g, t)
	if err != nil {
		return fmt.Errorf("%s: %w", g, err)
	}
	u.push(v)
	return nil
}

// build applies BUILD's state: an OrderedDict keeps its instance attributes (the
// "_metadata" of a state_dict) in Attrs; a tensor accepts an empty state.
func (u *unpickler) build() error {
	state, err := u.pop()
	if err != nil {
		return err
	}
	obj, err := u.top()
	if err != nil {
		return err
	}
	switch o := obj.(type) {
	case *Dict:
		st, ok := state.(*Dict)
		if !o.Ordered || !ok {
			return fmt.Errorf("BUILD of %s with %s", typeName(obj), typeName(state))
		}
		if o.Attrs == nil {
			o.Attrs = NewDict()
		}
		for k, v := range st.All() {
			if err := o.Attrs.set(k, v); err != nil {
				return err
			}
		}
		return nil
	case *npDType:
		return o.build(state)
	case *Tensor:
		if state == nil {
			return nil
		}
		if st, ok := state.(*Dict); ok && st.Len() == 0 {
			return nil
		}
	}
	return fmt.Errorf("BUILD of %s with %s not supported", typeName(obj), typeName(state))
}

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case *pyList:
		return "list"
	case Tuple:
		return "tuple"
	case *Dict:
		if x.Ordered {
			return "OrderedDict"
		}
		return "dict"
	case pyGlobal:
		return x.String()
	case *Tensor:
		return "tensor"
	case *storageRef:
		return "storage"
	case string:
		return "str"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case []byte:
		return "bytes"
	}
	return fmt.Sprintf("%T", v)
}

// maxValues bounds the values a pickle may expand to. The memo lets a small
// pickle refer to one list many times, nesting to an exponential number of
// values; real checkpoints hold thousands.
const maxValues = 10_000_000

// finish replaces the unpickler's internal values by the package's public ones:
// lists become []any, and values that only make sense inside the pickle (storages,
// class references) are errors naming where they are.
func finish(v any, path *valuePath, seen map[any]bool) (any, error) {
	budget := maxValues
	return finishN(v, path, seen, &budget)
}

func finishN(v any, path *valuePath, seen map[any]bool, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, fmt.Errorf("%s: more than %d values through shared references", path, maxValues)
	}
	switch x := v.(type) {
	case *pyList:
		if seen[x] {
			return nil, fmt.Errorf("%s: list contains itself", path)
		}
		seen[x] = true
		out := make([]any, len(x.items))
		for i, e := range x.items {
			var err error
			if out[i], err = finishN(e, path.at(i), seen, budget); err != nil {
				return nil, err
			}
		}
		delete(seen, x)
		return out, nil
	case Tuple:
		out := make(Tuple, len(x))
		for i, e := range x {
			var err error
			if out[i], err = finishN(e, path.at(i), seen, budget); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *Dict:
		if seen[x] {
			return x, nil // shared or recursive dict, already being converted
		}
		seen[x] = true
		for i, e := range x.vals {
			var err error
			if x.vals[i], err = finishN(e, path.at(x.keys[i]), seen, budget); err != nil {
				return nil, err
			}
		}
		if x.Attrs != nil {
			if _, err := finishN(x.Attrs, path.with(".__dict__"), seen, budget); err != nil {
				return nil, err
			}
		}
		return x, nil
	case pyGlobal:
		return nil, fmt.Errorf("%s: reference to %s is not data", path, x)
	case *storageRef:
		return nil, fmt.Errorf("%s: bare storage outside a tensor is not supported", path)
	case *npDType:
		return nil, fmt.Errorf("%s: numpy dtype %s outside a scalar is not supported", path, x.code)
	}
	return v, nil
}
