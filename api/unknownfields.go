package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// firstUnknownKey returns the first key of the JSON object body that names no field of t (a struct, or a pointer
// to one), looking into the objects, arrays and maps of struct-typed values too, as DisallowUnknownFields would
// refuse it, and into the items of the bounded lists, which encoding/json leaves to the lists. It reads no
// further than that key: encoding/json goes on decoding the whole body after the first unknown field (1 MiB of
// them took 25 ms of CPU). ok is false when every key read is known, or when body stops
// being well-formed JSON: the decoding then finds what is wrong.
func firstUnknownKey(body []byte, t reflect.Type) (key string, ok bool) {
	s := &keyScanner{data: body}
	s.space()
	if structFields(t) == nil || s.peek() != '{' {
		return "", false
	}
	key, r := s.value(t)
	return key, r == unknownKey
}

// keyScanner reads JSON far enough to see the keys of the objects that decode into structs, skipping every
// other value.
type keyScanner struct {
	data  []byte
	i     int
	depth int // objects and arrays open
}

// maxScanDepth bounds the nesting the scanner follows (a recursive type could follow the body's); deeper
// bodies are left to the decoding, which has its own bound.
const maxScanDepth = 64

// scanned is what the scanner found in a value.
type scanned int

const (
	allKnown   scanned = iota // every key it holds names a field
	unknownKey                // a key names no field
	malformed                 // not well-formed JSON, or nested too deep: the scan stops
)

// value reads the value at the scanner's position, which decodes into t.
func (s *keyScanner) value(t reflect.Type) (string, scanned) {
	t = indirect(t)
	switch {
	case t == nil:
	case s.peek() == '[' && t.Kind() == reflect.Slice && decodesByField(t.Elem()):
		// Also a slice that decodes itself: the bounded lists do so only to bound their length.
		return s.array(t.Elem())
	case reflect.PointerTo(t).Implements(unmarshalerType):
		// Decodes itself: its keys are its own business.
	case s.peek() == '{' && structFields(t) != nil:
		return s.members(structFields(t).lookup)
	case s.peek() == '{' && t.Kind() == reflect.Map && decodesByField(t.Elem()):
		return s.members(func(string) (reflect.Type, bool) { return t.Elem(), true })
	case s.peek() == '[' && t.Kind() == reflect.Array && decodesByField(t.Elem()):
		return s.array(t.Elem())
	}
	if !s.skipValue() {
		return "", malformed
	}
	return "", allKnown
}

// members reads an object; field tells what each key decodes into, and whether it is known.
func (s *keyScanner) members(field func(key string) (reflect.Type, bool)) (string, scanned) {
	return s.sequence('}', func() (string, scanned) {
		key, ok := s.key()
		if !ok {
			return "", malformed
		}
		s.space()
		if !s.next(':') {
			return "", malformed
		}
		s.space()
		t, known := field(key)
		if !known {
			return key, unknownKey
		}
		return s.value(t)
	})
}

// array reads an array whose items decode into elem.
func (s *keyScanner) array(elem reflect.Type) (string, scanned) {
	return s.sequence(']', func() (string, scanned) { return s.value(elem) })
}

// sequence reads the object or array whose opening bracket is at the scanner's position, up to its closing
// one, with item reading each member or item, until one is not allKnown.
func (s *keyScanner) sequence(closing byte, item func() (string, scanned)) (string, scanned) {
	if s.depth++; s.depth > maxScanDepth {
		return "", malformed
	}
	defer func() { s.depth-- }()
	s.i++
	for first := true; ; first = false {
		s.space()
		if s.next(closing) {
			return "", allKnown
		}
		if !first {
			if !s.next(',') {
				return "", malformed
			}
			s.space()
		}
		if key, r := item(); r != allKnown {
			return key, r
		}
	}
}

// key reads an object key: a string, unescaped as encoding/json would.
func (s *keyScanner) key() (string, bool) {
	start := s.i
	if !s.skipString() {
		return "", false
	}
	raw := s.data[start:s.i]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var key string
	return key, json.Unmarshal(raw, &key) == nil
}

// skipValue passes over one value: a string, an object or array with everything in it, or a literal.
func (s *keyScanner) skipValue() bool {
	switch s.peek() {
	case '"':
		return s.skipString()
	case '{', '[':
		depth := 0
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case '"':
				if !s.skipString() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	default:
		start := s.i
		for s.i < len(s.data) && !strings.ContainsRune(",}] \t\r\n", rune(s.data[s.i])) {
			s.i++
		}
		return s.i > start
	}
}

// skipString passes over the string at the scanner's position, escapes included.
func (s *keyScanner) skipString() bool {
	if !s.next('"') {
		return false
	}
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '\\':
			s.i += 2
			continue
		case '"':
			s.i++
			return true
		}
		s.i++
	}
	return false
}

func (s *keyScanner) space() {
	for s.i < len(s.data) && strings.IndexByte(" \t\r\n", s.data[s.i]) >= 0 {
		s.i++
	}
}

func (s *keyScanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *keyScanner) next(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	return false
}

// fieldSet is the JSON names of a struct's fields, with their types.
type fieldSet []namedField

type namedField struct {
	name string
	typ  reflect.Type
}

// lookup finds the field key names as encoding/json does: the exact name first, else one equal under case
// folding.
func (fs fieldSet) lookup(key string) (reflect.Type, bool) {
	for _, f := range fs {
		if f.name == key {
			return f.typ, true
		}
	}
	for _, f := range fs {
		if strings.EqualFold(f.name, key) {
			return f.typ, true
		}
	}
	return nil, false
}

var fieldSets sync.Map // reflect.Type → fieldSet (nil: not a struct decoded field by field)

// decodesByField reports whether values of t hold, at some depth, structs whose keys encoding/json checks.
func decodesByField(t reflect.Type) bool {
	for range 8 { // deeper types are left to the decoding
		t = indirect(t)
		if structFields(t) != nil {
			return true
		}
		switch t.Kind() {
		case reflect.Map, reflect.Slice, reflect.Array:
			if reflect.PointerTo(t).Implements(unmarshalerType) {
				return false
			}
			t = t.Elem()
		default:
			return false
		}
	}
	return false
}

// structFields returns the fields encoding/json decodes an object into for t, or nil when t (through pointers)
// is not a struct, or decodes itself (json.Unmarshaler): its keys are then not looked into.
func structFields(t reflect.Type) fieldSet {
	t = indirect(t)
	if t == nil || t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{}
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue // never decoded
		}
		if f.Anonymous && name == "" && indirect(f.Type).Kind() == reflect.Struct {
			continue // an embedded struct: VisibleFields lists its fields
		}
		if name == "" {
			name = f.Name
		}
		fs = append(fs, namedField{name: name, typ: f.Type})
	}
	fieldSets.Store(t, fs)
	return fs
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// indirect is t without its pointers.
func indirect(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}
