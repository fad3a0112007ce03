package workflows

import (
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// ExportWorkflowID is the ID of an export's workflow: one per export.
func ExportWorkflowID(exportID string) string { return "export/" + exportID }

// ExportWorkflowType is the name Export is registered under.
const ExportWorkflowType = "Export"

// ExportInput starts an export, which the API stored pending; the workflow passes it on to its activities.
type ExportInput = activities.ExportInput

// UpdateCancelExport cancels an export that has not expired: a running one stops, and the files written are
// deleted. It answers the status the export ends in.
const UpdateCancelExport = "cancel"

// CancelExportRequest is the payload of UpdateCancelExport.
type CancelExportRequest struct{}

// ExportResult is how an export ended.
type ExportResult struct {
	Status    aicc.ExportStatus
	ErrorCode string
	Records   int
}

// exportActivityTimeout bounds one attempt at writing an export: 100,000 records take seconds to a minute; the
// heartbeat notices a dead worker long before.
const (
	exportActivityTimeout  = time.Hour
	exportHeartbeatTimeout = time.Minute
)
