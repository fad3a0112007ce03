package aicc

import (
	"context"
	"slices"
	"time"
)

// AuditAction names what an audit entry records.
type AuditAction string

// Audited actions. The tenant's actions are listed per channel and per tenant; the system's (certificates,
// tenants, API tokens) only by the sysadmin. An action whose change is a workflow's records the request that
// started it (the "_requested" actions): the entry says who asked, not that the workflow has finished.
const (
	AuditChannelCreate          AuditAction = "channel.create"
	AuditChannelUpdate          AuditAction = "channel.update"
	AuditChannelDeleteRequested AuditAction = "channel.delete_requested"
	AuditOnboardingStart        AuditAction = "channel.onboarding.start"
	AuditOnboardingConfirm      AuditAction = "channel.onboarding.confirm"
	AuditOnboardingCancel       AuditAction = "channel.onboarding.cancel"
	AuditVerifyTokenReplace     AuditAction = "channel.verify_token.replace"
	AuditAppSecretChange        AuditAction = "channel.app_secret.change"
	AuditRotationRevokePrevious AuditAction = "channel.rotation.revoke_previous"
	AuditPageAdd                AuditAction = "page.add"
	AuditPageRemoveRequested    AuditAction = "page.remove_requested"
	AuditPageTokenSecretChange  AuditAction = "page.token_secret.change"
	AuditCertificateUpload      AuditAction = "certificate.upload"
	AuditTenantCreate           AuditAction = "tenant.create"
	AuditTokenCreate            AuditAction = "token.create"
	AuditTokenRevoke            AuditAction = "token.revoke"
	AuditDeadLetterRetry        AuditAction = "dead_letter.retry"
)

// AuditActions is every audited action.
var AuditActions = []AuditAction{
	AuditChannelCreate, AuditChannelUpdate, AuditChannelDeleteRequested, AuditOnboardingStart,
	AuditOnboardingConfirm, AuditOnboardingCancel, AuditVerifyTokenReplace,
	AuditAppSecretChange, AuditRotationRevokePrevious, AuditPageAdd, AuditPageRemoveRequested,
	AuditPageTokenSecretChange, AuditCertificateUpload, AuditTenantCreate, AuditTokenCreate, AuditTokenRevoke,
	AuditDeadLetterRetry,
}

// Valid reports whether a is a known action.
func (a AuditAction) Valid() bool { return slices.Contains(AuditActions, a) }

// AuditActorType tells who made an audited change.
type AuditActorType string

// Actor types.
const (
	ActorToken AuditActorType = "api_token" // an API request, authenticated by an API token
	ActorCLI   AuditActorType = "cli"       // an operator's command on the server (aicc tokens create, aicc dev)
)

// AuditActor is who made an audited change: an API token (its ID and role, never its value) or an operator's
// command line.
type AuditActor struct {
	Type    AuditActorType
	TokenID string // ActorToken
	Role    Role   // ActorToken
	Command string // ActorCLI: the command, e.g. "aicc tokens create"
}

// TokenActor is the actor of an API request.
func TokenActor(p Principal) AuditActor {
	return AuditActor{Type: ActorToken, TokenID: p.TokenID, Role: p.Role}
}

// CLIActor is the actor of an operator's command.
func CLIActor(command string) AuditActor { return AuditActor{Type: ActorCLI, Command: command} }

// AuditTargetType names the kind of resource an audit entry is about.
type AuditTargetType string

// Target types.
const (
	TargetChannel     AuditTargetType = "channel"
	TargetPage        AuditTargetType = "page"
	TargetCertificate AuditTargetType = "certificate"
	TargetTenant      AuditTargetType = "tenant"
	TargetToken       AuditTargetType = "api_token"
	TargetDeadLetter  AuditTargetType = "dead_letter" // an inbox event, by its ID
)

// AuditTarget is the resource an audit entry is about.
type AuditTarget struct {
	Type AuditTargetType
	ID   string
}

// Detail keys of audit entries. Their values are facts that are no secret: IDs, names, the names of changed
// fields, and for a secret only its fingerprint (SealedSecret.Fingerprint), never its value.
const (
	DetailAppSecretFingerprint   = "appSecretFingerprint"
	DetailVerifyTokenFingerprint = "verifyTokenFingerprint"
	DetailPreviousFingerprint    = "previousFingerprint"
	DetailTokenSecretFingerprint = "tokenSecretFingerprint"
	DetailPreviousUntil          = "previousUntil" // RFC 3339: until when the previous app secret is accepted
	DetailChangedFields          = "changedFields" // comma-separated JSON field paths, e.g. "basic.workTime,name"
	DetailName                   = "name"
	DetailAppID                  = "appId"
	DetailAlgorithm              = "algorithm"
	DetailRole                   = "role"
	DetailTenantID               = "tenantId"
	DetailExpiresAt              = "expiresAt" // RFC 3339: when an API token expires
	DetailCertificateSubject     = "subject"
	DetailCertificateSHA256      = "sha256"
	DetailCertificateNotAfter    = "notAfter"
	DetailConversationID         = "conversationId"
)

// AuditEntry records one change: who made it, what, on which resource and when. Entries are append-only: no
// store method changes or deletes one.
type AuditEntry struct {
	// ID increases with every entry appended; lists are newest first by ID.
	ID int64
	// TenantID is the tenant whose resource changed; "" for a system entry (certificates, tenants, tokens).
	TenantID string
	// ChannelID is the channel the change concerns, if any (a channel's own changes and its Pages').
	ChannelID string
	Actor     AuditActor
	Action    AuditAction
	Target    AuditTarget
	// Details are small non-secret facts (the Detail keys); never a secret's value.
	Details map[string]string
	// RequestID is the API request's ID (X-Request-ID), which the request's log lines carry; "" for the CLI.
	RequestID string
	At        time.Time
}

// Validate checks that the entry is complete enough to append.
func (e *AuditEntry) Validate() error {
	fe := FieldErrors{}
	if !e.Action.Valid() {
		fe.Add("action", "is not an audited action")
	}
	switch e.Actor.Type {
	case ActorToken:
		if e.Actor.TokenID == "" || !e.Actor.Role.Valid() {
			fe.Add("actor", "needs the token ID and role")
		}
	case ActorCLI:
		if e.Actor.Command == "" {
			fe.Add("actor", "needs the command")
		}
	default:
		fe.Add("actor", "has no known type")
	}
	if e.Target.Type == "" || e.Target.ID == "" {
		fe.Add("target", "needs a type and an ID")
	}
	if e.At.IsZero() {
		fe.Add("at", "is required")
	}
	return fe.Err()
}

// AuditFilter selects one of the three audit lists: a tenant's (TenantID), one channel of it (TenantID and
// ChannelID), or the system's (neither).
type AuditFilter struct {
	ListOptions
	TenantID  string
	ChannelID string
}

// AuditStore keeps the audit log.
type AuditStore interface {
	// Audited runs change and appends e in one transaction, so that the entry exists exactly when the change
	// committed: when change fails, nothing of it nor the entry is kept. change must make its writes through
	// the store methods that join the audit transaction, called with the ctx it is given: CreateChannel,
	// UpdateChannel, SetChannelSecret, AddPage, AddCertificate, CreateTenant, CreateToken, RevokeToken and
	// RetryDeadLetter; a change that joins none is an error. It may call no other store method: on SQLite the
	// audit transaction holds the one connection, and such a call would wait for it forever. change may complete
	// e with what it learns (the ChannelID and Details of the resource it changed): the entry appended is e as
	// change leaves it. A nil change appends e alone, for a request whose change a workflow makes.
	// e.ID is set once appended; a zero e.At is now.
	Audited(ctx context.Context, e *AuditEntry, change func(ctx context.Context) error) error
	// ListAudit lists the entries of f, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, string, error)
}
