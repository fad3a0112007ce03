package workflows

import (
	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// TestMessageWorkflowID is the ID of one test message from a Page; key makes it unique.
func TestMessageWorkflowID(pageID, key string) string {
	return "test-message/" + aicc.PageRef(pageID) + "/" + key
}

// SendTestMessageWorkflowType is the name SendTestMessage is registered under.
const SendTestMessageWorkflowType = "SendTestMessage"

// TestMessageInput is the test message to send and the Page to send it from. It carries IDs and the message,
// never a secret.
type TestMessageInput = activities.SendTestMessageInput
