package worker_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// recordingClient is a client.Client that records what the typed starters ask of Temporal: the workflows they
// start, by type name and ID, with their input, and the updates, queries and signals they send, by workflow ID.
// Every call succeeds. Methods the starters do not call panic through the nil embedded interface.
type recordingClient struct {
	client.Client
	t        *testing.T
	types    map[string]string // workflow ID → type name
	inputs   map[string]any    // type name → an input it was started with
	messages []message
}

// message is an update, query or signal sent to the workflow with ID id.
type message struct{ kind, id, name string }

func newRecordingClient(t *testing.T) *recordingClient {
	return &recordingClient{t: t, types: map[string]string{}, inputs: map[string]any{}}
}

func (c *recordingClient) start(id string, wf any, args []any) {
	typ, ok := wf.(string)
	if !assert.True(c.t, ok, "workflow %s is started by its function (%T), not by its registered name", id, wf) {
		return
	}
	assert.NotEmpty(c.t, id, "a %s is started without an ID", typ)
	c.types[id] = typ
	if len(args) == 1 {
		c.inputs[typ] = args[0]
	}
}

// startOp is the operation NewWithStartWorkflowOperation returns, carrying its workflow ID to the update.
type startOp struct {
	client.WithStartWorkflowOperation
	id string
}

// handle is an update handle whose result is the zero value.
type handle struct{ client.WorkflowUpdateHandle }

func (handle) Get(context.Context, any) error { return nil }

// value is a query result that is the zero value.
type value struct{ converter.EncodedValue }

func (value) Get(any) error { return nil }

func (c *recordingClient) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	c.start(opts.ID, wf, args)
	return nil, nil
}

func (c *recordingClient) NewWithStartWorkflowOperation(opts client.StartWorkflowOptions, wf any, args ...any) client.WithStartWorkflowOperation {
	c.start(opts.ID, wf, args)
	return startOp{id: opts.ID}
}

func (c *recordingClient) UpdateWithStartWorkflow(_ context.Context, opts client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	op, ok := opts.StartWorkflowOperation.(startOp)
	require.True(c.t, ok, "an Update-with-Start without its start operation")
	c.messages = append(c.messages, message{"update", op.id, opts.UpdateOptions.UpdateName})
	return handle{}, nil
}

func (c *recordingClient) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	c.messages = append(c.messages, message{"update", opts.WorkflowID, opts.UpdateName})
	return handle{}, nil
}

func (c *recordingClient) QueryWorkflow(_ context.Context, id, _, query string, _ ...any) (converter.EncodedValue, error) {
	c.messages = append(c.messages, message{"query", id, query})
	return value{}, nil
}

func (c *recordingClient) SignalWorkflow(_ context.Context, id, _, signal string, _ any) error {
	c.messages = append(c.messages, message{"signal", id, signal})
	return nil
}

func (c *recordingClient) SignalWithStartWorkflow(_ context.Context, id, signal string, _ any, _ client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	c.start(id, wf, args)
	c.messages = append(c.messages, message{"signal", id, signal})
	return nil, nil
}

func (c *recordingClient) ScheduleClient() client.ScheduleClient { return recordingSchedules{c: c} }

// recordingSchedules records the workflow a schedule starts as started by its action's workflow ID.
type recordingSchedules struct {
	client.ScheduleClient
	c *recordingClient
}

func (s recordingSchedules) Create(_ context.Context, opts client.ScheduleOptions) (client.ScheduleHandle, error) {
	a, ok := opts.Action.(*client.ScheduleWorkflowAction)
	require.True(s.c.t, ok, "schedule %s starts no workflow", opts.ID)
	s.c.start(a.ID, a.Workflow, a.Args)
	return nil, nil
}

// recordingRegistry is a worker.WorkflowRegistry that records the names workflows are registered under.
type recordingRegistry map[string]any

func (r recordingRegistry) RegisterWorkflowWithOptions(w any, opts workflow.RegisterOptions) {
	r[opts.Name] = w
}

// starters drives every typed starter of package workflows once, by name.
var starters = map[string]func(context.Context, client.Client) error{
	"StartOnboarding": func(ctx context.Context, c client.Client) error {
		_, err := workflows.StartOnboarding(ctx, c, workflows.OnboardingInput{TenantID: "ten_1", ChannelID: "ch_1"})
		return err
	},
	"ConfirmOnboarding": func(ctx context.Context, c client.Client) error {
		_, err := workflows.ConfirmOnboarding(ctx, c, "ch_1")
		return err
	},
	"CancelOnboarding": func(ctx context.Context, c client.Client) error {
		_, err := workflows.CancelOnboarding(ctx, c, "ch_1")
		return err
	},
	"QueryOnboarding": func(ctx context.Context, c client.Client) error {
		_, err := workflows.QueryOnboarding(ctx, c, "ch_1")
		return err
	},
	"NotifyMetaVerified": func(ctx context.Context, c client.Client) error {
		return workflows.NotifyMetaVerified(ctx, c, "ch_1", time.Now())
	},
	"StartConnectPage": func(ctx context.Context, c client.Client) error {
		_, err := workflows.StartConnectPage(ctx, c, workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "42"})
		return err
	},
	"StartDisconnectPage": func(ctx context.Context, c client.Client) error {
		_, err := workflows.StartDisconnectPage(ctx, c, workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "42"})
		return err
	},
	"DeleteChannel": func(ctx context.Context, c client.Client) error {
		_, err := workflows.DeleteChannel(ctx, c, workflows.ChannelDeleteInput{TenantID: "ten_1", ChannelID: "ch_1"})
		return err
	},
	"ResumeChannelDelete": func(ctx context.Context, c client.Client) error {
		return workflows.ResumeChannelDelete(ctx, c, workflows.ChannelDeleteInput{TenantID: "ten_1", ChannelID: "ch_1"})
	},
	"StartSendTestMessage": func(ctx context.Context, c client.Client) error {
		_, err := workflows.StartSendTestMessage(ctx, c, workflows.TestMessageInput{
			PageInput: workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "42"},
			Message:   aicc.OutboundMessage{RecipientPSID: "7", Text: "hi", Type: aicc.MessagingUpdate},
		})
		return err
	},
	"SetAppSecret": func(ctx context.Context, c client.Client) error {
		_, err := workflows.SetAppSecret(ctx, c, rotationInput, workflows.SetAppSecretRequest{VersionID: "sv_1", Overlap: time.Hour})
		return err
	},
	"SetPageToken": func(ctx context.Context, c client.Client) error {
		_, err := workflows.SetPageToken(ctx, c, rotationInput, workflows.SetPageTokenRequest{PageID: "42", VersionID: "sv_2"})
		return err
	},
	"RevokePreviousAppSecret": func(ctx context.Context, c client.Client) error {
		_, err := workflows.RevokePreviousAppSecret(ctx, c, "ch_1", workflows.RevokePreviousRequest{})
		return err
	},
	"QuerySecretRotation": func(ctx context.Context, c client.Client) error {
		_, err := workflows.QuerySecretRotation(ctx, c, "ch_1")
		return err
	},
	"StartExport": func(ctx context.Context, c client.Client) error {
		return workflows.StartExport(ctx, c, workflows.ExportInput{TenantID: "ten_1", ExportID: "exp_1"})
	},
	"CancelExport": func(ctx context.Context, c client.Client) error {
		_, err := workflows.CancelExport(ctx, c, workflows.ExportInput{TenantID: "ten_1", ExportID: "exp_1"})
		return err
	},
	"EnsureInboxRetentionSchedule": func(ctx context.Context, c client.Client) error {
		_, err := workflows.EnsureInboxRetentionSchedule(ctx, c, workflows.InboxRetentionSchedule{
			Input: workflows.InboxRetentionInput{DeliveredAge: 30 * 24 * time.Hour, DeadAge: 90 * 24 * time.Hour},
		})
		return err
	},
	"AssignConversation": func(ctx context.Context, c client.Client) error {
		_, err := workflows.AssignConversation(ctx, c, "ten_1", conversationKey, "ann")
		return err
	},
	"SendAgentMessage": func(ctx context.Context, c client.Client) error {
		_, err := workflows.SendAgentMessage(ctx, c, "ten_1", conversationKey,
			workflows.AgentMessageRequest{AgentID: "ann", RequestID: "r1", Text: "Hello"})
		return err
	},
	"TransferConversation": func(ctx context.Context, c client.Client) error {
		_, err := workflows.TransferConversation(ctx, c, "ten_1", conversationKey, workflows.TransferRequest{AgentID: "ann", QueueID: "sq_1"})
		return err
	},
	"DeclineConversation": func(ctx context.Context, c client.Client) error {
		_, err := workflows.DeclineConversation(ctx, c, "ten_1", conversationKey, "ann")
		return err
	},
	"CloseConversation": func(ctx context.Context, c client.Client) error {
		_, err := workflows.CloseConversation(ctx, c, "ten_1", conversationKey, "ann")
		return err
	},
	"DeliverInboxEvents": func(ctx context.Context, c client.Client) error {
		return workflows.DeliverInboxEvents(ctx, c,
			workflows.ConversationInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "42", PSID: "7"},
			[]workflows.InboxEventSignal{{InboxID: 1, Kind: aicc.EventMessage, MID: "m_1", Timestamp: 1000, Text: "hello"}})
	},
}

var (
	rotationInput   = workflows.SecretRotationInput{TenantID: "ten_1", ChannelID: "ch_1"}
	conversationKey = aicc.ConversationKey{ChannelID: "ch_1", PageID: "42", PSID: "7"}
)

// startersInSource lists the exported functions of workflows/starters.go that take a client.Client: the typed
// starters, which the API and the worker reach Temporal through.
func startersInSource(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../workflows/starters.go", nil, parser.SkipObjectResolution)
	require.NoError(t, err)
	var names []string
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || !fn.Name.IsExported() {
			continue
		}
		for _, p := range fn.Type.Params.List {
			if sel, ok := p.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Client" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "client" {
					names = append(names, fn.Name.Name)
				}
			}
		}
	}
	sort.Strings(names)
	return names
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// The typed starters and the worker agree on every name: each workflow a starter starts is registered under the
// type name it is started by, each registered workflow is started by some starter, and the workflow that each
// update, query and signal goes to has a handler for that name.
func TestStartersReachRegisteredWorkflows(t *testing.T) {
	require.Equal(t, startersInSource(t), keys(starters), "every typed starter in workflows/starters.go is driven here")

	c := newRecordingClient(t)
	for name, start := range starters {
		require.NoError(t, start(context.Background(), c), name)
	}
	registered := recordingRegistry{}
	worker.RegisterWorkflows(registered)

	started := map[string]bool{}
	for _, typ := range c.types {
		started[typ] = true
	}
	assert.Equal(t, keys(registered), keys(started), "registered workflow types = workflow types the starters start")
	for name, fn := range registered {
		assert.NotEmpty(t, name)
		assert.Equal(t, reflect.Func, reflect.TypeOf(fn).Kind(), name)
	}

	// The messages, by the type of the workflow they go to.
	byType := map[string][]message{}
	for _, m := range c.messages {
		typ, ok := c.types[m.id]
		if !assert.True(t, ok, "the %s %q goes to %s, which no starter starts", m.kind, m.name, m.id) {
			continue
		}
		byType[typ] = append(byType[typ], m)
	}
	require.NotEmpty(t, byType)
	for typ, msgs := range byType {
		t.Run(typ, func(t *testing.T) {
			in, ok := c.inputs[typ]
			require.True(t, ok, "no input recorded for %s", typ)
			defs := handlers(t, typ, in)
			for _, m := range msgs {
				assert.Contains(t, defs[m.kind], m.name, "%s has no %s handler %q", typ, m.kind, m.name)
			}
		})
	}
}

// handlers runs the workflow registered as typ with input in, every activity blocked, and returns the names of
// the updates, queries and signals it handles once it runs, from the workflow metadata query Temporal's UI uses
// too.
func handlers(t *testing.T, typ string, in any) map[string][]string {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	worker.RegisterWorkflows(env)
	blockActivities(env)
	env.OnRequestCancelExternalWorkflow(mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()

	var md sdkpb.WorkflowMetadata
	env.RegisterDelayedCallback(func() {
		// client.QueryTypeWorkflowMetadata is internal to the SDK; this is its value.
		v, err := env.QueryWorkflow("__temporal_workflow_metadata")
		require.NoError(t, err)
		require.NoError(t, v.Get(&md))
		env.CancelWorkflow()
	}, time.Minute)
	env.ExecuteWorkflow(typ, in)
	require.True(t, env.IsWorkflowCompleted())

	names := func(defs []*sdkpb.WorkflowInteractionDefinition) []string {
		var out []string
		for _, d := range defs {
			out = append(out, d.GetName())
		}
		return out
	}
	def := md.GetDefinition()
	require.Equal(t, typ, def.GetType())
	return map[string][]string{
		"update": names(def.GetUpdateDefinitions()),
		"query":  names(def.GetQueryDefinitions()),
		"signal": names(def.GetSignalDefinitions()),
	}
}

// blockActivities registers every activity with env, each answering its zero value after an hour of virtual
// time: long enough for a workflow to sit in its first step.
func blockActivities(env *testsuite.TestWorkflowEnvironment) {
	acts := &activities.Activities{}
	env.RegisterActivity(acts)
	v := reflect.ValueOf(acts)
	for i := range v.NumMethod() {
		m := v.Type().Method(i)
		ft := v.Method(i).Type()
		if ft.NumOut() == 0 || ft.Out(ft.NumOut()-1) != reflect.TypeFor[error]() {
			continue // not an activity
		}
		zero := reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, ft.NumOut())
			for j := range out {
				out[j] = reflect.Zero(ft.Out(j))
			}
			return out
		})
		args := slices.Repeat([]any{mock.Anything}, ft.NumIn())
		env.OnActivity(m.Name, args...).Return(zero.Interface()).After(time.Hour).Maybe()
	}
}
