package ram

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
)

// OptInt is an integer key of metadata.json whose absence the platform reads differently from
// 0 (memory, cpu, the extend_method_map keys: docs/ram-format.md §8.5). Its zero value is an
// absent key; a key holding null is kept as null; Some(n) holds n. Fields of this type are
// tagged omitzero, so an absent key stays absent when the template is written back.
type OptInt struct {
	n     int
	state optState
}

type optState uint8

const (
	optAbsent optState = iota
	optNull
	optSet
)

// Some is a present key holding n.
func Some(n int) OptInt { return OptInt{n: n, state: optSet} }

// Value is the number the key holds, and whether it holds one (false: absent or null).
func (o OptInt) Value() (int, bool) { return o.n, o.state == optSet }

// Int is the number the key holds, 0 when absent or null: what Go's encoding/json (and so the
// platform importer's structs) decode it to.
func (o OptInt) Int() int { return o.n }

// Present reports whether the key is in the document at all (a number or null).
func (o OptInt) Present() bool { return o.state != optAbsent }

// IsZero reports an absent key (omitzero leaves it out).
func (o OptInt) IsZero() bool { return o.state == optAbsent }

// String is the value for messages: the number, "null" or "absent".
func (o OptInt) String() string {
	switch o.state {
	case optSet:
		return strconv.Itoa(o.n)
	case optNull:
		return "null"
	}
	return "absent"
}

// MarshalJSON writes the number, or null (also for an absent key, which omitzero leaves out).
func (o OptInt) MarshalJSON() ([]byte, error) {
	if o.state != optSet {
		return []byte("null"), nil
	}
	return strconv.AppendInt(nil, int64(o.n), 10), nil
}

// UnmarshalJSON reads a number into an int, as strictly as encoding/json does (a string, a
// fraction or an out-of-range number is an *json.UnmarshalTypeError), or null.
func (o *OptInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*o = OptInt{state: optNull}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*o = Some(n)
	return nil
}

// RawJSON is a value kept exactly as the document has it, whatever its JSON type (compacted, so
// that decoding what airpack encodes gives back the same value): for legacy keys the platform
// reads loosely.
type RawJSON []byte

// MarshalJSON writes the value (null when empty; omitempty leaves an empty one out).
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps the value, compacted.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*r = buf.Bytes()
	return nil
}

// Int reads the value as the importer does (metadataValueToInt): a number (truncated), true as
// 1; anything else, like an absent key, 0. ok reports whether the key is present.
func (r RawJSON) Int() (n int, ok bool) {
	if len(r) == 0 {
		return 0, false
	}
	var v any
	if json.Unmarshal(r, &v) != nil {
		return 0, true
	}
	switch t := v.(type) {
	case float64:
		return int(t), true
	case bool:
		if t {
			return 1, true
		}
	}
	return 0, true
}

var (
	optIntType  = reflect.TypeFor[OptInt]()
	rawJSONType = reflect.TypeFor[RawJSON]()
	intType     = reflect.TypeFor[int]()
)
