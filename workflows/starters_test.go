package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// withStart is the operation a mocked NewWithStartWorkflowOperation returns; UpdateWithStartWorkflow must be
// given that same operation.
type withStart struct {
	client.WithStartWorkflowOperation
}

// options records the start options a mocked call received.
func options(got *client.StartWorkflowOptions, at int) func(mock.Arguments) {
	return func(args mock.Arguments) { *got = args.Get(at).(client.StartWorkflowOptions) }
}

// assertExclusive asserts the options of a workflow that runs once at a time under id, tagged with ten_1/ch_1.
func assertExclusive(t *testing.T, got client.StartWorkflowOptions, id string, conflict enumspb.WorkflowIdConflictPolicy) {
	t.Helper()
	assert.Equal(t, id, got.ID)
	assert.Equal(t, workflows.TaskQueue, got.TaskQueue)
	// ExecuteWorkflow reports a running one only with the flag; Update-with-Start ignores it.
	assert.Equal(t, conflict == enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL, got.WorkflowExecutionErrorWhenAlreadyStarted)
	assert.Equal(t, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE, got.WorkflowIDReusePolicy, "a finished run may be started again")
	assert.Equal(t, conflict, got.WorkflowIDConflictPolicy)
	assertTagged(t, got)
}

// assertTagged asserts the search attributes the Web UI filters by.
func assertTagged(t *testing.T, got client.StartWorkflowOptions) {
	t.Helper()
	tenant, ok := got.TypedSearchAttributes.GetKeyword(workflows.SearchAttributeTenantID)
	assert.True(t, ok)
	assert.Equal(t, "ten_1", tenant)
	channel, ok := got.TypedSearchAttributes.GetKeyword(workflows.SearchAttributeChannelID)
	assert.True(t, ok)
	assert.Equal(t, "ch_1", channel)
}

func TestSearchAttributeNames(t *testing.T) {
	assert.Equal(t, "TenantId", workflows.SearchAttributeTenantID.GetName())
	assert.Equal(t, "ChannelId", workflows.SearchAttributeChannelID.GetName())
}

// updateHandle returns an update handle whose Get stores result in the caller's pointer (of type *T) and
// returns err.
func updateHandle[T any](t *testing.T, result T, err error) *mocks.WorkflowUpdateHandle {
	h := mocks.NewWorkflowUpdateHandle(t)
	h.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		*args.Get(1).(*T) = result
	}).Return(err).Once()
	return h
}

// updateWithStart expects an Update-with-Start of the workflow typ with in, options recorded in opts, and the
// Update named update, answered by h (or failing with err).
func updateWithStart(c *mocks.Client, opts *client.StartWorkflowOptions, typ string, in any, update string, h client.WorkflowUpdateHandle, err error) {
	op := &withStart{}
	c.On("NewWithStartWorkflowOperation", mock.Anything, typ, in).Run(options(opts, 0)).Return(op).Once()
	c.On("UpdateWithStartWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWithStartWorkflowOptions) bool {
		return o.StartWorkflowOperation == op && o.UpdateOptions.UpdateName == update &&
			o.UpdateOptions.WaitForStage == client.WorkflowUpdateStageCompleted
	})).Return(h, err).Once()
}

var (
	onboardingIn = workflows.OnboardingInput{TenantID: "ten_1", ChannelID: "ch_1", VerificationTTL: time.Hour}
	deleteIn     = workflows.ChannelDeleteInput{TenantID: "ten_1", ChannelID: "ch_1"}
	page42       = workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "42"}
	testMsgIn    = workflows.TestMessageInput{PageInput: page42, Message: aicc.OutboundMessage{RecipientPSID: "7", Text: "hi", Type: aicc.MessagingUpdate}}
	inboxIn      = workflows.ConversationInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "42", PSID: "7"}
	inboxEv      = workflows.InboxEventSignal{InboxID: 1, Kind: aicc.EventMessage, MID: "m_1", Timestamp: 1000, Text: "hello"}
)

func TestStartOnboarding(t *testing.T) {
	c := mocks.NewClient(t)
	want := workflows.OnboardingState{Status: aicc.StatusAwaitingVerification, Step: workflows.StepAwaitVerification}
	var opts client.StartWorkflowOptions
	updateWithStart(c, &opts, workflows.OnboardingWorkflowType, onboardingIn, workflows.UpdateStarted, updateHandle(t, want, nil), nil)

	got, err := workflows.StartOnboarding(context.Background(), c, onboardingIn)

	require.NoError(t, err)
	assert.Equal(t, want, got, "the state the workflow recorded first")
	assertExclusive(t, opts, "onboarding/ch_1", enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
}

func TestDeleteChannel(t *testing.T) {
	c := mocks.NewClient(t)
	want := workflows.ChannelDeleteState{Deleting: true}
	var opts client.StartWorkflowOptions
	updateWithStart(c, &opts, workflows.ChannelDeleteWorkflowType, deleteIn, workflows.UpdateAwaitDeleting, updateHandle(t, want, nil), nil)

	got, err := workflows.DeleteChannel(context.Background(), c, deleteIn)

	require.NoError(t, err)
	assert.Equal(t, want, got)
	// A second DELETE joins the running deletion instead of failing.
	assertExclusive(t, opts, "channel-delete/ch_1", enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING)
}

func TestOnboardingUpdates(t *testing.T) {
	for _, tc := range []struct {
		update string
		arg    any
		call   func(context.Context, client.Client, string) (workflows.OnboardingState, error)
	}{
		{workflows.UpdateConfirm, workflows.ConfirmRequest{}, workflows.ConfirmOnboarding},
		{workflows.UpdateCancel, workflows.CancelRequest{}, workflows.CancelOnboarding},
	} {
		t.Run(tc.update, func(t *testing.T) {
			c := mocks.NewClient(t)
			want := workflows.OnboardingState{Status: aicc.StatusActive, Step: workflows.StepDone}
			c.On("UpdateWorkflow", mock.Anything, client.UpdateWorkflowOptions{
				WorkflowID: "onboarding/ch_1", UpdateName: tc.update, Args: []any{tc.arg},
				WaitForStage: client.WorkflowUpdateStageCompleted,
			}).Return(updateHandle(t, want, nil), nil).Once()

			got, err := tc.call(context.Background(), c, "ch_1")

			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}

	// A rejected or failed update is its domain code, with the workflow's message.
	t.Run("rejected", func(t *testing.T) {
		c := mocks.NewClient(t)
		rejected := temporal.NewNonRetryableApplicationError("Meta has not verified the callback URL yet.", aicc.ENOTVERIFIED, nil)
		c.On("UpdateWorkflow", mock.Anything, mock.Anything).
			Return(updateHandle(t, workflows.OnboardingState{}, fmt.Errorf("update confirm: %w", rejected)), nil).Once()

		_, err := workflows.ConfirmOnboarding(context.Background(), c, "ch_1")

		var e *aicc.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, aicc.ENOTVERIFIED, e.Code)
		assert.Equal(t, "Meta has not verified the callback URL yet.", e.Message)
	})
}

func TestQueryOnboarding(t *testing.T) {
	c := mocks.NewClient(t)
	want := workflows.OnboardingState{Status: aicc.StatusVerified, Step: workflows.StepAwaitConfirmation}
	v := mocks.NewEncodedValue(t)
	v.On("Get", mock.Anything).Run(func(args mock.Arguments) {
		*args.Get(0).(*workflows.OnboardingState) = want
	}).Return(nil).Once()
	c.On("QueryWorkflow", mock.Anything, "onboarding/ch_1", "", workflows.QueryState).Return(v, nil).Once()

	got, err := workflows.QueryOnboarding(context.Background(), c, "ch_1")

	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestNotifyMetaVerified(t *testing.T) {
	c := mocks.NewClient(t)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	c.On("SignalWorkflow", mock.Anything, "onboarding/ch_1", "", workflows.SignalMetaVerified, workflows.MetaVerifiedSignal{At: at}).
		Return(nil).Once()

	require.NoError(t, workflows.NotifyMetaVerified(context.Background(), c, "ch_1", at))
}

func TestStartPageWorkflows(t *testing.T) {
	for _, tc := range []struct {
		typ, id string
		start   func(context.Context, client.Client, workflows.PageInput) (client.WorkflowRun, error)
	}{
		// Named by channel too: the same Page ID may be another channel's, whose connections are its own.
		{workflows.ConnectPageWorkflowType, "page-connect/" + page42.ChannelID + "/" + aicc.PageRef("42"), workflows.StartConnectPage},
		{workflows.DisconnectPageWorkflowType, "page-disconnect/" + page42.ChannelID + "/" + aicc.PageRef("42"), workflows.StartDisconnectPage},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			c := mocks.NewClient(t)
			run := mocks.NewWorkflowRun(t)
			var opts client.StartWorkflowOptions
			c.On("ExecuteWorkflow", mock.Anything, mock.Anything, tc.typ, page42).Run(options(&opts, 1)).Return(run, nil).Once()

			got, err := tc.start(context.Background(), c, page42)

			require.NoError(t, err)
			assert.Same(t, run, got, "the caller waits for the run")
			assertExclusive(t, opts, tc.id, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
		})
	}
}

// Every test message is a workflow of its own: the Send API has no idempotency key, so one message is never
// taken for another.
func TestStartSendTestMessage(t *testing.T) {
	c := mocks.NewClient(t)
	var ids []string
	c.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.SendTestMessageWorkflowType, testMsgIn).Run(func(args mock.Arguments) {
		opts := args.Get(1).(client.StartWorkflowOptions)
		assertExclusive(t, opts, opts.ID, enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL)
		ids = append(ids, opts.ID)
	}).Return(mocks.NewWorkflowRun(t), nil).Twice()

	for range 2 {
		_, err := workflows.StartSendTestMessage(context.Background(), c, testMsgIn)
		require.NoError(t, err)
	}

	require.Len(t, ids, 2)
	for _, id := range ids {
		prefix := "test-message/" + aicc.PageRef("42") + "/"
		assert.True(t, strings.HasPrefix(id, prefix), id)
		assert.Greater(t, len(id), len(prefix), "a key of its own")
	}
	assert.NotEqual(t, ids[0], ids[1])
}

// A conversation is started with the current revision of the runtime, whatever the caller passed.
func TestDeliverInboxEvents(t *testing.T) {
	c := mocks.NewClient(t)
	var opts client.StartWorkflowOptions
	want := inboxIn
	want.Revision = workflows.ConversationRevision
	c.On("SignalWithStartWorkflow", mock.Anything, "conversation/"+aicc.ConversationID("ch_1", "42", "7"), workflows.SignalInboxEvents,
		workflows.InboxEventsSignal{Events: []workflows.InboxEventSignal{inboxEv}},
		mock.Anything, workflows.ConversationWorkflowType, want).Run(options(&opts, 4)).Return(mocks.NewWorkflowRun(t), nil).Once()

	require.NoError(t, workflows.DeliverInboxEvents(context.Background(), c, inboxIn, []workflows.InboxEventSignal{inboxEv}))

	assert.Equal(t, workflows.StartConversationOptions("ten_1", "ch_1"), opts)
	assertTagged(t, opts)
}

// Each starter names its own workflow in the errors of the Temporal client: a start refused because one runs,
// and a message to a workflow that no longer runs. Coded business failures become their domain error; any other
// error is left for the caller (an unavailable Temporal is a 503, not a domain answer).
func TestStarterErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// fail makes the starter's call to Temporal answer err.
		fail func(c *mocks.Client, err error)
		call func(c client.Client) error
		// The codes of "already started" (for the starters that start a workflow) and "not found"; "" leaves the
		// error as it is.
		running, finished string
		// noStart marks a starter that only sends a message: it cannot find its workflow started.
		noStart bool
	}{
		{
			name: "StartOnboarding",
			fail: func(c *mocks.Client, err error) {
				updateWithStart(c, new(client.StartWorkflowOptions), workflows.OnboardingWorkflowType, onboardingIn, workflows.UpdateStarted, nil, err)
			},
			call:    func(c client.Client) error { _, err := workflows.StartOnboarding(ctx, c, onboardingIn); return err },
			running: aicc.EONBOARDINGSTARTED, finished: aicc.EONBOARDINGFINISHED,
		},
		{
			name: "ConfirmOnboarding",
			fail: func(c *mocks.Client, err error) {
				c.On("UpdateWorkflow", mock.Anything, mock.Anything).Return(nil, err).Once()
			},
			call:     func(c client.Client) error { _, err := workflows.ConfirmOnboarding(ctx, c, "ch_1"); return err },
			finished: aicc.EONBOARDINGFINISHED, noStart: true,
		},
		{
			name: "CancelOnboarding",
			fail: func(c *mocks.Client, err error) {
				c.On("UpdateWorkflow", mock.Anything, mock.Anything).Return(nil, err).Once()
			},
			call:     func(c client.Client) error { _, err := workflows.CancelOnboarding(ctx, c, "ch_1"); return err },
			finished: aicc.EONBOARDINGFINISHED, noStart: true,
		},
		{
			name: "QueryOnboarding",
			fail: func(c *mocks.Client, err error) {
				c.On("QueryWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, err).Once()
			},
			call:     func(c client.Client) error { _, err := workflows.QueryOnboarding(ctx, c, "ch_1"); return err },
			finished: aicc.EONBOARDINGFINISHED, noStart: true,
		},
		{
			name: "NotifyMetaVerified",
			fail: func(c *mocks.Client, err error) {
				c.On("SignalWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(err).Once()
			},
			call:     func(c client.Client) error { return workflows.NotifyMetaVerified(ctx, c, "ch_1", time.Time{}) },
			finished: aicc.EONBOARDINGFINISHED, noStart: true,
		},
		{
			name: "StartConnectPage",
			fail: func(c *mocks.Client, err error) {
				c.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, err).Once()
			},
			call:    func(c client.Client) error { _, err := workflows.StartConnectPage(ctx, c, page42); return err },
			running: aicc.EPAGECONNECTING,
		},
		{
			name: "StartDisconnectPage",
			fail: func(c *mocks.Client, err error) {
				c.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, err).Once()
			},
			call:    func(c client.Client) error { _, err := workflows.StartDisconnectPage(ctx, c, page42); return err },
			running: aicc.EPAGEDISCONNECTING,
		},
		{
			name: "DeleteChannel",
			fail: func(c *mocks.Client, err error) {
				updateWithStart(c, new(client.StartWorkflowOptions), workflows.ChannelDeleteWorkflowType, deleteIn, workflows.UpdateAwaitDeleting, nil, err)
			},
			call:     func(c client.Client) error { _, err := workflows.DeleteChannel(ctx, c, deleteIn); return err },
			running:  aicc.ECHANNELDELETING,
			finished: aicc.ENOTFOUND,
		},
		{
			name: "ResumeChannelDelete",
			fail: func(c *mocks.Client, err error) {
				c.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.ChannelDeleteWorkflowType, deleteIn).Return(nil, err).Once()
			},
			call:     func(c client.Client) error { return workflows.ResumeChannelDelete(ctx, c, deleteIn) },
			running:  aicc.ECHANNELDELETING,
			finished: aicc.ENOTFOUND,
		},
		{
			name: "StartSendTestMessage",
			fail: func(c *mocks.Client, err error) {
				c.On("ExecuteWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything).Return(nil, err).Once()
			},
			call: func(c client.Client) error { _, err := workflows.StartSendTestMessage(ctx, c, testMsgIn); return err },
		},
		{
			name: "DeliverInboxEvents",
			fail: func(c *mocks.Client, err error) {
				c.On("SignalWithStartWorkflow", mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything, mock.Anything).
					Return(nil, err).Once()
			},
			call: func(c client.Client) error {
				return workflows.DeliverInboxEvents(ctx, c, inboxIn, []workflows.InboxEventSignal{inboxEv})
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, e := range []struct {
				name string
				err  error
				want string // "" for the error returned unchanged
			}{
				{"already started", serviceerror.NewWorkflowExecutionAlreadyStarted("workflow already started", "req", "run"), tc.running},
				{"not found", fmt.Errorf("update: %w", serviceerror.NewNotFound("workflow execution already completed")), tc.finished},
				{"coded", temporal.NewNonRetryableApplicationError("The channel is being deleted.", aicc.ECHANNELDELETING, nil), aicc.ECHANNELDELETING},
				{"unavailable", serviceerror.NewUnavailable("frontend is down"), ""},
			} {
				if e.name == "already started" && tc.noStart {
					continue
				}
				t.Run(e.name, func(t *testing.T) {
					c := mocks.NewClient(t)
					tc.fail(c, e.err)

					err := tc.call(c)

					require.Error(t, err)
					if e.want == "" {
						assert.Same(t, e.err, err, "left as it is")
						return
					}
					var de *aicc.Error
					require.ErrorAs(t, err, &de)
					assert.Equal(t, e.want, de.Code)
					assert.NotEmpty(t, de.Message)
				})
			}
		})
	}
}

func TestDomainError(t *testing.T) {
	notVerified := temporal.NewApplicationError("Meta has not verified the callback URL yet.", aicc.ENOTVERIFIED)
	for _, tc := range []struct {
		name        string
		err         error
		wantCode    string
		wantMessage string
	}{
		{
			name: "rejected update", err: notVerified,
			wantCode: aicc.ENOTVERIFIED, wantMessage: "Meta has not verified the callback URL yet.",
		},
		{
			name: "wrapped", err: fmt.Errorf("update confirm: %w", notVerified),
			wantCode: aicc.ENOTVERIFIED, wantMessage: "Meta has not verified the callback URL yet.",
		},
		{
			name:     "finished",
			err:      temporal.NewNonRetryableApplicationError("The onboarding is over.", aicc.EONBOARDINGFINISHED, nil),
			wantCode: aicc.EONBOARDINGFINISHED, wantMessage: "The onboarding is over.",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := workflows.DomainError(tc.err)
			var e *aicc.Error
			require.ErrorAs(t, got, &e)
			assert.Equal(t, tc.wantCode, e.Code)
			assert.Equal(t, tc.wantMessage, e.Message)
		})
	}

	t.Run("unchanged", func(t *testing.T) {
		assert.NoError(t, workflows.DomainError(nil))
		for _, err := range []error{
			errors.New("connection refused"),
			serviceerror.NewUnavailable("frontend is down"),
			temporal.NewApplicationError("boom", "SomethingElse"),
			// The starters give these a meaning for their own workflow; DomainError alone cannot.
			serviceerror.NewWorkflowExecutionAlreadyStarted("workflow already started", "req", "run"),
			serviceerror.NewNotFound("workflow execution already completed"),
		} {
			assert.Same(t, err, workflows.DomainError(err), "%v", err)
		}
	})
}
