package tree

// Map is a string-keyed map that remembers insertion order, so a config prints in the
// order it was written. The zero value is not usable; call NewMap.
type Map struct {
	keys []string
	vals map[string]any
}

// NewMap returns an empty Map.
func NewMap() *Map { return &Map{vals: map[string]any{}} }

// Len is the number of keys.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.keys)
}

// Keys returns the keys in insertion order (a copy).
func (m *Map) Keys() []string {
	if m == nil {
		return nil
	}
	return append([]string(nil), m.keys...)
}

// Get returns the value stored under k.
func (m *Map) Get(k string) (any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m.vals[k]
	return v, ok
}

// Has reports whether k is present.
func (m *Map) Has(k string) bool {
	_, ok := m.Get(k)
	return ok
}

// Set stores v under k; a new key goes last, an existing key keeps its position.
func (m *Map) Set(k string, v any) {
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

// Delete removes k and reports whether it was present.
func (m *Map) Delete(k string) bool {
	if _, ok := m.vals[k]; !ok {
		return false
	}
	delete(m.vals, k)
	for i, key := range m.keys {
		if key == k {
			m.keys = append(m.keys[:i], m.keys[i+1:]...)
			break
		}
	}
	return true
}

// Each calls fn for every entry in order until fn returns false.
func (m *Map) Each(fn func(k string, v any) bool) {
	if m == nil {
		return
	}
	for _, k := range m.keys {
		if !fn(k, m.vals[k]) {
			return
		}
	}
}

// Clone returns a deep copy of m.
func (m *Map) Clone() *Map {
	if m == nil {
		return nil
	}
	out := &Map{keys: append([]string(nil), m.keys...), vals: make(map[string]any, len(m.vals))}
	for k, v := range m.vals {
		out.vals[k] = Clone(v)
	}
	return out
}

// FromPairs builds a Map from alternating key, value arguments; it is meant for tests and
// literals in code. It panics on an odd count or a non-string key (programmer error).
func FromPairs(kv ...any) *Map {
	if len(kv)%2 != 0 {
		panic("tree: FromPairs needs key, value pairs")
	}
	m := NewMap()
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			panic("tree: FromPairs key is not a string")
		}
		m.Set(k, kv[i+1])
	}
	return m
}
