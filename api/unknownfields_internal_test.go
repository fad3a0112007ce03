package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aiccfb/aicc"
)

type scanInner struct {
	A    int    `json:"a"`
	Skip string `json:"-"`
}

type scanEmbedded struct {
	E string `json:"e"`
}

type scanOuter struct {
	scanEmbedded
	Name     string               `json:"name"`
	Inner    scanInner            `json:"inner"`
	Ptr      *scanInner           `json:"ptr"`
	List     []scanInner          `json:"list"`
	Raw      json.RawMessage      `json:"raw"`
	M        map[string]int       `json:"m"`
	Keywords aicc.KeywordList     `json:"kw"`
	Segments aicc.SegmentList     `json:"segs"`
	ByName   map[string]scanInner `json:"byName"`
	Grid     [][]scanInner        `json:"grid"`
	Plain    int
}

type scanNode struct {
	Next *scanNode `json:"next"`
}

// firstUnknownKey names the key encoding/json's DisallowUnknownFields refuses first, without reading on, in
// objects, arrays and maps of structs alike; it stays out of what json does not check (maps of plain values,
// raw values, types that decode themselves), and leaves a body it cannot follow to the decoding.
func TestFirstUnknownKey(t *testing.T) {
	for _, tc := range []struct {
		body, want string // want "": no unknown key
	}{
		{`{"name":"x","inner":{"a":1},"ptr":{"a":2},"e":"y","Plain":3}`, ""},
		{` { "NAME" : "x" , "plain" : 1 } `, ""}, // names match under case folding, as json matches them
		{`{"n\u0061me":"x"}`, ""},
		{`{"name":"x","f0":0,"f1":0}`, "f0"},
		{`{"inner":{"a":1,"b":2}}`, "b"},
		{`{"ptr":{"zz":1}}`, "zz"},
		{`{"scanEmbedded":{}}`, "scanEmbedded"}, // an embedded struct's fields are promoted; it is no key itself
		{`{"-":1}`, "-"},
		{`{"Skip":"x"}`, "Skip"},
		{`{"m":{"any":1},"raw":{"q":[1,{"r":2}]},"kw":["a"],"segs":[{"start":"08:00","end":"09:00"}],"name":"}{\"]["}`, ""},
		{`{"list":[{"a":1},{"zz":1}]}`, "zz"},
		{`{"byName":{"x":{"a":1},"y":{"zz":1}}}`, "zz"},
		{`{"grid":[[{"a":1}],[{"a":2,"zz":3}]]}`, "zz"},
		{`{"name":"a\"}{","x\"y":1}`, `x"y`},
		{`{"raw":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `,"late":1}`, "late"},
	} {
		key, found := firstUnknownKey([]byte(tc.body), reflect.TypeFor[*scanOuter]())
		if found != (tc.want != "") || key != tc.want {
			t.Errorf("%s: firstUnknownKey = %q, %v; want %q", tc.body, key, found, tc.want)
		}
		// encoding/json refuses the same key first.
		dec := json.NewDecoder(bytes.NewReader([]byte(tc.body)))
		dec.DisallowUnknownFields()
		err := dec.Decode(new(scanOuter))
		jsonKey := ""
		if err != nil {
			unquoted, uerr := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
			if uerr != nil {
				t.Fatalf("%s: encoding/json: %v", tc.body, err)
			}
			jsonKey = unquoted
		}
		if jsonKey != tc.want {
			t.Errorf("%s: encoding/json refuses %q, the test wants %q", tc.body, jsonKey, tc.want)
		}
	}

	// A bounded list decodes itself only to bound its length: the keys of its items are refused as a plain slice's
	// are, though encoding/json leaves them to the list.
	body := `{"segs":[{"start":"08:00","end":"09:00"},{"start":"10:00","end":"11:00","timezone":"UTC"}]}`
	if key, _ := firstUnknownKey([]byte(body), reflect.TypeFor[*scanOuter]()); key != "timezone" {
		t.Errorf("%s: firstUnknownKey = %q, want timezone", body, key)
	}

	// Bodies it cannot follow are left to the decoding, which says what is wrong with them.
	for _, body := range []string{``, `[1,2]`, `{"name"`, `{"name" 1}`, `{"name":"x" "y":1}`, `{"name":"unterminated`,
		`{"inner":{"a":1`, `{"name":1,}`, `null`} {
		if key, found := firstUnknownKey([]byte(body), reflect.TypeFor[*scanOuter]()); found {
			t.Errorf("%s: firstUnknownKey = %q, want no verdict", body, key)
		}
	}
	deep := strings.Repeat(`{"next":`, maxScanDepth) + `{"zz":1}` + strings.Repeat(`}`, maxScanDepth)
	if key, found := firstUnknownKey([]byte(deep), reflect.TypeFor[*scanNode]()); found {
		t.Errorf("nested %d deep: firstUnknownKey = %q, want the decoding to decide", maxScanDepth+1, key)
	}
	if key, _ := firstUnknownKey([]byte(`{"next":{"next":{"zz":1}}}`), reflect.TypeFor[*scanNode]()); key != "zz" {
		t.Errorf("a recursive type, 3 deep: firstUnknownKey = %q, want zz", key)
	}
	if _, found := firstUnknownKey([]byte(`{"x":1}`), reflect.TypeFor[map[string]int]()); found {
		t.Error("a map takes any key")
	}
}
