package workflows

import "github.com/aiccfb/aicc"

// ConnectPageWorkflowID is the ID of the workflow that connects a Page: one at a time per Page.
func ConnectPageWorkflowID(pageID string) string { return "page-connect/" + pageID }

// DisconnectPageWorkflowID is the ID of the workflow that disconnects a Page.
func DisconnectPageWorkflowID(pageID string) string { return "page-disconnect/" + pageID }

// PageInput names a Page of a channel. It carries IDs only: activities unseal the token and the app secret.
type PageInput struct {
	TenantID  string
	ChannelID string
	PageID    string
}

// ConnectPageResult is how connecting a Page ended.
type ConnectPageResult struct {
	// Status is subscribed, subscription_failed (the Page is kept; Reason says why) or token_invalid (Meta
	// refused the token; the Page has been removed).
	Status aicc.PageStatus
	// Reason is the error code behind a status other than subscribed.
	Reason string
	// Message explains Reason to the administrator; it never holds a secret.
	Message string
}

// Workflow types ConnectPage and DisconnectPage are registered under. They are fixed, so that renaming the Go
// functions never orphans running executions.
const (
	ConnectPageWorkflowType    = "ConnectPage"
	DisconnectPageWorkflowType = "DisconnectPage"
)
