package meta

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON reading under ParseWebhook (webhook.go): one pass over the body that checks its syntax as
// encoding/json does, reads the values the notification's shape asks for where they are, and skips the rest. A
// value of another shape is skipped again from its start (skipFrom), which tells a malformed part from a body
// that is not JSON.

// maxDepth is encoding/json's limit on nested objects and arrays, so that what it refused is refused here too
// and the decoder's recursion stays bounded.
const maxDepth = 10000

// webhookDecoder reads a webhook body in one pass. Each method that reads a value starts at off, skips
// whitespace, reads one value and leaves off just past it; on an error off is where the error is.
type webhookDecoder struct {
	data    []byte
	off     int
	depth   int // objects and arrays open around off
	updates int // items of the entries' lists met so far (see update)
}

// object reads an object, or null, and reports which it was; anything else is an error. For each member whose
// key is one of keys (matched as encoding/json matched keys to fields: exactly, else case-insensitively) it
// calls member with that key, off at the member's value, which member must read; other values are skipped.
func (d *webhookDecoder) object(keys []string, member func(key string) error) (bool, error) {
	switch d.next() {
	case 'n':
		return false, d.literal("null")
	case '{':
	default:
		return false, d.typeError("an object")
	}
	if err := d.open(); err != nil {
		return true, err
	}
	if d.next() == '}' {
		d.close()
		return true, nil
	}
	for {
		if d.next() != '"' {
			return true, d.syntaxError()
		}
		raw, plain, err := d.scanString()
		if err != nil {
			return true, err
		}
		if d.next() != ':' {
			return true, d.syntaxError()
		}
		d.off++
		if key := matchKey(raw, plain, keys); key != "" {
			err = member(key)
		} else {
			err = d.skip()
		}
		if err != nil {
			return true, err
		}
		switch d.next() {
		case ',':
			d.off++
		case '}':
			d.close()
			return true, nil
		default:
			return true, d.syntaxError()
		}
	}
}

// array reads an array, or null; anything else is an error. For each element it calls element, off at the
// element, which element must read.
func (d *webhookDecoder) array(element func() error) error {
	switch d.next() {
	case 'n':
		return d.literal("null")
	case '[':
	default:
		return d.typeError("an array")
	}
	if err := d.open(); err != nil {
		return err
	}
	if d.next() == ']' {
		d.close()
		return nil
	}
	for {
		if err := element(); err != nil {
			return err
		}
		switch d.next() {
		case ',':
			d.off++
		case ']':
			d.close()
			return nil
		default:
			return d.syntaxError()
		}
	}
}

// open enters the object or array at off.
func (d *webhookDecoder) open() error {
	if d.depth++; d.depth > maxDepth {
		return fmt.Errorf("nested deeper than %d at offset %d", maxDepth, d.off)
	}
	d.off++
	return nil
}

// close leaves the object or array whose end is at off.
func (d *webhookDecoder) close() {
	d.depth--
	d.off++
}

// skip reads a value of any type and checks it.
func (d *webhookDecoder) skip() error {
	switch d.next() {
	case '{':
		_, err := d.object(nil, nil)
		return err
	case '[':
		return d.array(d.skip)
	case '"':
		_, _, err := d.scanString()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, err := d.number()
	return err
}

// skipFrom goes back to start, where a value that could not be read as what it should be begins with depth
// objects and arrays open around it, and skips it. The error is then the body's: it is not JSON. Otherwise the
// value was JSON of another shape, and off is past it.
func (d *webhookDecoder) skipFrom(start, depth int) error {
	d.off, d.depth = start, depth
	return d.skip()
}

// readString reads a string into dst; null leaves dst as it is.
func (d *webhookDecoder) readString(dst *string) error {
	switch d.next() {
	case '"':
		raw, plain, err := d.scanString()
		if err == nil {
			*dst = unquote(raw, plain)
		}
		return err
	case 'n':
		return d.literal("null")
	}
	return d.typeError("a string")
}

// readID reads an ID sent as a string or a number (Meta sends strings, some tools numbers) into dst, a number as
// it is written; null empties dst.
func (d *webhookDecoder) readID(dst *string) error {
	switch c := d.next(); {
	case c == '"':
		return d.readString(dst)
	case c == 'n':
		*dst = ""
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		num, err := d.number()
		if err == nil {
			*dst = string(num)
		}
		return err
	}
	return d.typeError("a string or a number")
}

// readInteger reads an integer sent as a number (possibly 1.7e12) or as a string holding one into dst; null, the
// string "null" and "" leave dst as it is.
func (d *webhookDecoder) readInteger(dst *int64) error {
	c := d.next()
	start := d.off
	var err error
	switch {
	case c == '"':
		_, _, err = d.scanString()
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		_, err = d.number()
	default:
		return d.typeError("an integer")
	}
	if err != nil {
		return err
	}
	s := bytes.Trim(d.data[start:d.off], `"`) // as the former type did: a string's escapes are not resolved
	if len(s) == 0 || string(s) == "null" {
		return nil
	}
	if n, ok := smallInteger(s); ok {
		*dst = n
		return nil
	}
	if n, err := strconv.ParseInt(string(s), 10, 64); err == nil {
		*dst = n
		return nil
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil || f != f || f > 1<<62 || f < -(1<<62) {
		if c == '"' {
			return errors.New("a string that holds no integer")
		}
		return errors.New("a number beyond ±2^62")
	}
	*dst = int64(f)
	return nil
}

// smallInteger returns the value of s when it is 1 to 18 ASCII digits, which every timestamp Meta sends is,
// without the allocation of strconv's string argument.
func smallInteger(s []byte) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// readBool reads true or false into dst; null leaves dst as it is.
func (d *webhookDecoder) readBool(dst *bool) error {
	switch d.next() {
	case 't':
		*dst = true
		return d.literal("true")
	case 'f':
		*dst = false
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	return d.typeError("a boolean")
}

// literal reads word (true, false or null).
func (d *webhookDecoder) literal(word string) error {
	for i := range len(word) {
		if d.off >= len(d.data) || d.data[d.off] != word[i] {
			return d.syntaxError()
		}
		d.off++
	}
	return nil
}

// number reads a number as JSON writes them and returns its text.
func (d *webhookDecoder) number() ([]byte, error) {
	start := d.off
	d.accept('-')
	if !d.accept('0') {
		if !d.digits() {
			return nil, d.syntaxError()
		}
	}
	if d.accept('.') && !d.digits() {
		return nil, d.syntaxError()
	}
	if d.accept('e') || d.accept('E') {
		if !d.accept('+') {
			d.accept('-')
		}
		if !d.digits() {
			return nil, d.syntaxError()
		}
	}
	return d.data[start:d.off], nil
}

// accept moves past c if it is at off.
func (d *webhookDecoder) accept(c byte) bool {
	if d.off < len(d.data) && d.data[d.off] == c {
		d.off++
		return true
	}
	return false
}

// digits moves past the ASCII digits at off and reports whether there was one.
func (d *webhookDecoder) digits() bool {
	start := d.off
	for d.off < len(d.data) && '0' <= d.data[d.off] && d.data[d.off] <= '9' {
		d.off++
	}
	return d.off > start
}

// scanString reads a string and returns what is between its quotes, escapes and all; plain is true when that is
// printable ASCII without escapes, the string itself.
func (d *webhookDecoder) scanString() (raw []byte, plain bool, err error) {
	d.off++ // the opening quote
	start, plain := d.off, true
	for d.off < len(d.data) {
		switch c := d.data[d.off]; {
		case c == '"':
			d.off++
			return d.data[start : d.off-1], plain, nil
		case c == '\\':
			plain = false
			d.off++
			if d.off >= len(d.data) {
				return nil, false, d.syntaxError()
			}
			switch d.data[d.off] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.off++
			case 'u':
				d.off++
				for range 4 {
					if d.off >= len(d.data) || hexValue(d.data[d.off]) < 0 {
						return nil, false, d.syntaxError()
					}
					d.off++
				}
			default:
				return nil, false, d.syntaxError()
			}
		case c < ' ':
			return nil, false, d.syntaxError()
		default:
			plain = plain && c < utf8.RuneSelf
			d.off++
		}
	}
	return nil, false, d.syntaxError()
}

// unquote returns the string that raw, a string's contents as scanString checked them, stands for, as encoding/json
// decodes it: escapes resolved, invalid UTF-8 and unpaired surrogates each as U+FFFD.
func unquote(raw []byte, plain bool) string {
	if plain {
		return string(raw)
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\' && raw[i+1] == 'u':
			r := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				second := rune(-1)
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					second = hex4(raw[i+2:])
				}
				if r = utf16.DecodeRune(r, second); r != utf8.RuneError {
					i += 6
				}
			}
			b.WriteRune(r)
		case c == '\\':
			b.WriteByte(unescape[raw[i+1]])
			i += 2
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			b.WriteRune(r) // utf8.RuneError for a byte that is not UTF-8
			i += size
		}
	}
	return b.String()
}

// unescape maps the letter of a one-letter escape to the byte it stands for.
var unescape = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 returns the value of the 4 hex digits at the start of b, which scanString checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r = r<<4 | hexValue(c)
	}
	return r
}

// hexValue returns the value of the hex digit c, or -1.
func hexValue(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// matchKey returns the one of keys that a member's key, raw as scanString returned it, stands for, matched as
// encoding/json matched keys to struct fields: exactly, else as bytes.EqualFold does; "" for none.
func matchKey(raw []byte, plain bool, keys []string) string {
	key := raw
	if !plain {
		key = []byte(unquote(raw, false))
	}
	for _, k := range keys {
		if string(key) == k {
			return k
		}
	}
	for _, k := range keys {
		if bytes.EqualFold(key, []byte(k)) {
			return k
		}
	}
	return ""
}

// next skips whitespace and returns the byte at off, 0 at the end of the body.
func (d *webhookDecoder) next() byte {
	d.space()
	if d.off < len(d.data) {
		return d.data[d.off]
	}
	return 0
}

// space moves past the whitespace at off.
func (d *webhookDecoder) space() {
	for d.off < len(d.data) {
		switch d.data[d.off] {
		case ' ', '\t', '\n', '\r':
			d.off++
		default:
			return
		}
	}
}

// syntaxError says what is wrong at off.
func (d *webhookDecoder) syntaxError() error {
	if d.off >= len(d.data) {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("invalid character %q at offset %d", d.data[d.off], d.off)
}

// typeError says that the value at off is not what the notification has there: its JSON type, never its value.
func (d *webhookDecoder) typeError(want string) error {
	if d.off >= len(d.data) {
		return errors.New("unexpected end of JSON input")
	}
	return fmt.Errorf("%s, want %s", jsonType(d.data[d.off]), want)
}

// jsonType names the type of the JSON value that starts with c.
func jsonType(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	}
	return fmt.Sprintf("%q", c) // not JSON: skipping the value finds the syntax error
}
