// Package activities holds the Temporal activities of aicc: the workflows' only way to touch the database and
// Meta. Every activity is idempotent, because Temporal retries them.
package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
)

// Activities carries the dependencies of every activity. Register a pointer to it with the worker; workflows
// reference its methods through a nil *Activities.
type Activities struct {
	Channels      aicc.ChannelStore
	Directory     aicc.DirectoryStore // skill queues and service calendars, for the conversations' settings
	Certificates  aicc.CertificateStore
	Conversations aicc.ConversationStore
	// Inbox tells a conversation whether events of it are still to be delivered.
	Inbox aicc.InboxStore
	// Audit appends the audit entries of the changes the rotation activities make, in their transaction.
	Audit aicc.AuditStore
	// Exports, ExportFiles and ExportMetrics serve the export activities.
	Exports       aicc.ExportStore
	ExportFiles   ExportFiles
	ExportMetrics *ExportMetrics
	// Keyring opens the sealed Page tokens and app secrets, in memory, for the duration of one Graph call.
	Keyring *aicc.Keyring
	// Graph gives the Graph client of the moment (it trusts the certificates uploaded at the time of the call).
	Graph aicc.GraphProvider
	// Outbound records the conversations' messages to customers, so that each is sent at most once; Pacer
	// keeps their Send API calls within each Page's budget (nil: unpaced), and OutboundMetrics counts them.
	Outbound        aicc.OutboundStore
	Pacer           *Pacer
	OutboundMetrics *OutboundMetrics
	// Robots finds the robot of a channel's access code, for AskRobot.
	Robots aicc.Robots
	Now    func() time.Time
}

// RecordOnboardingInput is the state to write for a channel.
type RecordOnboardingInput struct {
	ChannelID  string
	Onboarding aicc.Onboarding
}

// RecordOnboarding writes the onboarding state to the database, so lists and filters never ask Temporal.
// The write is an idempotent overwrite. A channel being deleted keeps its deleting status and the state is
// dropped: the deletion ends the onboarding, and there is nothing left to record. Another domain error of the
// store (the channel no longer exists) comes back as an ApplicationError typed with its code, so the caller's
// retry policy can stop on it.
func (a *Activities) RecordOnboarding(ctx context.Context, in RecordOnboardingInput) error {
	err := a.Channels.SetOnboarding(ctx, in.ChannelID, in.Onboarding)
	if aicc.ErrorCode(err) == aicc.ECHANNELDELETING {
		activity.GetLogger(ctx).Info("The channel is being deleted; its onboarding state is not recorded",
			"ChannelID", in.ChannelID, "Status", in.Onboarding.Status)
		return nil
	}
	return domainError(err)
}

// domainError turns an *aicc.Error into a retryable ApplicationError whose type is the error's code and whose
// message is its safe message; the call site lists the codes that must not be retried. Other errors (a
// database that does not answer) are returned as they are and retried.
func domainError(err error) error {
	var e *aicc.Error
	if !errors.As(err, &e) {
		return err
	}
	return temporal.NewApplicationErrorWithCause(e.Message, e.Code, err)
}

// NonRetryable turns an *aicc.Error into a non-retryable ApplicationError whose type is the error's code and
// whose message is its safe message: retrying cannot change the outcome. The cause is not attached, so nothing
// but the safe message travels in the workflow history. Workflows use it for their own business failures too;
// workflows.DomainError turns it back into the *aicc.Error on the client side. Other errors are returned as
// they are.
func NonRetryable(err error) error {
	var e *aicc.Error
	if !errors.As(err, &e) {
		return err
	}
	return refusal(e.Message, e.Code)
}

// refusal is the non-retryable ApplicationError of an answer no retry can change. Unless it is an internal
// error it is benign: an expected business outcome (a refused token, a channel being deleted, an input that
// breaks a rule), which the SDK logs and counts as such instead of as a failure.
func refusal(msg, code string) error {
	opts := temporal.ApplicationErrorOptions{NonRetryable: true}
	if code != aicc.EINTERNAL {
		opts.Category = temporal.ApplicationErrorCategoryBenign
	}
	return temporal.NewApplicationErrorWithOptions(msg, code, opts)
}
