package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/mocks"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/workflows"
)

// flows plays aicc's workflows behind the mocked Temporal client as the worker would run them, against the
// store: the handlers reach them only through the typed starters, by registered type name and message name.
//   - Onboarding, Update-with-Start with Update "started": a running onboarding (the channel awaiting
//     verification or verified) refuses the start; otherwise its first step checks the certificates in the
//     store and records failed with FACEBOOK_CERTIFICATE_MISSING or _EXPIRED, or runs the real ProveApp and
//     ClaimApp activities against the fake Meta (which takes any secret of an app it was not told of) and
//     records failed with their code, or awaiting_verification.
//   - ChannelDelete, Update-with-Start with Update "await-deleting": records the channel deleting (Gone when it
//     does not exist). The rest of the deletion is not played; a test that needs the channel gone deletes it
//     through the store.
//   - ConnectPage: records the Page connecting as it starts, and its outcome when its run is waited for:
//     subscribed, claiming the Page as Meta's confirmation of its token would (already_connected, the Page
//     removed, when another channel claimed it), unless setConnect says otherwise; setConnect(f.realConnect)
//     runs the real workflow with the real activities against the fake Meta.
//   - DisconnectPage: removes the Page when its run is waited for, unless setDisconnect says otherwise.
//   - SendTestMessage: Meta accepts the message, unless setTestMessage says otherwise.
//   - SecretRotation, one run per channel: Update-with-Start with "set-app-secret" or "set-page-token",
//     UpdateWorkflow with "revoke-previous" and the query "rotation" (see rotationRun). Its steps run the real
//     activities, in the workflow's order, over the store and the keyring, with the fake Meta graph behind
//     their Graph calls. Its timers are not played: a test moves the clock instead (the webhook POST honours
//     the window's end by itself), and no reminder fires.
//   - Export, one run per export (see exportRun): its start plays it through at once, with the real activities
//     over the store and exportFiles, the in-memory storage the server reads too: RecordExport running,
//     WriteExport, then RecordExport success with the files, finishedAt and expiresAt (now + retention), or,
//     when WriteExport fails, DeleteExportFiles and RecordExport failed with its code. After setHoldExports(true)
//     a start leaves the export pending until runExport plays it. The Update-with-Start "cancel" deletes the
//     files and records it cancelled, starting the run when there was none. The retention timer fires when a
//     test calls expireExport. An export's ID is never used again: a start or a cancel after its run ended is
//     refused as already started.
//
// failNext makes the next call of a client method fail as Temporal would answer it.
type flows struct {
	store  aicc.Store
	now    func() time.Time
	logger *slog.Logger
	// graph is the fake Meta of the rotation's Graph calls. It knows no Page until a test adds one with its
	// token, and checks appsecret_proof under appSecret until a test resets it (ResetAppSecret).
	graph *metatest.Graph
	// acts are the activities the played rotation runs, in env, one at a time.
	acts *activities.Activities
	env  *testsuite.TestActivityEnvironment
	// rotationMu makes the rotations' changes one at a time, as each workflow does, and guards rotations.
	rotationMu sync.Mutex
	rotations  map[string]*rotationRun // by channel ID, the latest rotation
	// exportFiles keeps the files of the played exports; it is the server's ExportFiles too.
	exportFiles *export.Storage
	// exportMu plays one step of an export at a time, as its workflow does, and guards exports.
	exportMu sync.Mutex
	exports  map[string]*exportRun // by export ID, the latest run

	mu          sync.Mutex
	connect     func(ctx context.Context, in workflows.PageInput) (workflows.ConnectPageResult, error)
	disconnect  func(ctx context.Context, in workflows.PageInput) error
	testMessage func(ctx context.Context, in workflows.TestMessageInput) (aicc.SendResult, error)
	messages    []workflows.TestMessageInput // the inputs of every SendTestMessage started
	failures    map[string][]error           // by client method, the answers of its next calls
	holdExports bool                         // exports started stay pending until runExport
	exportErr   error                        // the first played export whose workflow failed
}

// newFlows plays the workflows over store; the rotation's activities open secrets with keyring and log to
// logger, and the exports' activities write their files to exportFiles.
func newFlows(store aicc.Store, keyring *aicc.Keyring, exportFiles *export.Storage, now func() time.Time,
	logger *slog.Logger) *flows {
	graph := metatest.NewGraph(appSecret)
	graph.AcceptUnknownApps = true // the tests' apps are their own; TestAppClaims adds the one it claims
	graphClient := &meta.Client{BaseURL: "https://graph.facebook.test", HTTP: &http.Client{Transport: graphTransport{graph}}}
	acts := &activities.Activities{Channels: store, Certificates: store, Conversations: store, Inbox: store, Audit: store,
		Exports: store, ExportFiles: exportFiles, Keyring: keyring, Graph: graphProvider{graphClient}, Now: now}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(logger))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return &flows{store: store, now: now, logger: logger, graph: graph, acts: acts, env: env, rotations: map[string]*rotationRun{},
		exportFiles: exportFiles, exports: map[string]*exportRun{}, failures: map[string][]error{}}
}

func (f *flows) setConnect(fn func(ctx context.Context, in workflows.PageInput) (workflows.ConnectPageResult, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connect = fn
}

func (f *flows) setDisconnect(fn func(ctx context.Context, in workflows.PageInput) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnect = fn
}

func (f *flows) setTestMessage(fn func(ctx context.Context, in workflows.TestMessageInput) (aicc.SendResult, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.testMessage = fn
}

// sentMessages returns the inputs of the SendTestMessage workflows started so far.
func (f *flows) sentMessages() []workflows.TestMessageInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]workflows.TestMessageInput(nil), f.messages...)
}

// failNext makes the next call of the client method ("ExecuteWorkflow", "UpdateWithStartWorkflow",
// "UpdateWorkflow" or "QueryWorkflow") answer err; the calls after it are played again.
func (f *flows) failNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], err)
}

// takeFailure returns the failure set for the method's next call, or nil.
func (f *flows) takeFailure(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := f.failures[method]
	if len(errs) == 0 {
		return nil
	}
	f.failures[method] = errs[1:]
	return errs[0]
}

// requireNoFailureLeft fails a test that set a failure no call answered.
func (f *flows) requireNoFailureLeft(tb testing.TB) {
	tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for method, errs := range f.failures {
		require.Empty(tb, errs, "failures of %s set but never answered", method)
	}
	require.NoError(tb, f.exportErr, "a played export's workflow failed")
}

// errAlreadyStarted is Temporal's answer to a start while a workflow of the same ID runs.
func errAlreadyStarted() error {
	return serviceerror.NewWorkflowExecutionAlreadyStarted("Workflow execution is already running.", "", "")
}

// metaRefusal is how a workflow fails when an activity's Graph call failed with a META_* code: an
// ApplicationError typed with the code, inside the workflow's execution error.
func metaRefusal(code, message string) error {
	return fmt.Errorf("workflow execution error (type: %s): %w", workflows.SendTestMessageWorkflowType,
		temporal.NewNonRetryableApplicationError(message, code, nil))
}

// execute is the mocked ExecuteWorkflow: it plays the workflow registered under the type name it is given.
func (f *flows) execute(_ context.Context, opts client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error) {
	if err := f.takeFailure("ExecuteWorkflow"); err != nil {
		return nil, err
	}
	// The workflow runs on the worker, whatever becomes of the request that started it.
	ctx := context.Background()
	f.mu.Lock()
	connect, disconnect, testMessage := f.connect, f.disconnect, f.testMessage
	f.mu.Unlock()

	run := &mocks.WorkflowRun{}
	run.On("GetID").Return(opts.ID).Maybe()
	var get func(waitCtx context.Context, v any) error
	switch workflow {
	case workflows.ConnectPageWorkflowType:
		in := args[0].(workflows.PageInput)
		if connect == nil {
			connect = f.outcome(workflows.ConnectPageResult{Status: aicc.PageSubscribed})
		}
		// Its first step, whether or not anyone waits for it.
		recorded := f.store.SetPageStatus(ctx, in.TenantID, in.ChannelID, in.PageID, aicc.PageConnecting, "", f.now())
		get = func(waitCtx context.Context, v any) error {
			if recorded != nil {
				return activities.NonRetryable(recorded)
			}
			res, err := connect(waitCtx, in)
			if err == nil {
				*v.(*workflows.ConnectPageResult) = res
			}
			return err
		}
	case workflows.DisconnectPageWorkflowType:
		in := args[0].(workflows.PageInput)
		if disconnect == nil {
			disconnect = func(ctx context.Context, in workflows.PageInput) error {
				return activities.NonRetryable(f.store.RemovePage(ctx, in.TenantID, in.ChannelID, in.PageID))
			}
		}
		get = func(waitCtx context.Context, _ any) error { return disconnect(waitCtx, in) }
	case workflows.SendTestMessageWorkflowType:
		in := args[0].(workflows.TestMessageInput)
		f.mu.Lock()
		f.messages = append(f.messages, in)
		n := len(f.messages)
		f.mu.Unlock()
		if testMessage == nil {
			testMessage = func(context.Context, workflows.TestMessageInput) (aicc.SendResult, error) {
				return aicc.SendResult{RecipientID: in.Message.RecipientPSID, MessageID: fmt.Sprintf("m_%d", n)}, nil
			}
		}
		get = func(waitCtx context.Context, v any) error {
			res, err := testMessage(waitCtx, in)
			if err == nil {
				*v.(*aicc.SendResult) = res
			}
			return err
		}
	case workflows.ExportWorkflowType:
		if err := f.startExport(args[0].(workflows.ExportInput)); err != nil {
			return nil, err
		}
		get = func(context.Context, any) error { return errors.New("nothing waits for an export's run") }
	default:
		// A function or an unknown name would not reach any registered workflow.
		return nil, fmt.Errorf("no workflow is registered as %#v", workflow)
	}
	run.On("Get", mock.Anything, mock.Anything).Return(get).Maybe()
	return run, nil
}

// outcome is a ConnectPage that ends in res, recording it as the workflow does: the status on the Page, or
// the Page removed when Meta refused its token. A subscribed Page is claimed first, as the workflow claims it
// once Meta confirmed its token: a Page another channel claimed is removed, and the result is
// already_connected.
func (f *flows) outcome(res workflows.ConnectPageResult) func(context.Context, workflows.PageInput) (workflows.ConnectPageResult, error) {
	return func(_ context.Context, in workflows.PageInput) (workflows.ConnectPageResult, error) {
		ctx := context.Background()
		var err error
		if res.Status == aicc.PageSubscribed {
			err = f.store.ClaimPage(ctx, in.TenantID, in.ChannelID, in.PageID, f.now())
			if aicc.ErrorCode(err) == aicc.EPAGECONNECTED {
				res = workflows.ConnectPageResult{Status: aicc.PageAlreadyConnected, Reason: aicc.EPAGECONNECTED, Message: aicc.MsgPageConnected}
				err = nil
			}
			if err != nil {
				return workflows.ConnectPageResult{}, activities.NonRetryable(err)
			}
		}
		switch res.Status {
		case aicc.PageTokenInvalid, aicc.PageAlreadyConnected:
			err = f.store.RemovePage(ctx, in.TenantID, in.ChannelID, in.PageID)
		default:
			err = f.store.SetPageStatus(ctx, in.TenantID, in.ChannelID, in.PageID, res.Status, res.Reason, f.now())
		}
		return res, activities.NonRetryable(err)
	}
}

// realConnect is a ConnectPage that runs the workflow itself, with the real activities over the store and
// the fake Meta (f.graph), in a test environment of its own: its retries take no time.
func (f *flows) realConnect(_ context.Context, in workflows.PageInput) (workflows.ConnectPageResult, error) {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(f.logger))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.ConnectPage, workflow.RegisterOptions{Name: workflows.ConnectPageWorkflowType})
	env.RegisterActivity(f.acts)
	env.ExecuteWorkflow(workflows.ConnectPageWorkflowType, in)
	if err := env.GetWorkflowError(); err != nil {
		return workflows.ConnectPageResult{}, err
	}
	var res workflows.ConnectPageResult
	return res, env.GetWorkflowResult(&res)
}

// slowConnect is a ConnectPage that outlasts any wait: Get returns when its context ends, as the client does.
func slowConnect(ctx context.Context, _ workflows.PageInput) (workflows.ConnectPageResult, error) {
	<-ctx.Done()
	return workflows.ConnectPageResult{}, ctx.Err()
}

// startOperation is the mocked NewWithStartWorkflowOperation's answer: the start an Update-with-Start runs.
type startOperation struct {
	opts     client.StartWorkflowOptions
	workflow any
	args     []any
}

func (o *startOperation) Get(context.Context) (client.WorkflowRun, error) {
	return nil, errors.New("the start operation's run is not played")
}

func (f *flows) withStart(opts client.StartWorkflowOptions, workflow any, args ...any) client.WithStartWorkflowOperation {
	return &startOperation{opts: opts, workflow: workflow, args: args}
}

// updateWithStart is the mocked UpdateWithStartWorkflow: it plays the workflow's start and its Update, and
// answers once the Update has completed, as WaitForStage Completed does.
func (f *flows) updateWithStart(_ context.Context, opts client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if err := f.takeFailure("UpdateWithStartWorkflow"); err != nil {
		return nil, err
	}
	op, ok := opts.StartWorkflowOperation.(*startOperation)
	if !ok {
		return nil, errors.New("the start operation was not made by NewWithStartWorkflowOperation")
	}
	update := opts.UpdateOptions.UpdateName
	var (
		result any
		err    error
	)
	switch {
	case op.workflow == workflows.OnboardingWorkflowType && update == workflows.UpdateStarted:
		var st workflows.OnboardingState
		st, err = f.startOnboarding(op.args[0].(workflows.OnboardingInput))
		if errors.Is(err, errOnboardingRuns) {
			// As the client answers a start operation refused under the conflict policy FAIL.
			return nil, fmt.Errorf("failed workflow start: %w", errAlreadyStarted())
		}
		result = st
	case op.workflow == workflows.ChannelDeleteWorkflowType && update == workflows.UpdateAwaitDeleting:
		result, err = f.markDeleting(op.args[0].(workflows.ChannelDeleteInput))
	case op.workflow == workflows.SecretRotationWorkflowType &&
		(update == workflows.UpdateSetAppSecret || update == workflows.UpdateSetPageToken):
		result, err = f.rotate(op.args[0].(workflows.SecretRotationInput), update, opts.UpdateOptions.Args[0])
	case op.workflow == workflows.ExportWorkflowType && update == workflows.UpdateCancelExport:
		return f.cancelExport(op.opts.ID, op.args[0].(workflows.ExportInput))
	default:
		return nil, fmt.Errorf("no Update %q of a workflow registered as %#v", update, op.workflow)
	}
	return updateAnswer{workflowID: op.opts.ID, result: result, err: activities.NonRetryable(err)}, nil
}

// errOnboardingRuns is the played onboarding's refusal of a second run.
var errOnboardingRuns = errors.New("the onboarding runs")

// startOnboarding plays an onboarding's start up to its first record.
func (f *flows) startOnboarding(in workflows.OnboardingInput) (workflows.OnboardingState, error) {
	ctx, now := context.Background(), f.now().UTC()
	ch, err := f.store.FindChannel(ctx, in.ChannelID)
	if err != nil {
		return workflows.OnboardingState{}, err
	}
	switch ch.Onboarding.Status {
	case aicc.StatusAwaitingVerification, aicc.StatusVerified:
		return workflows.OnboardingState{}, errOnboardingRuns
	}
	certs, err := f.store.ListCertificates(ctx)
	if err != nil {
		return workflows.OnboardingState{}, err
	}
	o := aicc.Onboarding{Status: aicc.StatusAwaitingVerification, Step: workflows.StepAwaitVerification, UpdatedAt: now}
	if cerr := aicc.CheckCertificates(certs, now); cerr != nil {
		o = aicc.Onboarding{Status: aicc.StatusFailed, Step: workflows.StepDone, ErrorCode: aicc.ErrorCode(cerr), UpdatedAt: now}
	} else if code := f.proveApp(in); code != "" {
		o = aicc.Onboarding{Status: aicc.StatusFailed, Step: workflows.StepDone, ErrorCode: code, UpdatedAt: now}
	}
	if err := f.store.SetOnboarding(ctx, in.ChannelID, o); err != nil {
		return workflows.OnboardingState{}, err
	}
	st := workflows.OnboardingState{Status: o.Status, Step: o.Step, ErrorCode: o.ErrorCode, StartedAt: now}
	if o.Status == aicc.StatusAwaitingVerification {
		ttl := in.VerificationTTL
		if ttl == 0 {
			ttl = workflows.DefaultVerificationTTL
		}
		st.ExpiresAt = now.Add(ttl)
	}
	return st, nil
}

// proveApp plays the onboarding's proof and claim of the app, with the real activities in an environment of
// their own, once each (a retryable failure is taken as the one after the last attempt); it returns the code
// the onboarding fails with, "" when the app is claimed.
func (f *flows) proveApp(in workflows.OnboardingInput) string {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(tlog.NewStructuredLogger(f.logger))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	ch := activities.ChannelInput{TenantID: in.TenantID, ChannelID: in.ChannelID}
	for _, step := range []any{f.acts.ProveApp, f.acts.ClaimApp} {
		if _, err := env.ExecuteActivity(step, ch); err != nil {
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && aicc.IsCode(appErr.Type()) {
				return appErr.Type()
			}
			return aicc.EMETAUNAVAILABLE
		}
	}
	return ""
}

// markDeleting plays a deletion's start up to its first record.
func (f *flows) markDeleting(in workflows.ChannelDeleteInput) (workflows.ChannelDeleteState, error) {
	err := f.store.MarkChannelDeleting(context.Background(), in.ChannelID, f.now())
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND:
		return workflows.ChannelDeleteState{Gone: true}, nil
	case err != nil:
		return workflows.ChannelDeleteState{}, err
	}
	return workflows.ChannelDeleteState{Deleting: true}, nil
}

// updateAnswer is the handle of a completed Update: Get decodes its result as the client's data converter
// does, from JSON.
type updateAnswer struct {
	workflowID string
	result     any
	err        error
}

func (a updateAnswer) WorkflowID() string { return a.workflowID }
func (a updateAnswer) RunID() string      { return "run-1" }
func (a updateAnswer) UpdateID() string   { return "update-1" }

func (a updateAnswer) Get(_ context.Context, valuePtr any) error {
	if a.err != nil {
		return a.err
	}
	data, err := json.Marshal(a.result)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, valuePtr)
}

// rotationRun is a played SecretRotation: its live state, as the query answers it, and whether its run is
// over (complete, or changing Page tokens only, with no previous app secret accepted), after which an
// Update-with-Start begins a new run and an Update finds none.
type rotationRun struct {
	in    workflows.SecretRotationInput
	state workflows.RotationState
	over  bool
}

// rotate plays an Update-with-Start of the channel's rotation, beginning a new run when none runs.
func (f *flows) rotate(in workflows.SecretRotationInput, update string, arg any) (workflows.RotationState, error) {
	f.rotationMu.Lock()
	defer f.rotationMu.Unlock()
	r := f.rotations[in.ChannelID]
	if r == nil || r.over {
		r = &rotationRun{in: in}
		f.rotations[in.ChannelID] = r
	}
	return r.change(f, update, arg)
}

// rotationID returns the channel ID of a rotation's workflow ID.
func rotationID(workflowID string) (channelID string, ok bool) {
	return strings.CutPrefix(workflowID, workflows.SecretRotationWorkflowID(""))
}

// updateWorkflow is the mocked UpdateWorkflow: "revoke-previous" to a running rotation.
func (f *flows) updateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	if err := f.takeFailure("UpdateWorkflow"); err != nil {
		return nil, err
	}
	channelID, ok := rotationID(opts.WorkflowID)
	if !ok || opts.UpdateName != workflows.UpdateRevokePrevious {
		return nil, fmt.Errorf("no Update %q of workflow %s is played", opts.UpdateName, opts.WorkflowID)
	}
	f.rotationMu.Lock()
	defer f.rotationMu.Unlock()
	r := f.rotations[channelID]
	if r == nil || r.over {
		return nil, serviceerror.NewNotFound("workflow execution already completed")
	}
	st, err := r.change(f, opts.UpdateName, opts.Args[0])
	return updateAnswer{workflowID: opts.WorkflowID, result: st, err: err}, nil
}

// queryWorkflow is the mocked QueryWorkflow: "rotation" answers the latest rotation's state, over or not.
func (f *flows) queryWorkflow(_ context.Context, workflowID, _, queryType string, _ ...any) (converter.EncodedValue, error) {
	if err := f.takeFailure("QueryWorkflow"); err != nil {
		return nil, err
	}
	channelID, ok := rotationID(workflowID)
	if !ok || queryType != workflows.QueryRotationState {
		return nil, fmt.Errorf("no query %q of workflow %s is played", queryType, workflowID)
	}
	f.rotationMu.Lock()
	defer f.rotationMu.Unlock()
	r := f.rotations[channelID]
	if r == nil {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	return queryAnswer{r.state}, nil
}

// change plays one Update of the rotation, as its handler does, and answers the state it leaves. The caller
// holds f.rotationMu.
func (r *rotationRun) change(f *flows, update string, arg any) (workflows.RotationState, error) {
	var err error
	switch update {
	case workflows.UpdateSetAppSecret:
		err = r.setAppSecret(f, arg.(workflows.SetAppSecretRequest))
	case workflows.UpdateSetPageToken:
		err = r.setPageToken(f, arg.(workflows.SetPageTokenRequest))
	case workflows.UpdateRevokePrevious:
		err = r.revokePrevious(f, arg.(workflows.RevokePreviousRequest))
	}
	r.over = r.state.Status != aicc.RotationPending && r.state.PreviousUntil.IsZero()
	return r.state, err
}

// setAppSecret: ChangeAppSecret (the previous secret kept while one is accepted), then the Pages' count and
// the record.
func (r *rotationRun) setAppSecret(f *flows, req workflows.SetAppSecretRequest) error {
	now := f.now().UTC()
	var until time.Time
	if req.Overlap > 0 {
		until = now.Add(req.Overlap)
	}
	_, err := f.activity(f.acts.ChangeAppSecret, activities.ChangeAppSecretInput{
		TenantID: r.in.TenantID, ChannelID: r.in.ChannelID, VersionID: req.VersionID,
		PreviousUntil: until, Requester: req.Requester,
	})
	if err != nil {
		return err
	}
	r.state.Status = aicc.RotationPending
	r.state.StartedAt, r.state.StartedBy, r.state.PreviousUntil = now, req.Actor, until
	r.state.PagesDone = nil
	return r.checkAndRecord(f)
}

// setPageToken: ChangePageToken, then, when the app secret changed in this run, the Pages' count and the
// record.
func (r *rotationRun) setPageToken(f *flows, req workflows.SetPageTokenRequest) error {
	_, err := f.activity(f.acts.ChangePageToken, activities.ChangePageTokenInput{
		TenantID: r.in.TenantID, ChannelID: r.in.ChannelID, PageID: req.PageID, VersionID: req.VersionID,
		Requester: req.Requester,
	})
	if err != nil || r.state.Status == "" {
		return err
	}
	if !slices.Contains(r.state.PagesDone, req.PageID) {
		r.state.PagesDone = append(r.state.PagesDone, req.PageID)
		slices.Sort(r.state.PagesDone)
	}
	return r.checkAndRecord(f)
}

// revokePrevious: refused as the workflow's validator does when no previous secret is accepted, else
// RetirePreviousAppSecret for the requester, and the record.
func (r *rotationRun) revokePrevious(f *flows, req workflows.RevokePreviousRequest) error {
	if r.state.PreviousUntil.IsZero() {
		return activities.NonRetryable(aicc.Errorf(aicc.ENOPREVIOUSSECRET, "No previous app secret is accepted: there is nothing to revoke."))
	}
	_, err := f.activity(f.acts.RetirePreviousAppSecret, activities.RetirePreviousAppSecretInput{
		TenantID: r.in.TenantID, ChannelID: r.in.ChannelID, Revoked: &req.Requester,
	})
	if err != nil {
		return err
	}
	r.state.PreviousUntil = time.Time{}
	if r.state.Status == "" {
		return nil
	}
	return r.record(f)
}

// checkAndRecord counts the Pages still missing their token (none completes the rotation), and records.
func (r *rotationRun) checkAndRecord(f *flows) error {
	v, err := f.activity(f.acts.PagesWithoutNewToken, activities.RotationPagesInput{
		ChannelID: r.in.ChannelID, Limit: workflows.MaxListedMissingPages,
	})
	if err != nil {
		return err
	}
	var pages activities.RotationPages
	if err := v.Get(&pages); err != nil {
		return err
	}
	r.state.PagesMissing, r.state.MissingPageIDs = pages.Missing, pages.IDs
	if pages.Missing == 0 && r.state.Status == aicc.RotationPending {
		r.state.Status = aicc.RotationComplete
	}
	return r.record(f)
}

func (r *rotationRun) record(f *flows) error {
	s := r.state
	_, err := f.activity(f.acts.RecordRotation, activities.RecordRotationInput{
		TenantID: r.in.TenantID, ChannelID: r.in.ChannelID,
		Rotation: aicc.Rotation{Status: s.Status, StartedAt: s.StartedAt, PreviousUntil: s.PreviousUntil,
			PagesMissing: s.PagesMissing, RemindedAt: s.RemindedAt, UpdatedAt: f.now().UTC()},
	})
	return err
}

// activity runs an activity once, as the worker would (no retry): its error is what the workflow would get.
func (f *flows) activity(fn any, in any) (converter.EncodedValue, error) {
	return f.env.ExecuteActivity(fn, in)
}

// queryAnswer is a query's result: Get decodes it from JSON, as the client's data converter does.
type queryAnswer struct{ result any }

func (a queryAnswer) HasValue() bool { return true }

func (a queryAnswer) Get(valuePtr any) error {
	data, err := json.Marshal(a.result)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, valuePtr)
}

// graphProvider gives the activities the Graph client of the fake Meta.
type graphProvider struct{ g aicc.Graph }

func (p graphProvider) Graph(context.Context) (aicc.Graph, error) { return p.g, nil }

// graphTransport serves a Graph client's requests with the fake Meta, in process.
type graphTransport struct{ g *metatest.Graph }

func (t graphTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.g.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// exportRun is a played Export: its input and the progress it records, kept as the workflow keeps them.
type exportRun struct {
	in       workflows.ExportInput
	progress aicc.ExportProgress // Status "" until the run has begun
	over     bool                // the run ended: cancelled, failed or expired
}

// setHoldExports makes the exports started from now on stay pending (hold) until runExport plays them, or be
// played at once (the default).
func (f *flows) setHoldExports(hold bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holdExports = hold
}

// startExport plays the start of an Export: refused once the export has a run, as an export's ID is never
// used again, else its run, at once unless exports are held.
func (f *flows) startExport(in workflows.ExportInput) error {
	f.exportMu.Lock()
	defer f.exportMu.Unlock()
	if f.exports[in.ExportID] != nil {
		return errAlreadyStarted()
	}
	if in.Retention == 0 {
		in.Retention = aicc.DefaultExportRetention
	}
	r := &exportRun{in: in}
	f.exports[in.ExportID] = r
	f.mu.Lock()
	hold := f.holdExports
	f.mu.Unlock()
	if hold {
		return nil
	}
	f.keepExportError(r.run(f))
	return nil
}

// runExport plays the held export's run to its end.
func (f *flows) runExport(exportID string) error {
	f.exportMu.Lock()
	defer f.exportMu.Unlock()
	r := f.exports[exportID]
	if r == nil || r.progress.Status != "" {
		return fmt.Errorf("no held export %s", exportID)
	}
	return r.run(f)
}

// expireExport fires the retention timer of the successful export: its files are deleted and it is recorded
// expired.
func (f *flows) expireExport(exportID string) error {
	f.exportMu.Lock()
	defer f.exportMu.Unlock()
	r := f.exports[exportID]
	if r == nil || r.over || r.progress.Status != aicc.ExportSuccess {
		return fmt.Errorf("no successful export %s waits for its retention to end", exportID)
	}
	return r.end(f, aicc.ExportExpired, "")
}

// cancelExport plays the Update-with-Start "cancel": refused once the run is over (the ID is not used again),
// else the files deleted and the export recorded cancelled, after recording it running when the run had not
// begun (a held export, or one Temporal never started).
func (f *flows) cancelExport(workflowID string, in workflows.ExportInput) (client.WorkflowUpdateHandle, error) {
	f.exportMu.Lock()
	defer f.exportMu.Unlock()
	r := f.exports[in.ExportID]
	switch {
	case r == nil:
		r = &exportRun{in: in}
		f.exports[in.ExportID] = r
	case r.over:
		return nil, fmt.Errorf("failed workflow start: %w", errAlreadyStarted())
	}
	var err error
	if r.progress.Status == "" {
		r.progress = aicc.ExportProgress{Status: aicc.ExportRunning, StartedAt: f.now().UTC()}
		err = r.record(f)
	}
	if err == nil {
		err = r.end(f, aicc.ExportCancelled, "")
	}
	return updateAnswer{workflowID: workflowID, result: r.progress.Status, err: err}, nil
}

// keepExportError keeps the first error of a played export's workflow, for requireNoFailureLeft.
func (f *flows) keepExportError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.exportErr == nil {
		f.exportErr = err
	}
}

// run: RecordExport running, WriteExport, then success with the files, or the failure ended. The caller
// holds f.exportMu.
func (r *exportRun) run(f *flows) error {
	r.progress = aicc.ExportProgress{Status: aicc.ExportRunning, StartedAt: f.now().UTC()}
	if err := r.record(f); err != nil {
		return err
	}
	v, err := f.activity(f.acts.WriteExport, r.in)
	if err != nil {
		code := aicc.ErrorCode(workflows.DomainError(err))
		return r.end(f, aicc.ExportFailed, code)
	}
	var files []aicc.ExportFile
	if err := v.Get(&files); err != nil {
		return err
	}
	p, now := &r.progress, f.now().UTC()
	p.Status, p.Files, p.FilesDone, p.RecordsDone = aicc.ExportSuccess, files, len(files), 0
	for _, file := range files {
		p.RecordsDone += file.Records
	}
	p.Total = p.RecordsDone
	p.FinishedAt, p.ExpiresAt = now, now.Add(r.in.Retention)
	return r.record(f)
}

// end: DeleteExportFiles, then the final status recorded; a cancelled or failed export keeps no files.
func (r *exportRun) end(f *flows, status aicc.ExportStatus, code string) error {
	if _, err := f.activity(f.acts.DeleteExportFiles, r.in); err != nil {
		return err
	}
	p := &r.progress
	p.Status, p.ErrorCode = status, code
	if status != aicc.ExportExpired {
		p.FinishedAt = f.now().UTC()
	}
	if status == aicc.ExportCancelled || status == aicc.ExportFailed {
		p.Files, p.ExpiresAt = nil, time.Time{}
	}
	r.over = true
	return r.record(f)
}

func (r *exportRun) record(f *flows) error {
	r.progress.UpdatedAt = f.now().UTC()
	_, err := f.activity(f.acts.RecordExport, activities.RecordExportInput{
		TenantID: r.in.TenantID, ExportID: r.in.ExportID, Progress: r.progress,
	})
	return err
}
