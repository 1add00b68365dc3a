package ram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// MetadataError is a problem with metadata.json: where it is and what is wrong. Error gives one
// line, e.g.
//
//	metadata.json: apps[1].port_map_list[0].container_port: want a number, got string "80"
type MetadataError struct {
	// Path is the key path (apps[1].port_map_list[0].container_port) or, for a component-level
	// problem, the component (apps[2] (service_cname "db")); empty for the file as a whole.
	Path    string
	Problem string
}

func (e *MetadataError) Error() string {
	if e.Path == "" {
		return "metadata.json: " + e.Problem
	}
	return "metadata.json: " + e.Path + ": " + e.Problem
}

// DecodeMetadata decodes metadata.json as strictly as the platform importer does (Go's
// encoding/json into typed structs: a value of the wrong JSON type fails, unknown keys are
// dropped, null is the zero value), then normalizes it (see Template.Normalize) and validates it
// (see Template.Validate). Errors are *MetadataError values naming the key path of the problem.
func DecodeMetadata(b []byte) (*Template, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &MetadataError{Problem: "the file is empty: want a JSON object"}
	}
	if bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) {
		return nil, &MetadataError{Problem: "the file starts with a UTF-8 byte order mark, which Go's JSON decoder (and so the platform importer) rejects: save it without one"}
	}
	var t Template
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, describeJSONError(b, err)
	}
	t.Normalize()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Validate checks what the importer and airpack need of a decoded template: components (or
// Kubernetes resources) to install, a share_image for each component and plugin (the name its
// image is found under), and distinct service_keys.
func (t *Template) Validate() error {
	if len(t.Apps) == 0 && len(t.K8sResources) == 0 {
		return &MetadataError{Problem: "apps is empty: the template has no components"}
	}
	keys := make(map[string]int, len(t.Apps))
	for i := range t.Apps {
		c := &t.Apps[i]
		where := componentLabel(i, c)
		if err := checkShareImage(where, c.ShareImage); err != nil {
			return err
		}
		if c.ServiceKey == "" {
			continue
		}
		if j, dup := keys[c.ServiceKey]; dup {
			return &MetadataError{Path: where, Problem: fmt.Sprintf("service_key %s is also the service_key of %s: each component needs its own", quote(c.ServiceKey), componentLabel(j, &t.Apps[j]))}
		}
		keys[c.ServiceKey] = i
	}
	for i := range t.Plugins {
		p := &t.Plugins[i]
		where := "plugins[" + itoa(i) + "]"
		if p.PluginName != "" {
			where += " (plugin_name " + quote(p.PluginName) + ")"
		}
		if err := checkShareImage(where, p.ShareImage); err != nil {
			return err
		}
	}
	return nil
}

func checkShareImage(where, ref string) error {
	if strings.TrimSpace(ref) == "" {
		return &MetadataError{Path: where, Problem: "share_image is empty"}
	}
	if _, err := name.ParseReference(ref, name.WeakValidation); err != nil {
		return &MetadataError{Path: where, Problem: fmt.Sprintf("share_image %s is not an image reference: %v", quote(ref), err)}
	}
	return nil
}

// describeJSONError turns an encoding/json error into a *MetadataError with a key path.
func describeJSONError(b []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := position(b, syn.Offset)
		return &MetadataError{Problem: fmt.Sprintf("not valid JSON: %v (line %d, column %d)", syn, line, col)}
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		// encoding/json's Field has no list indexes (apps.port_map_list.container_port): walk
		// the document against the types to find the same mismatch with its indexes.
		if me := findTypeError(b); me != nil {
			return me
		}
		path := typ.Field
		if path == "" {
			return &MetadataError{Problem: fmt.Sprintf("want %s, got %s", describeType(typ.Type), typ.Value)}
		}
		return &MetadataError{Path: path, Problem: fmt.Sprintf("want %s, got %s", describeType(typ.Type), typ.Value)}
	}
	return &MetadataError{Problem: err.Error()}
}

// position converts a byte offset into a 1-based line and column.
func position(b []byte, off int64) (line, col int) {
	if off > int64(len(b)) {
		off = int64(len(b))
	}
	if off < 0 {
		off = 0
	}
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	if col < 1 {
		col = 1
	}
	return line, col
}

// findTypeError reads the document as a token stream against Template's types, in document
// order (as encoding/json does, so it finds the error json reported), and returns the first
// value of the wrong type with its full key path, or nil. It only explains errors: whether a
// document decodes is encoding/json's call.
func findTypeError(b []byte) *MetadataError {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	w := typeWalker{dec: dec}
	me, _ := w.value(reflect.TypeFor[Template](), "")
	return me
}

type typeWalker struct{ dec *json.Decoder }

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// value reads one value and checks it against t. A non-nil error means the stream could not be
// read; the walk then stops without a finding.
func (w *typeWalker) value(t reflect.Type, path string) (*MetadataError, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return nil, err
	}
	if tok == nil {
		return nil, nil // null: the zero value, always accepted
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t == rawJSONType || t.Kind() == reflect.Interface {
		return nil, w.skipRest(tok)
	}
	if t == optIntType {
		t = intType // a number, or null (above)
	}
	mismatch := func(got string) (*MetadataError, error) {
		return &MetadataError{Path: path, Problem: "want " + describeType(t) + ", got " + got}, nil
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '[':
			if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
				return mismatch("a list")
			}
			for i := 0; w.dec.More(); i++ {
				if me, err := w.value(t.Elem(), path+"["+strconv.Itoa(i)+"]"); me != nil || err != nil {
					return me, err
				}
			}
			_, err := w.dec.Token() // ]
			return nil, err
		case '{':
			switch t.Kind() {
			case reflect.Struct:
				fields := structFields(t)
				for w.dec.More() {
					kt, err := w.dec.Token()
					if err != nil {
						return nil, err
					}
					key, _ := kt.(string)
					ft, ok := fields.lookup(key)
					if !ok {
						if err := w.skip(); err != nil {
							return nil, err
						}
						continue
					}
					if me, err := w.value(ft, joinKey(path, key)); me != nil || err != nil {
						return me, err
					}
				}
			case reflect.Map:
				for w.dec.More() {
					kt, err := w.dec.Token()
					if err != nil {
						return nil, err
					}
					key, _ := kt.(string)
					if me, err := w.value(t.Elem(), joinKey(path, key)); me != nil || err != nil {
						return me, err
					}
				}
			default:
				return mismatch("an object")
			}
			_, err := w.dec.Token() // }
			return nil, err
		}
		return nil, fmt.Errorf("unexpected %v", v)
	case string:
		if t.Kind() != reflect.String {
			return mismatch("string " + quote(v))
		}
	case bool:
		if t.Kind() != reflect.Bool {
			return mismatch("boolean " + strconv.FormatBool(v))
		}
	case json.Number:
		got := "number " + cut(string(v))
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil && !isRangeErr(err) {
				return &MetadataError{Path: path, Problem: "want an integer, got " + got}, nil
			}
			if err != nil || reflect.Zero(t).OverflowInt(n) {
				lo, hi := intRange(t)
				return &MetadataError{Path: path, Problem: fmt.Sprintf("want an integer from %d to %d, got %s", lo, hi, got)}, nil
			}
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil && !isRangeErr(err) {
				if _, ierr := strconv.ParseInt(string(v), 10, 64); ierr == nil || isRangeErr(ierr) {
					return &MetadataError{Path: path, Problem: fmt.Sprintf("want an integer from 0 to %d, got %s", uint64(math.MaxUint64)>>(64-t.Bits()), got)}, nil
				}
				return &MetadataError{Path: path, Problem: "want an integer, got " + got}, nil
			}
			if err != nil || reflect.Zero(t).OverflowUint(n) {
				return &MetadataError{Path: path, Problem: fmt.Sprintf("want an integer from 0 to %d, got %s", uint64(math.MaxUint64)>>(64-t.Bits()), got)}, nil
			}
		case reflect.Float32, reflect.Float64:
			if _, err := strconv.ParseFloat(string(v), t.Bits()); err != nil {
				return mismatch(got)
			}
		default:
			return mismatch(got)
		}
	}
	return nil, nil
}

// skip reads and discards one whole value.
func (w *typeWalker) skip() error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	return w.skipRest(tok)
}

// skipRest discards the rest of a value whose first token was tok.
func (w *typeWalker) skipRest(tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok || d == ']' || d == '}' {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '[' || d == '{' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func isRangeErr(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange)
}

func intRange(t reflect.Type) (int64, int64) {
	bits := t.Bits()
	return -1 << (bits - 1), 1<<(bits-1) - 1
}

func cut(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// joinKey appends an object key to a path: a.b, or a["odd key"] when the key is not a plain
// identifier.
func joinKey(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if !plain {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// describeType says what JSON a Go type wants.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// fieldSet maps JSON keys to field types the way encoding/json matches them: exactly, else
// case-insensitively.
type fieldSet struct {
	exact map[string]reflect.Type
	names []string
}

func (f *fieldSet) lookup(key string) (reflect.Type, bool) {
	if t, ok := f.exact[key]; ok {
		return t, true
	}
	for _, n := range f.names {
		if strings.EqualFold(n, key) {
			return f.exact[n], true
		}
	}
	return nil, false
}

var fieldCache sync.Map // reflect.Type -> *fieldSet

func structFields(t reflect.Type) *fieldSet {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*fieldSet)
	}
	f := &fieldSet{exact: map[string]reflect.Type{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		n, _, _ := strings.Cut(tag, ",")
		if n == "" {
			n = sf.Name
		}
		f.exact[n] = sf.Type
		f.names = append(f.names, n)
	}
	fieldCache.Store(t, f)
	return f
}
