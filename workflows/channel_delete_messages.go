package workflows

import "github.com/aiccfb/aicc/activities"

// ChannelDeleteWorkflowID is the ID of a channel's deletion: one per channel, which a second DELETE joins.
func ChannelDeleteWorkflowID(channelID string) string { return "channel-delete/" + channelID }

// ChannelDeleteWorkflowType is the name ChannelDelete is registered under.
const ChannelDeleteWorkflowType = "ChannelDelete"

// ChannelDeleteInput names the channel to delete; the deletion passes it on to its activities as it is.
type ChannelDeleteInput = activities.ChannelInput

// UpdateAwaitDeleting answers the ChannelDeleteState once the channel is recorded as deleting (or found gone).
const UpdateAwaitDeleting = "await-deleting"

// ChannelDeleteState is where a deletion is, as UpdateAwaitDeleting answers it.
type ChannelDeleteState struct {
	// Deleting is true once the channel is recorded as deleting.
	Deleting bool
	// Gone is true when the channel did not exist any more: nothing was left to delete.
	Gone bool
}
