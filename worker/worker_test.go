package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/grpc"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// operator is a fake operator service holding one namespace's custom search attributes.
type operator struct {
	operatorservice.OperatorServiceClient
	attrs  map[string]enumspb.IndexedValueType
	addErr error // returned by AddSearchAttributes
	lost   bool  // AddSearchAttributes fails without adding
	added  []map[string]enumspb.IndexedValueType
}

func (o *operator) ListSearchAttributes(_ context.Context, in *operatorservice.ListSearchAttributesRequest, _ ...grpc.CallOption) (*operatorservice.ListSearchAttributesResponse, error) {
	if in.GetNamespace() != "default" {
		return nil, serviceerror.NewNamespaceNotFound(in.GetNamespace())
	}
	attrs := map[string]enumspb.IndexedValueType{}
	for k, v := range o.attrs {
		attrs[k] = v
	}
	return &operatorservice.ListSearchAttributesResponse{CustomAttributes: attrs}, nil
}

func (o *operator) AddSearchAttributes(_ context.Context, in *operatorservice.AddSearchAttributesRequest, _ ...grpc.CallOption) (*operatorservice.AddSearchAttributesResponse, error) {
	o.added = append(o.added, in.GetSearchAttributes())
	if o.lost {
		return nil, o.addErr
	}
	if o.attrs == nil {
		o.attrs = map[string]enumspb.IndexedValueType{}
	}
	for k, v := range in.GetSearchAttributes() {
		o.attrs[k] = v
	}
	return &operatorservice.AddSearchAttributesResponse{}, o.addErr
}

// frontend is a fake workflow service whose namespace cache has the search attributes after it refused that
// many visibility queries.
type frontend struct {
	workflowservice.WorkflowServiceClient
	refusals int
	queries  []string
}

func (f *frontend) ListWorkflowExecutions(_ context.Context, in *workflowservice.ListWorkflowExecutionsRequest, _ ...grpc.CallOption) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.queries = append(f.queries, in.GetQuery())
	if len(f.queries) <= f.refusals {
		return nil, serviceerror.NewInvalidArgument("Namespace default has no mapping defined for search attribute TenantId")
	}
	return &workflowservice.ListWorkflowExecutionsResponse{}, nil
}

// fakeClient is a client.Client whose only working methods are OperatorService and WorkflowService.
type fakeClient struct {
	client.Client
	op *operator
	wf *frontend
}

func (c fakeClient) OperatorService() operatorservice.OperatorServiceClient { return c.op }

func (c fakeClient) WorkflowService() workflowservice.WorkflowServiceClient {
	if c.wf == nil {
		return &frontend{}
	}
	return c.wf
}

const keyword = enumspb.INDEXED_VALUE_TYPE_KEYWORD

func TestRegisterSearchAttributes(t *testing.T) {
	ctx := context.Background()

	t.Run("adds the missing ones", func(t *testing.T) {
		op := &operator{attrs: map[string]enumspb.IndexedValueType{"TenantId": keyword}}
		require.NoError(t, worker.RegisterSearchAttributes(ctx, fakeClient{op: op}, "default"))
		require.Len(t, op.added, 1)
		assert.Equal(t, map[string]enumspb.IndexedValueType{"ChannelId": keyword}, op.added[0])
	})

	t.Run("idempotent", func(t *testing.T) {
		op := &operator{}
		c := fakeClient{op: op}
		require.NoError(t, worker.RegisterSearchAttributes(ctx, c, "default"))
		require.NoError(t, worker.RegisterSearchAttributes(ctx, c, "default"))
		require.Len(t, op.added, 1, "the second call adds nothing")
		assert.Equal(t, map[string]enumspb.IndexedValueType{"TenantId": keyword, "ChannelId": keyword}, op.added[0])
	})

	t.Run("added concurrently", func(t *testing.T) {
		op := &operator{addErr: serviceerror.NewAlreadyExists("search attribute ChannelId already exists")}
		require.NoError(t, worker.RegisterSearchAttributes(ctx, fakeClient{op: op}, "default"))
	})

	t.Run("add fails", func(t *testing.T) {
		op := &operator{addErr: serviceerror.NewPermissionDenied("not allowed", ""), lost: true}
		err := worker.RegisterSearchAttributes(ctx, fakeClient{op: op}, "default")
		var denied *serviceerror.PermissionDenied
		assert.ErrorAs(t, err, &denied)
	})

	t.Run("wrong type", func(t *testing.T) {
		op := &operator{attrs: map[string]enumspb.IndexedValueType{"TenantId": enumspb.INDEXED_VALUE_TYPE_TEXT}}
		err := worker.RegisterSearchAttributes(ctx, fakeClient{op: op}, "default")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "TenantId")
	})

	t.Run("waits until the frontend takes them", func(t *testing.T) {
		wf := &frontend{refusals: 3}
		require.NoError(t, worker.RegisterSearchAttributes(ctx, fakeClient{op: &operator{}, wf: wf}, "default"))
		require.Len(t, wf.queries, 4)
		assert.Equal(t, "TenantId = '' AND ChannelId = ''", wf.queries[3])
	})

	t.Run("never taken", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		err := worker.RegisterSearchAttributes(ctx, fakeClient{op: &operator{}, wf: &frontend{refusals: 1 << 30}}, "default")
		var invalid *serviceerror.InvalidArgument
		require.ErrorAs(t, err, &invalid)
		assert.Contains(t, err.Error(), "not usable yet")
	})

	t.Run("unknown namespace", func(t *testing.T) {
		err := worker.RegisterSearchAttributes(ctx, fakeClient{op: &operator{}}, "nope")
		var nf *serviceerror.NamespaceNotFound
		assert.ErrorAs(t, err, &nf)
	})
}

// channelStore is a fake aicc.ChannelStore: one channel with one Page, and the last states written.
type channelStore struct {
	aicc.ChannelStore
	keyring *aicc.Keyring
	last    aicc.Onboarding
	page    *aicc.PageState // nil once removed
	status  aicc.ChannelStatus
	deleted bool
}

func (s *channelStore) MarkChannelDeleting(context.Context, string, time.Time) error {
	if s.deleted {
		return aicc.Errorf(aicc.ENOTFOUND, "The channel does not exist.")
	}
	s.status = aicc.StatusDeleting
	return nil
}

func (s *channelStore) ListPages(_ context.Context, tenantID, channelID string, _ aicc.ListOptions) ([]*aicc.Page, string, error) {
	if s.page == nil {
		return nil, "", nil
	}
	return []*aicc.Page{{PageID: "42", ChannelID: channelID, TenantID: tenantID, State: *s.page}}, "", nil
}

func (s *channelStore) DeleteChannel(context.Context, string, string) error {
	if s.deleted {
		return aicc.Errorf(aicc.ENOTFOUND, "The channel does not exist.")
	}
	s.deleted = true
	return nil
}

func (s *channelStore) SetOnboarding(_ context.Context, _ string, o aicc.Onboarding) error {
	s.last = o
	return nil
}

func (s *channelStore) CountPages(_ context.Context, _ string, status aicc.PageStatus) (int, error) {
	if s.page != nil && s.page.Status == status {
		return 1, nil
	}
	return 0, nil
}

func (s *channelStore) FindChannel(_ context.Context, id string) (*aicc.Channel, error) {
	return &aicc.Channel{ID: id, AppID: "777"}, nil
}

func (s *channelStore) GetChannel(ctx context.Context, _, id string) (*aicc.Channel, error) {
	return s.FindChannel(ctx, id)
}

func (s *channelStore) ClaimApp(context.Context, string, string, time.Time) error { return nil }

func (s *channelStore) ChannelSecret(_ context.Context, channelID string, kind aicc.SecretKind) (aicc.SealedSecret, error) {
	return s.keyring.Seal("app-secret", aicc.ChannelSecretOwner(channelID, kind), time.Now()), nil
}

func (s *channelStore) PageToken(_ context.Context, _, _, pageID string) (aicc.SealedSecret, error) {
	if s.page == nil {
		return aicc.SealedSecret{}, aicc.Errorf(aicc.ENOTFOUND, "The Page does not exist.")
	}
	return s.keyring.Seal("page-token", aicc.PageTokenOwner(pageID), time.Now()), nil
}

func (s *channelStore) SetPageStatus(_ context.Context, _, _, _ string, status aicc.PageStatus, reason string, _ time.Time) error {
	if s.page == nil {
		return aicc.Errorf(aicc.ENOTFOUND, "The Page does not exist.")
	}
	s.page.Status, s.page.Reason = status, reason
	return nil
}

func (s *channelStore) RemovePage(context.Context, string, string, string) error {
	if s.page == nil {
		return aicc.Errorf(aicc.ENOTFOUND, "The Page does not exist.")
	}
	s.page = nil
	return nil
}

// GetPage returns the Page, claimed: ClaimPage claims it.
func (s *channelStore) GetPage(_ context.Context, tenantID, channelID, pageID string) (*aicc.Page, error) {
	if s.page == nil {
		return nil, aicc.Errorf(aicc.ENOTFOUND, "The Page does not exist.")
	}
	return &aicc.Page{PageID: pageID, ChannelID: channelID, TenantID: tenantID, State: *s.page, ClaimedAt: time.Now()}, nil
}

func (s *channelStore) ClaimPage(context.Context, string, string, string, time.Time) error {
	if s.page == nil {
		return aicc.Errorf(aicc.ENOTFOUND, "The Page does not exist.")
	}
	return nil
}

func (s *channelStore) PageTokenHealth(context.Context, string, string, string) (aicc.TokenHealth, error) {
	if s.page == nil {
		return "", aicc.Errorf(aicc.ENOTFOUND, "The Page does not exist.")
	}
	return s.page.TokenHealth, nil
}

func (s *channelStore) SetPageTokenHealth(_ context.Context, _, _, _ string, h aicc.TokenHealth, reason string, _ time.Time) error {
	if s.page != nil {
		s.page.TokenHealth, s.page.TokenHealthReason = h, reason
	}
	return nil
}

// certStore is a fake aicc.CertificateStore holding one valid certificate.
type certStore struct{ aicc.CertificateStore }

func (certStore) ListCertificates(context.Context) ([]*aicc.Certificate, error) {
	now := time.Now()
	return []*aicc.Certificate{{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}}, nil
}

// graph is a fake Meta with one Page the app subscribes to.
type graph struct {
	calls      []string
	subscribed bool
}

func (g *graph) Graph(context.Context) (aicc.Graph, error) { return g, nil }

func (g *graph) CheckApp(context.Context, aicc.AppCall) error {
	g.calls = append(g.calls, "app")
	return nil
}

func (g *graph) CheckPageToken(_ context.Context, call aicc.PageCall) (aicc.PageInfo, error) {
	g.calls = append(g.calls, "check")
	return aicc.PageInfo{ID: call.PageID}, nil
}

func (g *graph) SubscribeApp(context.Context, aicc.PageCall) error {
	g.calls = append(g.calls, "subscribe")
	g.subscribed = true
	return nil
}

func (g *graph) SubscribedApps(context.Context, aicc.PageCall) ([]aicc.SubscribedApp, error) {
	g.calls = append(g.calls, "read")
	if !g.subscribed {
		return nil, nil
	}
	return []aicc.SubscribedApp{{ID: "777", Fields: aicc.SubscribedFields}}, nil
}

func (g *graph) SendMessage(_ context.Context, _ aicc.PageCall, msg aicc.OutboundMessage) (aicc.SendResult, error) {
	g.calls = append(g.calls, "send:"+msg.Text)
	return aicc.SendResult{MessageID: "m_1"}, nil
}

func (g *graph) UnsubscribeApp(context.Context, aicc.PageCall) error {
	g.calls = append(g.calls, "unsubscribe")
	g.subscribed = false
	return nil
}

func newActivities(t *testing.T) (*activities.Activities, *channelStore, *graph) {
	t.Helper()
	k, err := aicc.NewKeyring(make([]byte, aicc.MasterKeySize))
	require.NoError(t, err)
	store := &channelStore{keyring: k, page: &aicc.PageState{Status: aicc.PageConnecting}}
	g := &graph{}
	return &activities.Activities{Channels: store, Certificates: certStore{}, Keyring: k, Graph: g, Now: time.Now}, store, g
}

// Register wires the workflows under their fixed names to the real activities: a Page is connected, the
// onboarding confirmed, and the Page disconnected.
func TestRegister(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	acts, store, g := newActivities(t)
	page := workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "42"}

	env := ts.NewTestWorkflowEnvironment()
	worker.Register(env, acts)
	env.ExecuteWorkflow("ConnectPage", page)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var connected workflows.ConnectPageResult
	require.NoError(t, env.GetWorkflowResult(&connected))
	assert.Equal(t, workflows.ConnectPageResult{Status: aicc.PageSubscribed}, connected)
	assert.Equal(t, []string{"check", "subscribe", "read"}, g.calls)
	require.NotNil(t, store.page)
	assert.Equal(t, aicc.PageSubscribed, store.page.Status)
	assert.Equal(t, aicc.TokenHealthy, store.page.TokenHealth)

	env = ts.NewTestWorkflowEnvironment()
	worker.Register(env, acts)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalMetaVerified, workflows.MetaVerifiedSignal{})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflowNoRejection(workflows.UpdateConfirm, "confirm-1", t, workflows.ConfirmRequest{})
	}, 2*time.Hour)
	env.ExecuteWorkflow("Onboarding", workflows.OnboardingInput{TenantID: "ten_1", ChannelID: "ch_1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.OnboardingResult
	require.NoError(t, env.GetWorkflowResult(&res))
	assert.Equal(t, aicc.StatusActive, res.Status)
	assert.Equal(t, aicc.StatusActive, store.last.Status)
	assert.Contains(t, g.calls, "app", "the App Secret is proven with Meta")

	env = ts.NewTestWorkflowEnvironment()
	worker.Register(env, acts)
	env.ExecuteWorkflow("DisconnectPage", page)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	assert.Nil(t, store.page, "removed")
	assert.False(t, g.subscribed, "unsubscribed")
}

// conversationStores add what the Conversation workflow's activities read and write to the channel store: a
// channel whose sessions end after 20 minutes without a customer reply, the saved conversations, and an inbox
// that holds nothing undelivered.
type conversationStores struct {
	*channelStore
	aicc.ConversationStore
	aicc.InboxStore
	saved []aicc.Conversation
}

func (s *conversationStores) HasUnappliedEvents(context.Context, string, aicc.ConversationKey, int64) (bool, error) {
	return false, nil
}

func (s *conversationStores) GetChannel(_ context.Context, tenantID, id string) (*aicc.Channel, error) {
	ch := aicc.DefaultChannel()
	ch.ID, ch.TenantID = id, tenantID
	ch.Basic.NoCustomerReply.Enabled = true
	return &ch, nil
}

func (s *conversationStores) GetConversation(context.Context, string, string) (*aicc.Conversation, error) {
	return nil, aicc.Errorf(aicc.ENOTFOUND, "The conversation does not exist.")
}

func (s *conversationStores) SaveConversation(_ context.Context, c *aicc.Conversation) error {
	s.saved = append(s.saved, *c)
	return nil
}

// Register wires the Conversation workflow under the name the dispatcher starts it by, to the real activities.
func TestRegisterConversation(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	acts, store, _ := newActivities(t)
	stores := &conversationStores{channelStore: store}
	acts.Channels, acts.Conversations, acts.Inbox = stores, stores, stores

	env := ts.NewTestWorkflowEnvironment()
	worker.Register(env, acts)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(workflows.SignalInboxEvents, workflows.InboxEventsSignal{Events: []workflows.InboxEventSignal{{
			InboxID: 1, Kind: aicc.EventMessage, MID: "m_1", Timestamp: env.Now().UnixMilli(), Text: "hello",
		}}})
	}, time.Minute)
	env.ExecuteWorkflow(workflows.ConversationWorkflowType, workflows.ConversationInput{
		TenantID: "ten_1", ChannelID: "ch_1", PageID: "42", PSID: "7",
	})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, stores.saved, 2)
	assert.Equal(t, aicc.ConversationOpen, stores.saved[0].Status)
	assert.Equal(t, aicc.ConversationID("ch_1", "42", "7"), stores.saved[0].ID)
	assert.Equal(t, aicc.ConversationEnded, stores.saved[1].Status, "after 20 minutes without a customer reply")
	assert.Equal(t, 20*time.Minute, stores.saved[1].EndedAt.Sub(stores.saved[0].UpdatedAt))
}

// Register wires ChannelDelete and SendTestMessage under the names their starters use to the real activities:
// a test message goes out once, and the deletion disconnects the Page from Meta and deletes the channel.
func TestRegisterChannelDeleteAndTestMessage(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	acts, store, g := newActivities(t)
	store.page.Status = aicc.PageSubscribed

	env := ts.NewTestWorkflowEnvironment()
	worker.Register(env, acts)
	env.ExecuteWorkflow(workflows.SendTestMessageWorkflowType, workflows.TestMessageInput{
		PageInput: workflows.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: "42"},
		Message:   aicc.OutboundMessage{RecipientPSID: "7", Text: "hello", Type: aicc.MessagingUpdate},
	})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var sent aicc.SendResult
	require.NoError(t, env.GetWorkflowResult(&sent))
	assert.Equal(t, aicc.SendResult{RecipientID: "7", MessageID: "m_1"}, sent)
	assert.Equal(t, []string{"send:hello"}, g.calls)

	env = ts.NewTestWorkflowEnvironment()
	worker.Register(env, acts)
	env.OnRequestCancelExternalWorkflow(mock.Anything, workflows.OnboardingWorkflowID("ch_1"), "").Return(nil).Once()
	env.OnRequestCancelExternalWorkflow(mock.Anything, workflows.SecretRotationWorkflowID("ch_1"), "").Return(nil).Once()
	env.ExecuteWorkflow(workflows.ChannelDeleteWorkflowType, workflows.ChannelDeleteInput{TenantID: "ten_1", ChannelID: "ch_1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	env.AssertExpectations(t)
	assert.Equal(t, []string{"send:hello", "unsubscribe"}, g.calls)
	assert.Nil(t, store.page, "removed")
	assert.True(t, store.deleted)
	assert.Equal(t, aicc.StatusDeleting, store.status, "recorded before the Pages were touched")
}
