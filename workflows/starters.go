package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
)

// The typed starters below are the only way the API and the dispatcher reach a workflow: each starts, signals,
// updates or queries one workflow by its registered type name and message names, and turns the client's errors
// into domain errors that name that workflow (see workflowErrors).

// Search attributes set on every workflow of a channel, so that operators can filter by tenant and channel in
// the Temporal Web UI. worker.RegisterSearchAttributes adds them to the namespace.
var (
	SearchAttributeTenantID  = temporal.NewSearchAttributeKeyKeyword("TenantId")
	SearchAttributeChannelID = temporal.NewSearchAttributeKeyKeyword("ChannelId")
)

// StartOnboarding starts the onboarding of in.ChannelID and waits until it has recorded its first step:
// awaiting_verification, or failed when the Facebook authentication certificate is missing. It returns that
// state. A running onboarding of the channel is EONBOARDINGSTARTED; a finished one may be started again.
func StartOnboarding(ctx context.Context, c client.Client, in OnboardingInput) (OnboardingState, error) {
	start := c.NewWithStartWorkflowOperation(exclusiveStart(OnboardingWorkflowID(in.ChannelID), in.TenantID, in.ChannelID),
		OnboardingWorkflowType, in)
	var st OnboardingState
	err := updateWithStart(ctx, c, start, UpdateStarted, "", &st)
	return st, onboardingErrors.domain(err)
}

// ConfirmOnboarding sends UpdateConfirm to the channel's onboarding and returns the state it recorded (active).
func ConfirmOnboarding(ctx context.Context, c client.Client, channelID string) (OnboardingState, error) {
	return updateOnboarding(ctx, c, channelID, UpdateConfirm, ConfirmRequest{})
}

// CancelOnboarding sends UpdateCancel to the channel's onboarding and returns the state it recorded (cancelled).
func CancelOnboarding(ctx context.Context, c client.Client, channelID string) (OnboardingState, error) {
	return updateOnboarding(ctx, c, channelID, UpdateCancel, CancelRequest{})
}

func updateOnboarding(ctx context.Context, c client.Client, channelID, name string, req any) (OnboardingState, error) {
	var st OnboardingState
	err := update(ctx, c, OnboardingWorkflowID(channelID), name, req, &st)
	return st, onboardingErrors.domain(err)
}

// QueryOnboarding returns the live state of the channel's onboarding; EONBOARDINGFINISHED when none runs.
func QueryOnboarding(ctx context.Context, c client.Client, channelID string) (OnboardingState, error) {
	var st OnboardingState
	err := query(ctx, c, OnboardingWorkflowID(channelID), QueryState, &st)
	return st, onboardingErrors.domain(err)
}

// NotifyMetaVerified signals the channel's onboarding that Meta verified the callback URL at at;
// EONBOARDINGFINISHED when none runs.
func NotifyMetaVerified(ctx context.Context, c client.Client, channelID string, at time.Time) error {
	err := c.SignalWorkflow(ctx, OnboardingWorkflowID(channelID), "", SignalMetaVerified, MetaVerifiedSignal{At: at})
	return onboardingErrors.domain(err)
}

// StartConnectPage starts ConnectPage for in.PageID. A connection of the Page that is still running is
// EPAGECONNECTING; a finished one may be started again.
func StartConnectPage(ctx context.Context, c client.Client, in PageInput) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, exclusiveStart(ConnectPageWorkflowID(in.ChannelID, in.PageID), in.TenantID, in.ChannelID),
		ConnectPageWorkflowType, in)
	return run, connectPageErrors.domain(err)
}

// StartDisconnectPage starts DisconnectPage for in.PageID. A disconnection of the Page that is still running is
// EPAGEDISCONNECTING; a finished one may be started again.
func StartDisconnectPage(ctx context.Context, c client.Client, in PageInput) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, exclusiveStart(DisconnectPageWorkflowID(in.ChannelID, in.PageID), in.TenantID, in.ChannelID),
		DisconnectPageWorkflowType, in)
	return run, disconnectPageErrors.domain(err)
}

// DeleteChannel starts the deletion of in.ChannelID, or joins the one that runs, and returns once the channel
// is recorded as deleting (or found gone). It is idempotent: a second call during the deletion gets the same
// state.
func DeleteChannel(ctx context.Context, c client.Client, in ChannelDeleteInput) (ChannelDeleteState, error) {
	opts := startOptions(ChannelDeleteWorkflowID(in.ChannelID), in.TenantID, in.ChannelID,
		enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
	start := c.NewWithStartWorkflowOperation(opts, ChannelDeleteWorkflowType, in)
	var st ChannelDeleteState
	err := updateWithStart(ctx, c, start, UpdateAwaitDeleting, "", &st)
	return st, channelDeleteErrors.domain(err)
}

// ResumeChannelDelete starts the deletion of in.ChannelID when none runs, for a channel left deleting: unlike
// DeleteChannel it sends no Update, so that resuming it again and again adds nothing to a running deletion's
// history. A running deletion is ECHANNELDELETING.
func ResumeChannelDelete(ctx context.Context, c client.Client, in ChannelDeleteInput) error {
	_, err := c.ExecuteWorkflow(ctx, exclusiveStart(ChannelDeleteWorkflowID(in.ChannelID), in.TenantID, in.ChannelID),
		ChannelDeleteWorkflowType, in)
	return channelDeleteErrors.domain(err)
}

// SetAppSecret sends UpdateSetAppSecret to the channel's secret rotation, starting one when none runs, and
// returns the state the change left.
func SetAppSecret(ctx context.Context, c client.Client, in SecretRotationInput, req SetAppSecretRequest) (RotationState, error) {
	return updateRotationWithStart(ctx, c, in, UpdateSetAppSecret, req)
}

// SetPageToken sends UpdateSetPageToken to the channel's secret rotation, starting one when none runs, and
// returns the state the change left. A token Meta refuses is an error with Meta's code.
func SetPageToken(ctx context.Context, c client.Client, in SecretRotationInput, req SetPageTokenRequest) (RotationState, error) {
	return updateRotationWithStart(ctx, c, in, UpdateSetPageToken, req)
}

func updateRotationWithStart(ctx context.Context, c client.Client, in SecretRotationInput, update string, req any) (RotationState, error) {
	opts := startOptions(SecretRotationWorkflowID(in.ChannelID), in.TenantID, in.ChannelID,
		enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
	start := c.NewWithStartWorkflowOperation(opts, SecretRotationWorkflowType, in)
	var st RotationState
	err := updateWithStart(ctx, c, start, update, "", &st, req)
	return st, DomainError(err)
}

// RevokePreviousAppSecret sends UpdateRevokePrevious to the channel's secret rotation; NO_PREVIOUS_SECRET when
// none runs.
func RevokePreviousAppSecret(ctx context.Context, c client.Client, channelID string, req RevokePreviousRequest) (RotationState, error) {
	var st RotationState
	err := update(ctx, c, SecretRotationWorkflowID(channelID), UpdateRevokePrevious, req, &st)
	return st, revokeErrors.domain(err)
}

// QuerySecretRotation returns the state of the channel's latest secret rotation, running or ended; NOT_FOUND
// when none is known.
func QuerySecretRotation(ctx context.Context, c client.Client, channelID string) (RotationState, error) {
	var st RotationState
	err := query(ctx, c, SecretRotationWorkflowID(channelID), QueryRotationState, &st)
	return st, rotationErrors.domain(err)
}

// StartExport starts the export in.ExportID, which the API stored pending. An export runs once: a start
// while it runs, or after it ended, is CONFLICT.
func StartExport(ctx context.Context, c client.Client, in ExportInput) error {
	_, err := c.ExecuteWorkflow(ctx, exportStart(in, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL), ExportWorkflowType, in)
	return exportErrors.domain(err)
}

// CancelExport sends UpdateCancelExport to the export and returns the status it ended in. An export whose
// start Temporal never took (left pending for the resumer) is started with the Update, and so cancelled before
// it writes anything. One that has ended is CONFLICT.
func CancelExport(ctx context.Context, c client.Client, in ExportInput) (aicc.ExportStatus, error) {
	start := c.NewWithStartWorkflowOperation(exportStart(in, enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING),
		ExportWorkflowType, in)
	var st aicc.ExportStatus
	err := updateWithStart(ctx, c, start, UpdateCancelExport, "", &st, CancelExportRequest{})
	return st, cancelExportErrors.domain(err)
}

// exportStart are the options of an export's workflow, which runs once: its ID is never used again.
func exportStart(in ExportInput, conflict enumspb.WorkflowIdConflictPolicy) client.StartWorkflowOptions {
	opts := startOptions(ExportWorkflowID(in.ExportID), in.TenantID, "", conflict)
	opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	return opts
}

// StartSendTestMessage starts SendTestMessage, under an ID of its own: every test message is sent once.
func StartSendTestMessage(ctx context.Context, c client.Client, in TestMessageInput) (client.WorkflowRun, error) {
	opts := exclusiveStart(TestMessageWorkflowID(in.PageID, aicc.NewID("msg")), in.TenantID, in.ChannelID)
	run, err := c.ExecuteWorkflow(ctx, opts, SendTestMessageWorkflowType, in)
	return run, DomainError(err)
}

// DeliverInboxEvents signals a conversation's events, in Meta timestamp order, to its workflow with
// signal-with-start: the running workflow gets them, and when there is none a new one is started.
func DeliverInboxEvents(ctx context.Context, c client.Client, in ConversationInput, events []InboxEventSignal) error {
	in.Revision = ConversationRevision
	_, err := c.SignalWithStartWorkflow(ctx, ConversationWorkflowID(in.ChannelID, in.PageID, in.PSID),
		SignalInboxEvents, InboxEventsSignal{Events: events}, StartConversationOptions(in.TenantID, in.ChannelID),
		ConversationWorkflowType, in)
	return DomainError(err)
}

// AssignConversation assigns the conversation to the agent (UpdateAssign) and returns it as saved.
func AssignConversation(ctx context.Context, c client.Client, tenantID string, key aicc.ConversationKey, agentID string) (aicc.Conversation, error) {
	var conv aicc.Conversation
	err := updateConversation(ctx, c, tenantID, key, UpdateAssign, "", AgentRequest{AgentID: agentID}, &conv)
	return conv, err
}

// SendAgentMessage sends the agent's reply to the customer (UpdateAgentMessage). The same RequestID sends it
// once, however often it is asked.
func SendAgentMessage(ctx context.Context, c client.Client, tenantID string, key aicc.ConversationKey, req AgentMessageRequest) (AgentMessageResult, error) {
	var res AgentMessageResult
	err := updateConversation(ctx, c, tenantID, key, UpdateAgentMessage, UpdateAgentMessage+"/"+req.RequestID, req, &res)
	return res, err
}

// TransferConversation transfers the conversation to another skill queue (UpdateTransfer).
func TransferConversation(ctx context.Context, c client.Client, tenantID string, key aicc.ConversationKey, req TransferRequest) (aicc.Conversation, error) {
	var conv aicc.Conversation
	err := updateConversation(ctx, c, tenantID, key, UpdateTransfer, "", req, &conv)
	return conv, err
}

// DeclineConversation declines the offer of the conversation to the agent, its customer's last agent
// (UpdateDecline): the conversation goes to the queue at once.
func DeclineConversation(ctx context.Context, c client.Client, tenantID string, key aicc.ConversationKey, agentID string) (aicc.Conversation, error) {
	var conv aicc.Conversation
	err := updateConversation(ctx, c, tenantID, key, UpdateDecline, "", AgentRequest{AgentID: agentID}, &conv)
	return conv, err
}

// CloseConversation ends the conversation at the agent's request (UpdateClose).
func CloseConversation(ctx context.Context, c client.Client, tenantID string, key aicc.ConversationKey, agentID string) (aicc.Conversation, error) {
	var conv aicc.Conversation
	err := updateConversation(ctx, c, tenantID, key, UpdateClose, "", AgentRequest{AgentID: agentID}, &conv)
	return conv, err
}

// updateConversation sends the Update name with req to the conversation's workflow, starting a run when none
// is going on (one that ended idle restores the conversation from its read model), and decodes its result. An
// empty updateID lets Temporal choose one.
func updateConversation(ctx context.Context, c client.Client, tenantID string, key aicc.ConversationKey, name, updateID string, req, result any) error {
	opts := StartConversationOptions(tenantID, key.ChannelID)
	opts.ID = ConversationWorkflowID(key.ChannelID, key.PageID, key.PSID)
	in := ConversationInput{TenantID: tenantID, ChannelID: key.ChannelID, PageID: key.PageID, PSID: key.PSID, Revision: ConversationRevision}
	start := c.NewWithStartWorkflowOperation(opts, ConversationWorkflowType, in)
	err := updateWithStart(ctx, c, start, name, updateID, result, req)
	return DomainError(err)
}

// StartConversationOptions are the options a conversation of channelID is signalled-with-start with: the
// running workflow gets the signal, and when there is none a new one is started.
func StartConversationOptions(tenantID, channelID string) client.StartWorkflowOptions {
	return startOptions("", tenantID, channelID, enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
}

// InboxRetentionSchedule is what the schedule InboxRetentionScheduleID starts, and how often.
type InboxRetentionSchedule struct {
	Every time.Duration // 0 means DefaultInboxRetentionEvery
	Input InboxRetentionInput
}

// What EnsureInboxRetentionSchedule did.
const (
	ScheduleCreated   = "created"
	ScheduleUpdated   = "updated"
	ScheduleUnchanged = "unchanged"
)

// EnsureInboxRetentionSchedule creates the Temporal Schedule InboxRetentionScheduleID, which starts
// InboxRetention with s.Input every s.Every and skips a start while the previous purge still runs; when the
// schedule exists with another interval or input, it updates it to these, keeping its paused state and note (an
// operator's, from the Web UI). Every worker process calls it when it starts, so the last one to start with
// other settings wins. It returns ScheduleCreated, ScheduleUpdated or ScheduleUnchanged.
//
// The input a schedule carries is encrypted by the payload codec, and Describe returns it undecoded; its
// summary (a line the Web UI shows) is decoded, and it spells out the whole input, so it is what is compared.
func EnsureInboxRetentionSchedule(ctx context.Context, c client.Client, s InboxRetentionSchedule) (string, error) {
	if s.Every == 0 {
		s.Every = DefaultInboxRetentionEvery
	}
	if s.Input.Batch == 0 {
		s.Input.Batch = DefaultInboxPurgeBatch
	}
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: s.Every}}}
	action := &client.ScheduleWorkflowAction{
		ID: InboxRetentionScheduleID, Workflow: InboxRetentionWorkflowType, Args: []any{s.Input}, TaskQueue: TaskQueue,
		StaticSummary: s.Input.summary(),
	}
	// A run missed while Temporal was down is made up for only within one interval: one purge catches up.
	policy := client.SchedulePolicies{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, CatchupWindow: s.Every}
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: InboxRetentionScheduleID, Spec: spec, Action: action, Overlap: policy.Overlap, CatchupWindow: policy.CatchupWindow,
	})
	_, exists := errors.AsType[*serviceerror.AlreadyExists](err)
	switch {
	case err == nil:
		return ScheduleCreated, nil
	case !exists && !errors.Is(err, temporal.ErrScheduleAlreadyRunning):
		return "", fmt.Errorf("create schedule %s: %w", InboxRetentionScheduleID, err)
	}
	outcome := ScheduleUnchanged
	err = c.ScheduleClient().GetHandle(ctx, InboxRetentionScheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			current := in.Description.Schedule
			if sameSchedule(current, spec, action, policy) {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			current.Spec, current.Action = &spec, action
			if current.Policy == nil {
				current.Policy = &client.SchedulePolicies{}
			}
			current.Policy.Overlap, current.Policy.CatchupWindow = policy.Overlap, policy.CatchupWindow
			outcome = ScheduleUpdated
			return &client.ScheduleUpdate{Schedule: &current}, nil
		},
	})
	if err != nil {
		return "", fmt.Errorf("update schedule %s: %w", InboxRetentionScheduleID, err)
	}
	return outcome, nil
}

// sameSchedule reports whether the schedule as described has the spec, the action (compared by workflow ID,
// type, task queue and summary) and the overlap and catch-up policies given.
func sameSchedule(current client.Schedule, spec client.ScheduleSpec, action *client.ScheduleWorkflowAction,
	policy client.SchedulePolicies) bool {
	a, ok := current.Action.(*client.ScheduleWorkflowAction)
	if !ok || a.ID != action.ID || a.Workflow != action.Workflow || a.TaskQueue != action.TaskQueue ||
		a.StaticSummary != action.StaticSummary {
		return false
	}
	sp := current.Spec
	if sp == nil || len(sp.Calendars) > 0 || len(sp.CronExpressions) > 0 || len(sp.Skip) > 0 ||
		!slices.Equal(sp.Intervals, spec.Intervals) {
		return false
	}
	p := current.Policy
	return p != nil && p.Overlap == policy.Overlap && p.CatchupWindow == policy.CatchupWindow
}

// exclusiveStart are the options of a workflow that runs once at a time per ID: a start while one runs fails,
// a start after it finished runs again.
func exclusiveStart(id, tenantID, channelID string) client.StartWorkflowOptions {
	opts := startOptions(id, tenantID, channelID, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
	// Without this ExecuteWorkflow silently returns the running execution instead of an error.
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	return opts
}

// startOptions are the options of a workflow of a channel whose ID may be used again once its run ended;
// conflict says what a start does while a run with the ID is running.
func startOptions(id, tenantID, channelID string, conflict enumspb.WorkflowIdConflictPolicy) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: conflict,
		TypedSearchAttributes:    channelSearchAttributes(tenantID, channelID),
	}
}

// update sends the Update named name with req to the running workflow id and waits for its result.
func update(ctx context.Context, c client.Client, id, name string, req, result any) error {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: name, Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, result)
}

// query sends the query name to the workflow id's latest run, running or closed, and decodes its answer.
func query(ctx context.Context, c client.Client, id, name string, result any) error {
	v, err := c.QueryWorkflow(ctx, id, "", name)
	if err != nil {
		return err
	}
	return v.Get(result)
}

// updateWithStart sends the Update named update with args, with start, and waits for its result. An empty
// updateID lets Temporal choose one; a given one makes the Update idempotent.
func updateWithStart(ctx context.Context, c client.Client, start client.WithStartWorkflowOperation, update, updateID string,
	result any, args ...any) error {
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID: updateID, UpdateName: update, Args: args, WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, result)
}

// channelSearchAttributes tag a workflow with its tenant and channel (if it has one) for the Web UI's filters.
func channelSearchAttributes(tenantID, channelID string) temporal.SearchAttributes {
	if channelID == "" { // a workflow of the tenant's, such as an export
		return temporal.NewSearchAttributes(SearchAttributeTenantID.ValueSet(tenantID))
	}
	return temporal.NewSearchAttributes(
		SearchAttributeTenantID.ValueSet(tenantID),
		SearchAttributeChannelID.ValueSet(channelID),
	)
}

// workflowErrors says what two answers of the Temporal client mean for one workflow: a start refused because
// one runs (running), and a signal, update or query that found none running (gone). An empty code leaves that
// answer as it is.
type workflowErrors struct {
	runningCode, runningMessage string
	goneCode, goneMessage       string
}

var (
	onboardingErrors = workflowErrors{
		runningCode: aicc.EONBOARDINGSTARTED, runningMessage: "The channel's onboarding is already running.",
		goneCode: aicc.EONBOARDINGFINISHED, goneMessage: "The channel's onboarding is over.",
	}
	connectPageErrors = workflowErrors{
		runningCode: aicc.EPAGECONNECTING, runningMessage: "The Page is being connected; try again when that is done.",
	}
	disconnectPageErrors = workflowErrors{
		runningCode: aicc.EPAGEDISCONNECTING, runningMessage: "The Page is being disconnected.",
	}
	revokeErrors = workflowErrors{
		goneCode: aicc.ENOPREVIOUSSECRET, goneMessage: "No previous app secret is accepted: there is nothing to revoke.",
	}
	rotationErrors = workflowErrors{
		goneCode: aicc.ENOTFOUND, goneMessage: "No secret rotation of the channel is known.",
	}
	exportErrors = workflowErrors{
		runningCode: aicc.ECONFLICT, runningMessage: "The export has started already.",
	}
	cancelExportErrors = workflowErrors{
		runningCode: aicc.ECONFLICT, runningMessage: "The export has ended.",
	}
	channelDeleteErrors = workflowErrors{
		runningCode: aicc.ECHANNELDELETING, runningMessage: "The channel is being deleted.",
		goneCode: aicc.ENOTFOUND, goneMessage: "The channel does not exist.",
	}
)

// domain turns err into the workflow's domain error where it has one, else as DomainError does.
func (w workflowErrors) domain(err error) error {
	var (
		started  *serviceerror.WorkflowExecutionAlreadyStarted
		notFound *serviceerror.NotFound
	)
	switch {
	case errors.As(err, &started) && w.runningCode != "":
		return aicc.Errorf(w.runningCode, "%s", w.runningMessage)
	case errors.As(err, &notFound) && w.goneCode != "":
		return aicc.Errorf(w.goneCode, "%s", w.goneMessage)
	}
	return DomainError(err)
}

// DomainError turns an ApplicationError whose type is an aicc code, also wrapped in an update, activity or
// workflow execution error (a rejected update, a failed workflow), into an *aicc.Error with that code and the
// error's message. Any other error is returned unchanged, and nil stays nil.
func DomainError(err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && aicc.IsCode(appErr.Type()) {
		return &aicc.Error{Code: appErr.Type(), Message: appErr.Message()}
	}
	return err
}
