package workflows

import (
	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// ConnectPageWorkflowID is the ID of the workflow that connects a Page of a channel: one at a time per Page of
// the channel. Other channels may have the same Page ID (unclaimed), and their connections must neither wait
// for this one nor learn that it runs. Like every workflow ID of a Page, it names the Page by aicc.PageRef:
// Temporal shows IDs in clear.
func ConnectPageWorkflowID(channelID, pageID string) string {
	return "page-connect/" + channelID + "/" + aicc.PageRef(pageID)
}

// DisconnectPageWorkflowID is the ID of the workflow that disconnects a Page of a channel.
func DisconnectPageWorkflowID(channelID, pageID string) string {
	return "page-disconnect/" + channelID + "/" + aicc.PageRef(pageID)
}

// PageInput names a Page of a channel; the Page workflows pass it on to their activities as it is.
type PageInput = activities.PageInput

// ConnectPageResult is how connecting a Page ended.
type ConnectPageResult struct {
	// Status is subscribed, subscription_failed (the Page is kept; Reason says why), token_invalid (Meta
	// refused the token; the Page has been removed) or already_connected (another channel claimed the Page;
	// the Page has been removed).
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
