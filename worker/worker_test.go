package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
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

// fakeClient is a client.Client whose only working method is OperatorService.
type fakeClient struct {
	client.Client
	op *operator
}

func (c fakeClient) OperatorService() operatorservice.OperatorServiceClient { return c.op }

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

	t.Run("unknown namespace", func(t *testing.T) {
		err := worker.RegisterSearchAttributes(ctx, fakeClient{op: &operator{}}, "nope")
		var nf *serviceerror.NamespaceNotFound
		assert.ErrorAs(t, err, &nf)
	})
}

// channelStore is a fake aicc.ChannelStore keeping the last onboarding state written.
type channelStore struct {
	aicc.ChannelStore
	last aicc.Onboarding
}

func (s *channelStore) SetOnboarding(_ context.Context, _ string, o aicc.Onboarding) error {
	s.last = o
	return nil
}

// Register wires the workflow under its fixed name to the real activities.
func TestRegister(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	store := &channelStore{}
	worker.Register(env, &activities.Activities{Channels: store, Now: time.Now})

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
}
