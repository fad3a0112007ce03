package aicc

import (
	"context"
	"time"
)

// List limits for cursor pagination.
const (
	DefaultListLimit = 50
	MaxListLimit     = 200
)

// ListOptions asks for one page of a list: at most Limit items after the opaque Cursor of the previous page.
type ListOptions struct {
	Limit  int
	Cursor string
}

// ChannelFilter narrows a channel list. Name matches channels whose name contains it, ignoring case.
type ChannelFilter struct {
	ListOptions
	Status ChannelStatus
	Name   string
}

// Every store method returns *Error values with domain codes: ENOTFOUND for a missing row or a row of another
// tenant, ECHANNELNAMETAKEN, EAPPCONNECTED and EPAGECONNECTED for unique violations, EINVALID for a bad cursor,
// ECHANNELDELETING for a change to a channel whose deletion runs.
// List methods return the cursor of the next page, "" after the last one.

// TenantStore keeps tenants.
type TenantStore interface {
	CreateTenant(ctx context.Context, t *Tenant) error
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	ListTenants(ctx context.Context, opt ListOptions) ([]*Tenant, string, error)
}

// TokenStore keeps API tokens, hashed. A token call's tenantID scopes it: a tenant's tokens, "" for the
// sysadmins' tokens, or AnyTenant for every token.
type TokenStore interface {
	CreateToken(ctx context.Context, t *APIToken) error
	// FindToken returns the token with the given SHA-256 hash if it authenticates at now: an unknown, revoked or
	// expired token is ENOTFOUND alike. It reads the database on every call (no cache), so that a revocation
	// holds at once in every process.
	FindToken(ctx context.Context, hash []byte, now time.Time) (*APIToken, error)
	// TouchToken records that the token was used at at, unless the recorded use is less than
	// TokenTouchInterval older; it is a no-op for an unknown token.
	TouchToken(ctx context.Context, id string, at time.Time) error
	// ListTokens lists the tokens of tenantID (or AnyTenant), revoked and expired ones included, in creation
	// order.
	ListTokens(ctx context.Context, tenantID string, opt ListOptions) ([]*APIToken, string, error)
	// RevokeToken revokes the token of tenantID (or AnyTenant) with the given ID at at, and returns it with
	// revoked true; a token revoked already is returned as it is, with revoked false. A token of another tenant
	// is ENOTFOUND.
	RevokeToken(ctx context.Context, tenantID, id string, at time.Time) (tok *APIToken, revoked bool, err error)
}

// DirectoryStore keeps the tenant's OUs, skill queues and service calendars.
type DirectoryStore interface {
	CreateOU(ctx context.Context, ou *OU) error
	GetOU(ctx context.Context, tenantID, id string) (*OU, error)
	ListOUs(ctx context.Context, tenantID string, opt ListOptions) ([]*OU, string, error)

	CreateSkillQueue(ctx context.Context, q *SkillQueue) error
	GetSkillQueue(ctx context.Context, tenantID, id string) (*SkillQueue, error)
	ListSkillQueues(ctx context.Context, tenantID string, opt ListOptions) ([]*SkillQueue, string, error)

	CreateServiceCalendar(ctx context.Context, c *ServiceCalendar) error
	GetServiceCalendar(ctx context.Context, tenantID, id string) (*ServiceCalendar, error)
	ListServiceCalendars(ctx context.Context, tenantID string, opt ListOptions) ([]*ServiceCalendar, string, error)

	// GetRefs returns the tenant's OUs, skill queues and service calendars with the given IDs, in one query
	// per kind that has IDs; an ID that names none of the tenant's is absent from its map.
	GetRefs(ctx context.Context, tenantID string, ouIDs, queueIDs, calendarIDs []string) (Refs, error)
}

// ChannelSecrets are a new channel's sealed secrets.
type ChannelSecrets struct {
	AppSecret   SealedSecret
	VerifyToken SealedSecret
}

// ChannelStore keeps channels, their sealed secrets and their Pages.
type ChannelStore interface {
	// CreateChannel stores the channel and its secrets in one transaction.
	CreateChannel(ctx context.Context, ch *Channel, secrets ChannelSecrets) error
	GetChannel(ctx context.Context, tenantID, id string) (*Channel, error)
	// FindChannel looks a channel up by ID alone, for the public webhook route, whose URL carries no tenant.
	FindChannel(ctx context.Context, id string) (*Channel, error)
	// ListChannels lists the tenant's channels by name.
	ListChannels(ctx context.Context, tenantID string, f ChannelFilter) ([]*Channel, string, error)
	// ChannelsInStatus returns up to limit channels of every tenant that have been in status since before before.
	ChannelsInStatus(ctx context.Context, status ChannelStatus, before time.Time, limit int) ([]*Channel, error)
	// UpdateChannel writes the channel's name and basic and robot configuration, if they were last written at
	// readAt (the UpdatedAt of the channel as read); else CONFLICT: another change came in between.
	UpdateChannel(ctx context.Context, ch *Channel, readAt time.Time) error
	// DeleteChannel deletes the channel with its secrets and Pages.
	DeleteChannel(ctx context.Context, tenantID, id string) error
	// SetOnboarding records the onboarding state; it is idempotent.
	SetOnboarding(ctx context.Context, channelID string, o Onboarding) error
	// MarkChannelDeleting records that the channel's deletion runs; it is idempotent.
	MarkChannelDeleting(ctx context.Context, channelID string, at time.Time) error
	// ClaimApp makes the tenant's channel the one channel of its Meta app, once Meta confirmed its app
	// secret; EAPPCONNECTED when another channel claimed the app. Claiming twice changes nothing.
	ClaimApp(ctx context.Context, tenantID, channelID string, at time.Time) error
	ChannelSecret(ctx context.Context, channelID string, kind SecretKind) (SealedSecret, error)

	// SetChannelSecret replaces one secret of the channel.
	SetChannelSecret(ctx context.Context, channelID string, kind SecretKind, s SealedSecret) error

	// AddPage adds a Page to a channel of the page's tenant, with p.State as its first state, unclaimed; CONFLICT
	// when the channel has MaxChannelPages.
	// Every method on a Page names it by tenant, channel and Page ID: a Page ID alone may be on several
	// channels' Pages until one of them claims it.
	AddPage(ctx context.Context, p *Page, token SealedSecret) error
	GetPage(ctx context.Context, tenantID, channelID, pageID string) (*Page, error)
	ListPages(ctx context.Context, tenantID, channelID string, opt ListOptions) ([]*Page, string, error)
	RemovePage(ctx context.Context, tenantID, channelID, pageID string) error
	// ClaimPage makes the channel the one channel of the Page, once Meta confirmed that the Page's token is
	// its own; EPAGECONNECTED when another channel claimed the Page, ECONFLICT when the channel has not claimed
	// its app. Claiming twice changes nothing.
	ClaimPage(ctx context.Context, tenantID, channelID, pageID string, at time.Time) error
	// PageToken returns the Page's sealed access token.
	PageToken(ctx context.Context, tenantID, channelID, pageID string) (SealedSecret, error)
	// PagesInStatus returns up to limit Pages of every tenant that have been in status since before before.
	PagesInStatus(ctx context.Context, status PageStatus, before time.Time, limit int) ([]*Page, error)
	// SetPageStatus records the Page's connection status; the token health is left as it is.
	SetPageStatus(ctx context.Context, tenantID, channelID, pageID string, status PageStatus, reason string, at time.Time) error
	// CountPages counts the channel's Pages in the given status.
	CountPages(ctx context.Context, channelID string, status PageStatus) (int, error)
	// CountPagesByTokenHealth counts every Page of the system by token health, for metrics.
	CountPagesByTokenHealth(ctx context.Context) (map[TokenHealth]int, error)
	PageHealthStore
	RotationStore
}

// PageHealthStore keeps the health of Page tokens, of a Page of a tenant's channel.
type PageHealthStore interface {
	PageTokenHealth(ctx context.Context, tenantID, channelID, pageID string) (TokenHealth, error)
	// SetPageTokenHealth records the token health; reason is the error code that changed it, "" when healthy.
	SetPageTokenHealth(ctx context.Context, tenantID, channelID, pageID string, h TokenHealth, reason string, at time.Time) error
}

// CertificateStore keeps the system's Facebook authentication certificates.
type CertificateStore interface {
	AddCertificate(ctx context.Context, c *Certificate) error
	// ListCertificates returns every certificate, the one expiring last first.
	ListCertificates(ctx context.Context) ([]*Certificate, error)
}

// Store is everything the service keeps, as one database implements it.
type Store interface {
	TenantStore
	TokenStore
	DirectoryStore
	ChannelStore
	CertificateStore
	InboxStore
	ConversationStore
	AuditStore
	ExportStore
	OutboundStore
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}
