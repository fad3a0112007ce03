package aicc

import (
	"context"
	"slices"
	"time"
)

// Export limits: the seed's, and how long an export's files are kept.
const (
	MaxExportRecords       = 100_000 // channels in one export
	MaxExportFileRecords   = 2_000   // channels in one exported file
	MaxExportSelection     = 10_000  // channel IDs in one request; more is an export with filters
	ExportSchemaVersion    = 2       // the columns of exported files; raised when they change
	DefaultExportRetention = 7 * 24 * time.Hour
)

// ExportFormat is the format of an export's files.
type ExportFormat string

// Export formats.
const (
	ExportCSV   ExportFormat = "csv"
	ExportXLSX  ExportFormat = "xlsx"
	ExportJSONL ExportFormat = "jsonl"
)

// ExportFormats are every format, the default first.
var ExportFormats = []ExportFormat{ExportCSV, ExportXLSX, ExportJSONL}

// Valid reports whether f is a known format.
func (f ExportFormat) Valid() bool { return slices.Contains(ExportFormats, f) }

// ExportStatus is where an export task is.
type ExportStatus string

// Export statuses: pending → running → success | failed | cancelled; success → expired.
const (
	ExportPending   ExportStatus = "pending"
	ExportRunning   ExportStatus = "running"
	ExportSuccess   ExportStatus = "success"
	ExportFailed    ExportStatus = "failed"
	ExportCancelled ExportStatus = "cancelled"
	ExportExpired   ExportStatus = "expired"
)

// Finished reports whether the export will not change any more but by expiring.
func (s ExportStatus) Finished() bool {
	return s == ExportSuccess || s == ExportFailed || s == ExportCancelled || s == ExportExpired
}

// ExportSelection is which of the tenant's channels an export holds: the ChannelIDs, or with none, every
// channel the filters match.
type ExportSelection struct {
	ChannelIDs []string      `json:"channelIds,omitempty"`
	Status     ChannelStatus `json:"status,omitempty"`
	Name       string        `json:"name,omitempty"` // channels whose name contains it, ignoring case
}

// Export is an export task and, once it succeeded, its files.
type Export struct {
	ID        string
	TenantID  string
	Selection ExportSelection
	Format    ExportFormat
	Status    ExportStatus
	ErrorCode string // why it failed
	// Total is how many channels the selection matched when the export was asked for; RecordsDone and
	// FilesDone are its progress.
	Total       int
	RecordsDone int
	FilesDone   int
	Files       []ExportFile // in order, once it succeeded
	CreatedBy   AuditActor
	CreatedAt   time.Time
	StartedAt   time.Time
	FinishedAt  time.Time
	ExpiresAt   time.Time // when its files are deleted, once it succeeded
	UpdatedAt   time.Time
}

// ExportFile is one file of an export.
type ExportFile struct {
	Name    string `json:"name"` // channels-0001.csv, …
	Records int    `json:"records"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"` // hex
}

// ExportProgress is the progress an export's workflow records.
type ExportProgress struct {
	Status      ExportStatus
	ErrorCode   string
	Total       int
	RecordsDone int
	FilesDone   int
	Files       []ExportFile
	StartedAt   time.Time
	FinishedAt  time.Time
	ExpiresAt   time.Time
	UpdatedAt   time.Time
}

// ExportRecord is one channel as it is exported: everything of its Basic and Robot Configuration, its name,
// app ID, algorithm, status and Pages. It has no field that could hold a secret (app secret, verify token, Page
// token), so no export can carry one.
type ExportRecord struct {
	ChannelID string
	Name      string
	AppID     string
	Algorithm SignatureAlgorithm
	Status    ChannelStatus
	Basic     BasicConfig
	Robot     RobotConfig
	Pages     []ExportPage // by Page ID
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ExportPage is a Page of an exported channel.
type ExportPage struct {
	PageID string
	Name   string
}

// ExportStore keeps export tasks and reads the channels they export.
type ExportStore interface {
	// MatchExportChannels counts the tenant's channels sel matches. With sel.ChannelIDs it also returns those
	// that are not the tenant's channels (another tenant's are as unknown as missing ones), sorted.
	MatchExportChannels(ctx context.Context, tenantID string, sel ExportSelection) (n int, unknown []string, err error)
	// ExportRecords returns up to limit records of the channels sel matches whose ID is greater than after, in
	// ID order: keyset pagination, so reading on costs the same at any position.
	ExportRecords(ctx context.Context, tenantID string, sel ExportSelection, after string, limit int) ([]ExportRecord, error)
	CreateExport(ctx context.Context, e *Export) error
	GetExport(ctx context.Context, tenantID, id string) (*Export, error)
	// ListExports lists the tenant's exports, the newest first.
	ListExports(ctx context.Context, tenantID string, opt ListOptions) ([]*Export, string, error)
	// SetExportProgress records the export's progress; it is an idempotent overwrite.
	SetExportProgress(ctx context.Context, id string, p ExportProgress) error
	// ExportsInStatus returns up to limit exports of every tenant that have been in status since before before.
	ExportsInStatus(ctx context.Context, status ExportStatus, before time.Time, limit int) ([]*Export, error)
}
