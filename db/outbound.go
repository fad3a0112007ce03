package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/uptrace/bun"

	"github.com/aiccfb/aicc"
)

// maxOutboundError bounds the error text kept of an attempt, in characters: a code and a safe message.
const maxOutboundError = 1_000

// outboundRow is a row of outbound_messages: the record of one message sent through the Send API.
type outboundRow struct {
	bun.BaseModel  `bun:"table:outbound_messages"`
	ID             string `bun:",pk"`
	TenantID       string
	ChannelID      string
	PageID         string
	PSID           string `bun:"psid"`
	ConversationID string
	Purpose        string
	Status         string
	MID            string `bun:"mid"`
	Error          string
	Attempts       int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

func newOutboundRow(r *aicc.OutboundRecord) *outboundRow {
	return &outboundRow{
		ID: r.ID, TenantID: r.TenantID, ChannelID: r.ChannelID, PageID: r.PageID, PSID: r.PSID,
		ConversationID: r.ConversationID, Purpose: r.Purpose, Status: string(r.Status), MID: r.MID,
		Error: outboundError(r.Error), Attempts: r.Attempts, CreatedAt: norm(r.CreatedAt), UpdatedAt: norm(r.UpdatedAt),
	}
}

func (r *outboundRow) domain() *aicc.OutboundRecord {
	return &aicc.OutboundRecord{
		ID: r.ID, TenantID: r.TenantID, ChannelID: r.ChannelID, PageID: r.PageID, PSID: r.PSID,
		ConversationID: r.ConversationID, Purpose: r.Purpose, Status: aicc.OutboundStatus(r.Status), MID: r.MID,
		Error: r.Error, Attempts: r.Attempts, CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}
}

func (r *outboundRow) cursor() cursor { return cursor{r.CreatedAt, r.ID} }

// outboundError is the error text as it is kept: without NULs, and cut to maxOutboundError characters.
func outboundError(s string) string {
	s = noNUL(s)
	if r := []rune(s); len(r) > maxOutboundError {
		s = string(r[:maxOutboundError])
	}
	return s
}

// BeginOutbound implements aicc.OutboundStore. Each of its statements is atomic on its own, which is all it
// needs: the insert takes a new ID for one caller only, and so does the update that claims a failed record
// again, so two attempts racing for one message never both get to call Meta. A zero r.CreatedAt is now; the
// status, the attempts and UpdatedAt are set by the store.
func (s *Store) BeginOutbound(ctx context.Context, r *aicc.OutboundRecord) (*aicc.OutboundRecord, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	created(&r.CreatedAt)
	r.Status, r.MID, r.Error, r.Attempts, r.UpdatedAt = aicc.OutboundSending, "", "", 1, r.CreatedAt
	row := newOutboundRow(r)
	res, err := s.db.NewInsert().Model(row).On("CONFLICT (id) DO NOTHING").Returning("NULL").Exec(ctx)
	if n, aerr := rowsChanged(res, err); aerr != nil {
		return nil, wrap(aerr, "begin outbound")
	} else if n == 1 {
		*r = *row.domain()
		return nil, nil
	}
	// The message is known: claimed again if nothing of it is at Meta, else left to the caller to judge.
	res, err = s.db.NewUpdate().Model((*outboundRow)(nil)).
		Set("status = ?", string(aicc.OutboundSending)).Set("attempts = attempts + 1").Set("updated_at = ?", r.UpdatedAt).
		Where("id = ? AND tenant_id = ? AND status = ?", r.ID, r.TenantID, string(aicc.OutboundFailed)).
		Exec(ctx)
	claimed, err := rowsChanged(res, err)
	if err != nil {
		return nil, wrap(err, "begin outbound")
	}
	existing := new(outboundRow)
	if err := s.db.NewSelect().Model(existing).Where("id = ?", r.ID).Scan(ctx); err != nil {
		return nil, wrap(found(err, "outbound message"), "begin outbound")
	}
	if existing.TenantID != r.TenantID {
		return nil, aicc.Errorf(aicc.ECONFLICT, "The outbound message ID is another tenant's.")
	}
	if claimed == 1 {
		*r = *existing.domain()
		return nil, nil
	}
	return existing.domain(), nil
}

// FinishOutbound implements aicc.OutboundStore.
func (s *Store) FinishOutbound(ctx context.Context, id string, status aicc.OutboundStatus, mid, errText string, at time.Time) error {
	switch {
	case status == aicc.OutboundSent && mid == "":
		return aicc.Errorf(aicc.EINVALID, "A sent message needs its message ID.")
	case status != aicc.OutboundSent && status != aicc.OutboundFailed && status != aicc.OutboundAmbiguous:
		return aicc.Errorf(aicc.EINVALID, "An attempt ends sent, failed or ambiguous, not %q.", status)
	}
	if at.IsZero() {
		at = time.Now()
	}
	res, err := s.db.NewUpdate().Model((*outboundRow)(nil)).
		Set("status = ?", string(status)).Set("mid = ?", noNUL(mid)).Set("error = ?", outboundError(errText)).
		Set("updated_at = ?", norm(at)).
		Where("id = ? AND status IN (?)", id, bun.List([]string{string(aicc.OutboundSending), string(aicc.OutboundAmbiguous)})).
		Exec(ctx)
	n, err := rowsChanged(res, err)
	if err != nil || n == 1 {
		return wrap(err, "finish outbound")
	}
	// Nothing changed: the record has an outcome already, or there is none.
	exists, err := s.db.NewSelect().Model((*outboundRow)(nil)).Where("id = ?", id).Exists(ctx)
	if err != nil {
		return wrap(err, "finish outbound")
	}
	if !exists {
		return notFound("outbound message")
	}
	return nil
}

// ListOutbound implements aicc.OutboundStore, through outbound_messages_conversation_idx.
func (s *Store) ListOutbound(ctx context.Context, tenantID, conversationID string, opt aicc.ListOptions) ([]*aicc.OutboundRecord, string, error) {
	l, err := newListing(byCreated, opt)
	if err != nil {
		return nil, "", err
	}
	var rows []*outboundRow
	q := s.db.NewSelect().Model(&rows).Where("tenant_id = ? AND conversation_id = ?", tenantID, conversationID)
	if err := l.apply(q).Scan(ctx); err != nil {
		return nil, "", wrap(err, "list outbound")
	}
	rows, next := cut(l, rows)
	return mapRows(rows, (*outboundRow).domain), next, nil
}

// rowsChanged returns how many rows the statement that returned res and err changed.
func rowsChanged(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
