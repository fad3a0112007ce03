package workflows

import (
	"errors"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
)

// Search attributes set on every workflow of a channel, so that operators can filter by tenant and channel in
// the Temporal Web UI. worker.RegisterSearchAttributes adds them to the namespace.
var (
	SearchAttributeTenantID  = temporal.NewSearchAttributeKeyKeyword("TenantId")
	SearchAttributeChannelID = temporal.NewSearchAttributeKeyKeyword("ChannelId")
)

// StartOnboardingOptions are the options to start the onboarding of in.ChannelID with. A running onboarding of
// the same channel makes the start fail (DomainError turns that into EONBOARDINGSTARTED); a finished one may be
// started again.
func StartOnboardingOptions(in OnboardingInput) client.StartWorkflowOptions {
	return exclusiveStart(OnboardingWorkflowID(in.ChannelID), in.TenantID, in.ChannelID)
}

// StartConnectPageOptions are the options to start ConnectPage for in.PageID with. A connection of the same
// Page that is still running makes the start fail; a finished one may be started again.
func StartConnectPageOptions(in PageInput) client.StartWorkflowOptions {
	return exclusiveStart(ConnectPageWorkflowID(in.PageID), in.TenantID, in.ChannelID)
}

// StartDisconnectPageOptions are the options to start DisconnectPage for in.PageID with. A disconnection of the
// same Page that is still running makes the start fail; a finished one may be started again.
func StartDisconnectPageOptions(in PageInput) client.StartWorkflowOptions {
	return exclusiveStart(DisconnectPageWorkflowID(in.PageID), in.TenantID, in.ChannelID)
}

// StartConversationOptions are the options the dispatcher signals-with-start the conversation between pageID of
// channelID and the customer psid with: the running workflow gets the signal, and when there is none (never
// started, or its run ended) a new one is started.
func StartConversationOptions(tenantID, channelID, pageID, psid string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       ConversationWorkflowID(channelID, pageID, psid),
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    channelSearchAttributes(tenantID, channelID),
	}
}

// exclusiveStart are the options of a workflow that runs once at a time per ID: a start while one runs fails,
// a start after it finished runs again.
func exclusiveStart(id, tenantID, channelID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:        id,
		TaskQueue: TaskQueue,
		// Without this the client silently returns the running execution instead of an error.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes:                    channelSearchAttributes(tenantID, channelID),
	}
}

// channelSearchAttributes tag a workflow with its tenant and channel for the Web UI's filters.
func channelSearchAttributes(tenantID, channelID string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		SearchAttributeTenantID.ValueSet(tenantID),
		SearchAttributeChannelID.ValueSet(channelID),
	)
}

// DomainError turns an error the Temporal client returned for a start, signal, update or query of an
// onboarding into an *aicc.Error when it has a domain meaning:
//   - an ApplicationError, also wrapped in an update or workflow execution error, whose type is an aicc code
//     (a rejected update, a failed workflow) becomes that code with the error's message;
//   - WorkflowExecutionAlreadyStarted becomes EONBOARDINGSTARTED;
//   - NotFound (the workflow is closed or gone) becomes EONBOARDINGFINISHED.
//
// Any other error is returned unchanged, and nil stays nil.
func DomainError(err error) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && aicc.IsCode(appErr.Type()) {
		return &aicc.Error{Code: appErr.Type(), Message: appErr.Message()}
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return aicc.Errorf(aicc.EONBOARDINGSTARTED, "The channel's onboarding is already running.")
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return aicc.Errorf(aicc.EONBOARDINGFINISHED, "The channel's onboarding is over.")
	}
	return err
}
