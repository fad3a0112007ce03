package db

import (
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/aiccfb/aicc"
	"github.com/uptrace/bun"
)

// Bun models, one per table, and their mappers to and from the domain types. Struct and slice fields are
// JSON columns.

type tenantRow struct {
	bun.BaseModel `bun:"table:tenants"`
	ID            string `bun:",pk"`
	Name          string
	CreatedAt     time.Time
}

func newTenantRow(t *aicc.Tenant) *tenantRow {
	return &tenantRow{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
}

func (r *tenantRow) domain() *aicc.Tenant {
	return &aicc.Tenant{ID: r.ID, Name: r.Name, CreatedAt: utc(r.CreatedAt)}
}

func (r *tenantRow) cursor() cursor { return cursor{r.CreatedAt, r.ID} }

type tokenRow struct {
	bun.BaseModel `bun:"table:api_tokens"`
	ID            string `bun:",pk"`
	TenantID      string `bun:",nullzero"` // NULL for a sysadmin
	Role          string
	Name          string
	Hash          []byte
	CreatedAt     time.Time
	ExpiresAt     time.Time `bun:",nullzero"`
	RevokedAt     time.Time `bun:",nullzero"`
	LastUsedAt    time.Time `bun:",nullzero"`
}

func newTokenRow(t *aicc.APIToken) *tokenRow {
	return &tokenRow{
		ID: t.ID, TenantID: t.TenantID, Role: string(t.Role), Name: t.Name, Hash: t.Hash, CreatedAt: t.CreatedAt,
		ExpiresAt: norm(t.ExpiresAt), RevokedAt: norm(t.RevokedAt), LastUsedAt: norm(t.LastUsedAt),
	}
}

func (r *tokenRow) domain() *aicc.APIToken {
	return &aicc.APIToken{
		ID: r.ID, TenantID: r.TenantID, Role: aicc.Role(r.Role), Name: r.Name, Hash: r.Hash, CreatedAt: utc(r.CreatedAt),
		ExpiresAt: utc(r.ExpiresAt), RevokedAt: utc(r.RevokedAt), LastUsedAt: utc(r.LastUsedAt),
	}
}

func (r *tokenRow) cursor() cursor { return cursor{r.CreatedAt, r.ID} }

type ouRow struct {
	bun.BaseModel `bun:"table:ous"`
	ID            string `bun:",pk"`
	TenantID      string
	Name          string
	ParentID      string `bun:",nullzero"`
	CreatedAt     time.Time
}

func newOURow(o *aicc.OU) *ouRow {
	return &ouRow{ID: o.ID, TenantID: o.TenantID, Name: o.Name, ParentID: o.ParentID, CreatedAt: o.CreatedAt}
}

func (r *ouRow) domain() *aicc.OU {
	return &aicc.OU{ID: r.ID, TenantID: r.TenantID, Name: r.Name, ParentID: r.ParentID, CreatedAt: utc(r.CreatedAt)}
}

func (r *ouRow) cursor() cursor { return cursor{r.CreatedAt, r.ID} }

type queueRow struct {
	bun.BaseModel  `bun:"table:skill_queues"`
	ID             string `bun:",pk"`
	TenantID       string
	Name           string
	AccessCode     string
	OUID           string `bun:"ou_id"`
	MaxWaitSeconds int
	MaxQueued      int
	WrapUpSeconds  int
	CreatedAt      time.Time
}

func newQueueRow(q *aicc.SkillQueue) *queueRow {
	return &queueRow{
		ID: q.ID, TenantID: q.TenantID, Name: q.Name, AccessCode: q.AccessCode, OUID: q.OUID,
		MaxWaitSeconds: q.MaxWaitSeconds, MaxQueued: q.MaxQueued, WrapUpSeconds: q.WrapUpSeconds, CreatedAt: q.CreatedAt,
	}
}

func (r *queueRow) domain() *aicc.SkillQueue {
	return &aicc.SkillQueue{
		ID: r.ID, TenantID: r.TenantID, Name: r.Name, AccessCode: r.AccessCode, OUID: r.OUID,
		MaxWaitSeconds: r.MaxWaitSeconds, MaxQueued: r.MaxQueued, WrapUpSeconds: r.WrapUpSeconds,
		CreatedAt: utc(r.CreatedAt),
	}
}

func (r *queueRow) cursor() cursor { return cursor{r.CreatedAt, r.ID} }

type calendarRow struct {
	bun.BaseModel        `bun:"table:service_calendars"`
	ID                   string `bun:",pk"`
	TenantID             string
	Name                 string
	TimeZone             string
	WeeklyNonWorkingDays []time.Weekday
	RestDates            []string
	MakeUpWorkDates      []string
	CreatedAt            time.Time
}

func newCalendarRow(c *aicc.ServiceCalendar) *calendarRow {
	return &calendarRow{
		ID: c.ID, TenantID: c.TenantID, Name: c.Name, TimeZone: c.TimeZone,
		WeeklyNonWorkingDays: c.WeeklyNonWorkingDays, RestDates: c.RestDates, MakeUpWorkDates: c.MakeUpWorkDates,
		CreatedAt: c.CreatedAt,
	}
}

func (r *calendarRow) domain() *aicc.ServiceCalendar {
	return &aicc.ServiceCalendar{
		ID: r.ID, TenantID: r.TenantID, Name: r.Name, TimeZone: r.TimeZone,
		WeeklyNonWorkingDays: r.WeeklyNonWorkingDays, RestDates: r.RestDates, MakeUpWorkDates: r.MakeUpWorkDates,
		CreatedAt: utc(r.CreatedAt),
	}
}

func (r *calendarRow) cursor() cursor { return cursor{r.CreatedAt, r.ID} }

type channelRow struct {
	bun.BaseModel         `bun:"table:channels"`
	ID                    string `bun:",pk"`
	TenantID              string
	Name                  string
	AppID                 string `bun:"app_id"`
	Algorithm             string
	Basic                 aicc.BasicConfig
	Robot                 aicc.RobotConfig
	Status                string
	Step                  string
	ErrorCode             string
	VerifiedAt            time.Time `bun:",nullzero"`
	ActivatedAt           time.Time `bun:",nullzero"`
	OnboardingUpdatedAt   time.Time `bun:",nullzero"`
	RotationStatus        string
	RotationStartedAt     time.Time `bun:",nullzero"`
	RotationPreviousUntil time.Time `bun:",nullzero"`
	RotationPagesMissing  int
	RotationRemindedAt    time.Time `bun:",nullzero"`
	RotationUpdatedAt     time.Time `bun:",nullzero"`
	AppClaimedAt          time.Time `bun:",nullzero"`
	CreatedAt             time.Time
	UpdatedAt             time.Time
	// TokenHealth is read only, by selectChannels: the worst token health of the channel's Pages.
	TokenHealth string `bun:",scanonly"`
}

func newChannelRow(ch *aicc.Channel) *channelRow {
	o, rot := &ch.Onboarding, &ch.Rotation
	return &channelRow{
		ID: ch.ID, TenantID: ch.TenantID, Name: ch.Name, AppID: ch.AppID, Algorithm: string(ch.Algorithm),
		Basic: ch.Basic, Robot: ch.Robot,
		Status: string(o.Status), Step: o.Step, ErrorCode: o.ErrorCode,
		VerifiedAt: norm(o.VerifiedAt), ActivatedAt: norm(o.ActivatedAt), OnboardingUpdatedAt: norm(o.UpdatedAt),
		RotationStatus: string(rot.Status), RotationStartedAt: norm(rot.StartedAt),
		RotationPreviousUntil: norm(rot.PreviousUntil), RotationPagesMissing: rot.PagesMissing,
		RotationRemindedAt: norm(rot.RemindedAt), RotationUpdatedAt: norm(rot.UpdatedAt),
		AppClaimedAt: norm(ch.AppClaimedAt), CreatedAt: norm(ch.CreatedAt), UpdatedAt: norm(ch.UpdatedAt),
	}
}

// domain returns the channel with the SecretInfo of the secrets given.
func (r *channelRow) domain(secrets []*secretRow) *aicc.Channel {
	ch := &aicc.Channel{
		ID: r.ID, TenantID: r.TenantID, Name: r.Name, AppID: r.AppID, Algorithm: aicc.SignatureAlgorithm(r.Algorithm),
		Basic: r.Basic, Robot: r.Robot,
		Onboarding: aicc.Onboarding{
			Status: aicc.ChannelStatus(r.Status), Step: r.Step, ErrorCode: r.ErrorCode,
			VerifiedAt: utc(r.VerifiedAt), ActivatedAt: utc(r.ActivatedAt), UpdatedAt: utc(r.OnboardingUpdatedAt),
		},
		Rotation: aicc.Rotation{
			Status: aicc.RotationStatus(r.RotationStatus), StartedAt: utc(r.RotationStartedAt),
			PreviousUntil: utc(r.RotationPreviousUntil), PagesMissing: r.RotationPagesMissing,
			RemindedAt: utc(r.RotationRemindedAt), UpdatedAt: utc(r.RotationUpdatedAt),
		},
		TokenHealth:  aicc.TokenHealth(r.TokenHealth),
		AppClaimedAt: utc(r.AppClaimedAt), CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt),
	}
	for _, s := range secrets {
		switch aicc.SecretKind(s.Kind) {
		case aicc.SecretAppSecret:
			ch.AppSecret = s.sealed().Info()
		case aicc.SecretVerifyToken:
			ch.VerifyToken = s.sealed().Info()
		}
	}
	return ch
}

func (r *channelRow) cursor() cursor { return cursor{Key: r.Name} }

type secretRow struct {
	bun.BaseModel `bun:"table:channel_secrets"`
	ChannelID     string `bun:",pk"`
	Kind          string `bun:",pk"`
	KeyID         string
	Ciphertext    []byte
	Fingerprint   string
	UpdatedAt     time.Time
	VersionID     string    // the secret version it came from, "" when none
	ExpiresAt     time.Time `bun:",nullzero"` // when a previous app secret stops being accepted
}

func newSecretRow(channelID string, kind aicc.SecretKind, s aicc.SealedSecret) *secretRow {
	return &secretRow{
		ChannelID: channelID, Kind: string(kind),
		KeyID: s.KeyID, Ciphertext: s.Ciphertext, Fingerprint: s.Fingerprint, UpdatedAt: norm(s.UpdatedAt),
	}
}

func (r *secretRow) sealed() aicc.SealedSecret {
	return aicc.SealedSecret{KeyID: r.KeyID, Ciphertext: r.Ciphertext, Fingerprint: r.Fingerprint, UpdatedAt: utc(r.UpdatedAt)}
}

type pageRow struct {
	bun.BaseModel     `bun:"table:pages"`
	PageID            string `bun:",pk"`
	ChannelID         string `bun:",pk"`
	TenantID          string
	Name              string
	TokenKeyID        string
	TokenCiphertext   []byte
	TokenFingerprint  string
	TokenUpdatedAt    time.Time
	TokenVersionID    string // the secret version the token came from, "" when none
	Status            string
	StatusReason      string
	TokenHealth       string
	TokenHealthReason string
	StateUpdatedAt    time.Time `bun:",nullzero"`
	ClaimedAt         time.Time `bun:",nullzero"`
	CreatedAt         time.Time
}

func newPageRow(p *aicc.Page, token aicc.SealedSecret) *pageRow {
	st := &p.State
	return &pageRow{
		PageID: p.PageID, ChannelID: p.ChannelID, TenantID: p.TenantID, Name: p.Name,
		TokenKeyID: token.KeyID, TokenCiphertext: token.Ciphertext, TokenFingerprint: token.Fingerprint,
		TokenUpdatedAt: norm(token.UpdatedAt),
		Status:         string(st.Status), StatusReason: st.Reason,
		TokenHealth: string(st.TokenHealth), TokenHealthReason: st.TokenHealthReason, StateUpdatedAt: norm(st.UpdatedAt),
		ClaimedAt: norm(p.ClaimedAt), CreatedAt: p.CreatedAt,
	}
}

func (r *pageRow) sealed() aicc.SealedSecret {
	return aicc.SealedSecret{
		KeyID: r.TokenKeyID, Ciphertext: r.TokenCiphertext, Fingerprint: r.TokenFingerprint, UpdatedAt: utc(r.TokenUpdatedAt),
	}
}

func (r *pageRow) domain() *aicc.Page {
	return &aicc.Page{
		PageID: r.PageID, ChannelID: r.ChannelID, TenantID: r.TenantID, Name: r.Name,
		Token: r.sealed().Info(),
		State: aicc.PageState{
			Status: aicc.PageStatus(r.Status), Reason: r.StatusReason,
			TokenHealth: aicc.TokenHealth(r.TokenHealth), TokenHealthReason: r.TokenHealthReason,
			UpdatedAt: utc(r.StateUpdatedAt),
		},
		ClaimedAt: utc(r.ClaimedAt), CreatedAt: utc(r.CreatedAt),
	}
}

func (r *pageRow) cursor() cursor { return cursor{Key: r.PageID} }

type secretVersionRow struct {
	bun.BaseModel `bun:"table:secret_versions"`
	ID            string `bun:",pk"`
	TenantID      string
	ChannelID     string
	Kind          string
	PageID        string
	KeyID         string
	Ciphertext    []byte
	Fingerprint   string
	CreatedAt     time.Time
}

func newSecretVersionRow(v *aicc.SecretVersion) *secretVersionRow {
	return &secretVersionRow{
		ID: v.ID, TenantID: v.TenantID, ChannelID: v.ChannelID, Kind: string(v.Kind), PageID: v.PageID,
		KeyID: v.Sealed.KeyID, Ciphertext: v.Sealed.Ciphertext, Fingerprint: v.Sealed.Fingerprint, CreatedAt: v.CreatedAt,
	}
}

// domain returns the version; its sealed value's UpdatedAt is the version's CreatedAt.
func (r *secretVersionRow) domain() *aicc.SecretVersion {
	return &aicc.SecretVersion{
		ID: r.ID, TenantID: r.TenantID, ChannelID: r.ChannelID, Kind: aicc.SecretKind(r.Kind), PageID: r.PageID,
		Sealed: aicc.SealedSecret{
			KeyID: r.KeyID, Ciphertext: r.Ciphertext, Fingerprint: r.Fingerprint, UpdatedAt: utc(r.CreatedAt),
		},
		CreatedAt: utc(r.CreatedAt),
	}
}

type certificateRow struct {
	bun.BaseModel `bun:"table:system_certificates"`
	ID            string `bun:",pk"`
	Subject       string
	Issuer        string
	NotBefore     time.Time
	NotAfter      time.Time
	SHA256        string `bun:"sha256"`
	PEM           string `bun:"pem"`
	CreatedAt     time.Time
}

func newCertificateRow(c *aicc.Certificate) *certificateRow {
	return &certificateRow{
		ID: c.ID, Subject: c.Subject, Issuer: c.Issuer, NotBefore: norm(c.NotBefore), NotAfter: norm(c.NotAfter),
		SHA256: c.SHA256, PEM: c.PEM, CreatedAt: c.CreatedAt,
	}
}

func (r *certificateRow) domain() *aicc.Certificate {
	return &aicc.Certificate{
		ID: r.ID, Subject: r.Subject, Issuer: r.Issuer, NotBefore: utc(r.NotBefore), NotAfter: utc(r.NotAfter),
		SHA256: r.SHA256, PEM: r.PEM, CreatedAt: utc(r.CreatedAt),
	}
}

type inboxRow struct {
	bun.BaseModel `bun:"table:inbox"`
	ID            int64 `bun:",pk,autoincrement"`
	TenantID      string
	ChannelID     string
	PageID        string
	PSID          string `bun:"psid"`
	Kind          string
	MID           string `bun:"mid"`
	Watermark     int64
	TS            int64 `bun:"ts"`
	DedupKey      string
	Text          string // "" when the text lies in Payload: TextLength bytes from TextOffset
	TextOffset    int
	TextLength    int
	Payload       []byte
	ReceivedAt    time.Time
	DeliveredAt   time.Time `bun:",nullzero"`
	Attempts      int
	LastError     string
	DeadAt        time.Time `bun:",nullzero"`
}

// newInboxRow returns the row of a new event. Its strings lose their NUL characters, which neither database
// takes in text: Meta's JSON may escape one, and an event that can never be stored would make Meta retry its
// POST forever. The payload keeps them. A text found byte for byte in the payload is kept as where it lies
// there, not a second time.
func newInboxRow(e *aicc.InboxEvent) inboxRow {
	payload := e.Payload
	if payload == nil {
		payload = []byte{} // NOT NULL
	}
	r := inboxRow{
		TenantID: noNUL(e.TenantID), ChannelID: noNUL(e.ChannelID), PageID: noNUL(e.PageID), PSID: noNUL(e.PSID),
		Kind: noNUL(string(e.Kind)), MID: noNUL(e.MID), Watermark: e.Watermark, TS: e.Timestamp,
		DedupKey: noNUL(e.DedupKey), Text: noNUL(e.Text), Payload: payload,
		ReceivedAt: norm(e.ReceivedAt), DeliveredAt: norm(e.DeliveredAt),
	}
	// A text with escapes (or a NUL, which noNUL dropped) is not in the payload as it is; one that is not UTF-8
	// stays where Postgres refuses it, as before.
	if r.Text != "" && len(r.Text) == len(e.Text) && utf8.ValidString(r.Text) {
		if i := indexIn(payload, r.Text); i >= 0 {
			r.Text, r.TextOffset, r.TextLength = "", i, len(r.Text)
		}
	}
	return r
}

// indexIn returns where s lies in b byte for byte, or -1. It reads b through a string that shares its bytes,
// which do not change meanwhile, rather than copy either for the search.
func indexIn(b []byte, s string) int {
	return strings.Index(unsafe.String(unsafe.SliceData(b), len(b)), s)
}

// text is the event's text: the Text column, or the payload's bytes it names.
func (r *inboxRow) text() string {
	if end := r.TextOffset + r.TextLength; r.TextLength > 0 && r.TextOffset >= 0 && end <= len(r.Payload) {
		return string(r.Payload[r.TextOffset:end])
	}
	return r.Text
}

func (r *inboxRow) domain() aicc.InboxEvent {
	e := aicc.InboxEvent{
		ID: r.ID, TenantID: r.TenantID, ChannelID: r.ChannelID, PageID: r.PageID, PSID: r.PSID,
		Kind: aicc.EventKind(r.Kind), MID: r.MID, Watermark: r.Watermark, Timestamp: r.TS, DedupKey: r.DedupKey,
		Text: r.text(), Payload: r.Payload, ReceivedAt: utc(r.ReceivedAt), DeliveredAt: utc(r.DeliveredAt),
		Attempts: r.Attempts, LastError: r.LastError, DeadAt: utc(r.DeadAt),
	}
	if len(e.Payload) == 0 {
		e.Payload = nil // the drivers disagree on whether an empty BLOB/bytea reads as nil
	}
	return e
}

func (r *inboxRow) cursor() eventCursor { return eventCursor{TS: r.TS, ID: r.ID} }

type conversationRow struct {
	bun.BaseModel         `bun:"table:conversations"`
	ID                    string `bun:",pk"`
	TenantID              string
	ChannelID             string
	PageID                string
	PSID                  string `bun:"psid"`
	Status                string
	MessageCount          int
	LastCustomerMessage   string
	LastCustomerMessageAt time.Time `bun:",nullzero"`
	LastAgentMessage      string
	LastAgentMessageAt    time.Time `bun:",nullzero"`
	StartedAt             time.Time
	EndedAt               time.Time `bun:",nullzero"`
	UpdatedAt             time.Time
	AppliedInboxIDs       []int64 `bun:"applied_inbox_ids,type:text"` // JSON
	Stage                 string
	QueueID               string
	AgentID               string
	LastAgentID           string
	LastAgentAt           time.Time `bun:",nullzero"`
	EndReason             string
	Timers                []aicc.ConversationTimer `bun:"timers,type:text"` // JSON
}

func newConversationRow(c *aicc.Conversation) *conversationRow {
	applied, timers := c.AppliedInboxIDs, c.Timers
	if applied == nil {
		applied = []int64{} // JSON [], not null
	}
	if timers == nil {
		timers = []aicc.ConversationTimer{}
	}
	return &conversationRow{
		ID: c.ID, TenantID: c.TenantID, ChannelID: c.ChannelID, PageID: c.PageID, PSID: c.PSID,
		Status: string(c.Status), MessageCount: c.MessageCount,
		LastCustomerMessage: noNUL(c.LastCustomerMessage), LastCustomerMessageAt: norm(c.LastCustomerMessageAt),
		LastAgentMessage: noNUL(c.LastAgentMessage), LastAgentMessageAt: norm(c.LastAgentMessageAt),
		StartedAt: norm(c.StartedAt), EndedAt: norm(c.EndedAt), UpdatedAt: norm(c.UpdatedAt), AppliedInboxIDs: applied,
		Stage: string(c.Stage), QueueID: c.QueueID, AgentID: c.AgentID, LastAgentID: c.LastAgentID,
		LastAgentAt: norm(c.LastAgentAt), EndReason: string(c.EndReason), Timers: timers,
	}
}

func (r *conversationRow) domain() *aicc.Conversation {
	return &aicc.Conversation{
		ID: r.ID, TenantID: r.TenantID, ChannelID: r.ChannelID, PageID: r.PageID, PSID: r.PSID,
		Status: aicc.ConversationStatus(r.Status), MessageCount: r.MessageCount,
		LastCustomerMessage: r.LastCustomerMessage, LastCustomerMessageAt: utc(r.LastCustomerMessageAt),
		LastAgentMessage: r.LastAgentMessage, LastAgentMessageAt: utc(r.LastAgentMessageAt),
		StartedAt: utc(r.StartedAt), EndedAt: utc(r.EndedAt), UpdatedAt: utc(r.UpdatedAt),
		AppliedInboxIDs: r.AppliedInboxIDs, Stage: aicc.ConversationStage(r.Stage), QueueID: r.QueueID,
		AgentID: r.AgentID, LastAgentID: r.LastAgentID, LastAgentAt: utc(r.LastAgentAt),
		EndReason: aicc.EndReason(r.EndReason), Timers: r.Timers,
	}
}

func (r *conversationRow) cursor() cursor { return cursor{r.UpdatedAt, r.ID} }

type auditRow struct {
	bun.BaseModel `bun:"table:audit_log"`
	ID            int64 `bun:",pk,autoincrement"`
	TenantID      string
	ChannelID     string
	ActorType     string
	ActorTokenID  string
	ActorRole     string
	ActorCommand  string
	Action        string
	TargetType    string
	TargetID      string
	Details       map[string]string
	RequestID     string
	At            time.Time
}

func newAuditRow(e *aicc.AuditEntry) *auditRow {
	details := e.Details
	if details == nil {
		details = map[string]string{} // NOT NULL
	}
	return &auditRow{
		TenantID: e.TenantID, ChannelID: e.ChannelID,
		ActorType: string(e.Actor.Type), ActorTokenID: e.Actor.TokenID, ActorRole: string(e.Actor.Role),
		ActorCommand: e.Actor.Command, Action: string(e.Action),
		TargetType: string(e.Target.Type), TargetID: e.Target.ID,
		Details: details, RequestID: e.RequestID, At: norm(e.At),
	}
}

func (r *auditRow) domain() *aicc.AuditEntry {
	return &aicc.AuditEntry{
		ID: r.ID, TenantID: r.TenantID, ChannelID: r.ChannelID,
		Actor: aicc.AuditActor{
			Type: aicc.AuditActorType(r.ActorType), TokenID: r.ActorTokenID, Role: aicc.Role(r.ActorRole),
			Command: r.ActorCommand,
		},
		Action: aicc.AuditAction(r.Action), Target: aicc.AuditTarget{Type: aicc.AuditTargetType(r.TargetType), ID: r.TargetID},
		Details: r.Details, RequestID: r.RequestID, At: utc(r.At),
	}
}

type exportRow struct {
	bun.BaseModel `bun:"table:exports"`
	ID            string `bun:",pk"`
	TenantID      string
	Selection     aicc.ExportSelection
	Format        string
	Status        string
	ErrorCode     string
	Total         int
	RecordsDone   int
	FilesDone     int
	Files         []aicc.ExportFile
	CreatedBy     actorJSON
	CreatedAt     time.Time
	StartedAt     time.Time `bun:",nullzero"`
	FinishedAt    time.Time `bun:",nullzero"`
	ExpiresAt     time.Time `bun:",nullzero"`
	UpdatedAt     time.Time
}

// actorJSON is an audit actor as a JSON column keeps it.
type actorJSON struct {
	Type    string `json:"type"`
	TokenID string `json:"tokenId"`
	Role    string `json:"role"`
	Command string `json:"command"`
}

// newExportRow returns the row of e. Its times are normalised; no files and no channel IDs are stored as
// empty, as a read returns them.
func newExportRow(e *aicc.Export) *exportRow {
	sel, files := e.Selection, e.Files
	if len(sel.ChannelIDs) == 0 {
		sel.ChannelIDs = nil // omitted from the JSON, so it reads as nil
	}
	if files == nil {
		files = []aicc.ExportFile{} // NOT NULL
	}
	a := e.CreatedBy
	return &exportRow{
		ID: e.ID, TenantID: e.TenantID, Selection: sel, Format: string(e.Format), Status: string(e.Status),
		ErrorCode: e.ErrorCode, Total: e.Total, RecordsDone: e.RecordsDone, FilesDone: e.FilesDone, Files: files,
		CreatedBy: actorJSON{Type: string(a.Type), TokenID: a.TokenID, Role: string(a.Role), Command: a.Command},
		CreatedAt: norm(e.CreatedAt), StartedAt: norm(e.StartedAt), FinishedAt: norm(e.FinishedAt),
		ExpiresAt: norm(e.ExpiresAt), UpdatedAt: norm(e.UpdatedAt),
	}
}

func (r *exportRow) domain() *aicc.Export {
	a := r.CreatedBy
	return &aicc.Export{
		ID: r.ID, TenantID: r.TenantID, Selection: r.Selection, Format: aicc.ExportFormat(r.Format),
		Status: aicc.ExportStatus(r.Status), ErrorCode: r.ErrorCode,
		Total: r.Total, RecordsDone: r.RecordsDone, FilesDone: r.FilesDone, Files: r.Files,
		CreatedBy: aicc.AuditActor{
			Type: aicc.AuditActorType(a.Type), TokenID: a.TokenID, Role: aicc.Role(a.Role), Command: a.Command,
		},
		CreatedAt: utc(r.CreatedAt), StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt),
		ExpiresAt: utc(r.ExpiresAt), UpdatedAt: utc(r.UpdatedAt),
	}
}

func (r *exportRow) cursor() cursor { return cursor{r.CreatedAt, r.ID} }

// noNUL returns s without NUL characters, which Bun refuses to put in a string literal.
func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// norm returns t as both databases store it: in UTC, to the microsecond. The zero time stays zero.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// utc returns a time read from the database in UTC; NULL reads as the zero time and stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// stamp prepares a new row: an empty ID gets a new one with prefix, and the creation time is prepared by
// created.
func stamp(id *string, prefix string, at *time.Time) {
	if *id == "" {
		*id = aicc.NewID(prefix)
	}
	created(at)
}

// created sets a zero creation time to now and normalises it, so that the caller's value equals what a later
// read returns.
func created(at *time.Time) {
	if at.IsZero() {
		*at = time.Now()
	}
	*at = norm(*at)
}
