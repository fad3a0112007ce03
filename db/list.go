package db

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
)

// keyset is the unique sort key of a list: (timeCol, keyCol), or keyCol alone when timeCol is empty;
// ascending, or descending when desc is set. Lists page by key (WHERE key > last key), never by OFFSET, so a
// page costs the same however deep it is.
type keyset struct {
	timeCol, keyCol string
	desc            bool
}

var (
	byCreated       = keyset{timeCol: "created_at", keyCol: "id"}
	byCreatedLatest = keyset{timeCol: "created_at", keyCol: "id", desc: true}
	byName          = keyset{keyCol: "name"}
	byPageID        = keyset{keyCol: "page_id"}
	byUpdatedLatest = keyset{timeCol: "updated_at", keyCol: "id", desc: true}
)

// cursor is the sort key of the last item of a page. Clients see it as opaque base64url JSON.
type cursor struct {
	At  time.Time `json:"t,omitzero"`
	Key string    `json:"k"`
}

func (c cursor) String() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// listing is one page of a list, as asked for by aicc.ListOptions.
type listing struct {
	keyset
	limit int
	after *cursor
}

var errCursor = &aicc.Error{
	Code: aicc.EINVALID, Message: "The cursor is not valid.",
	Fields: map[string]string{"cursor": "is not a cursor from this list"},
}

func newListing(k keyset, opt aicc.ListOptions) (*listing, error) {
	l := &listing{keyset: k, limit: aicc.DefaultListLimit}
	if opt.Limit > 0 {
		l.limit = min(opt.Limit, aicc.MaxListLimit)
	}
	if opt.Cursor == "" {
		return l, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(opt.Cursor)
	if err != nil {
		return nil, errCursor
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	l.after = new(cursor)
	if err := dec.Decode(l.after); err != nil || l.after.Key == "" || l.after.At.IsZero() != (k.timeCol == "") {
		return nil, errCursor
	}
	return l, nil
}

// apply orders q by the key, starts it after the cursor and asks for one row more than the limit, which
// tells whether another page follows.
func (l *listing) apply(q *bun.SelectQuery) *bun.SelectQuery {
	key := bun.Ident(l.keyCol)
	after, dir := bun.Safe(">"), bun.Safe("ASC")
	if l.desc {
		after, dir = bun.Safe("<"), bun.Safe("DESC")
	}
	if l.timeCol == "" {
		if l.after != nil {
			q = q.Where("? ? ?", key, after, l.after.Key)
		}
		q = q.OrderExpr("? ?", key, dir)
	} else {
		at := bun.Ident(l.timeCol)
		if l.after != nil {
			q = q.Where("(?, ?) ? (?, ?)", at, key, after, l.after.At, l.after.Key)
		}
		q = q.OrderExpr("? ?, ? ?", at, dir, key, dir)
	}
	return q.Limit(int64(l.limit + 1))
}

// cut trims rows, as fetched by a query under apply, to the page and returns the next page's cursor, ""
// after the last page.
func cut[R interface{ cursor() cursor }](l *listing, rows []R) ([]R, string) {
	if len(rows) <= l.limit {
		return rows, ""
	}
	rows = rows[:l.limit]
	return rows, rows[len(rows)-1].cursor().String()
}

// idPages pages a list by descending ID: a page starts below the last ID of the one before, so that a row added
// or removed meanwhile never shifts a page the client holds. Its value is the one key of its cursors, its own
// for each list, so that no list takes another's cursor.
type idPages string

// The lists paged by ID.
const (
	deadLetterPages    idPages = "d"
	webhookRejectPages idPages = "w"
)

// parse returns the page size and the ID the page starts below (0 for the first page) that opt asks for. A
// cursor of another list is refused, not read as this one's.
func (p idPages) parse(opt aicc.ListOptions) (int, int64, error) {
	limit := aicc.DefaultListLimit
	if opt.Limit > 0 {
		limit = min(opt.Limit, aicc.MaxListLimit)
	}
	if opt.Cursor == "" {
		return limit, 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(opt.Cursor)
	if err != nil {
		return 0, 0, errCursor
	}
	var c map[string]int64
	if err := json.Unmarshal(raw, &c); err != nil || len(c) != 1 || c[string(p)] <= 0 {
		return 0, 0, errCursor
	}
	return limit, c[string(p)], nil
}

// cutByID trims rows of p, fetched limit + 1 by descending ID, to the page and returns the next page's cursor,
// "" after the last page.
func cutByID[R any](p idPages, rows []R, limit int, id func(R) int64) ([]R, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	b, _ := json.Marshal(map[string]int64{string(p): id(rows[limit-1])})
	return rows, base64.RawURLEncoding.EncodeToString(b)
}

// mapRows converts rows with f.
func mapRows[R, T any](rows []R, f func(R) T) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}
