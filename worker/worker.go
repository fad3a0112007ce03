// Package worker runs the Temporal worker of aicc: every workflow of package workflows and every activity of
// package activities, on workflows.TaskQueue.
package worker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

// New returns a worker on workflows.TaskQueue with every workflow and the activities of acts registered. Start
// it with Start or Run; cmd owns its lifetime.
func New(c client.Client, acts *activities.Activities, opts worker.Options) worker.Worker {
	w := worker.New(c, workflows.TaskQueue, opts)
	Register(w, acts)
	return w
}

// WorkflowRegistry is the part of a worker that RegisterWorkflows needs. A worker.Worker, a testsuite
// TestWorkflowEnvironment and a worker.WorkflowReplayer all have it.
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// Registry is the part of a worker that Register needs. A worker.Worker and a testsuite
// TestWorkflowEnvironment both have it.
type Registry interface {
	WorkflowRegistry
	RegisterActivity(a any)
}

// Register registers every workflow and the activities of acts with r.
func Register(r Registry, acts *activities.Activities) {
	RegisterWorkflows(r)
	r.RegisterActivity(acts)
}

// RegisterWorkflows registers every workflow with r under the fixed name the typed starters of package
// workflows use, so that renaming a Go function never breaks running executions.
func RegisterWorkflows(r WorkflowRegistry) {
	for name, fn := range map[string]any{
		workflows.OnboardingWorkflowType:      workflows.Onboarding,
		workflows.ConnectPageWorkflowType:     workflows.ConnectPage,
		workflows.DisconnectPageWorkflowType:  workflows.DisconnectPage,
		workflows.ChannelDeleteWorkflowType:   workflows.ChannelDelete,
		workflows.SendTestMessageWorkflowType: workflows.SendTestMessage,
		workflows.ConversationWorkflowType:    workflows.Conversation,
		workflows.SecretRotationWorkflowType:  workflows.SecretRotation,
		workflows.ExportWorkflowType:          workflows.Export,
		workflows.InboxRetentionWorkflowType:  workflows.InboxRetention,
	} {
		r.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
}

// Run runs a worker made by New until ctx is done, then stops it. It returns an error when the worker cannot
// start.
func Run(ctx context.Context, c client.Client, acts *activities.Activities, opts worker.Options) error {
	interrupt := make(chan any)
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		select {
		case <-ctx.Done():
			close(interrupt)
		case <-returned:
		}
	}()
	return New(c, acts, opts).Run(interrupt)
}

// searchAttributes are the custom search attributes every workflow is started with (see package workflows' starters).
var searchAttributes = []string{workflows.SearchAttributeTenantID.GetName(), workflows.SearchAttributeChannelID.GetName()}

// RegisterSearchAttributes adds the keyword search attributes TenantId and ChannelId to namespace unless it has
// them already, and returns once the frontend takes them: Temporal's services learn of a namespace's new search
// attributes at their next namespace cache refresh (every 2 s by default), and refuse workflows that carry them
// until then. It is idempotent and safe to run from several processes at once.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	svc := c.OperatorService()
	missing, err := missingSearchAttributes(ctx, svc, namespace)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		_, addErr := svc.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace:        namespace,
			SearchAttributes: missing,
		})
		if addErr != nil {
			// Another process may have added them in the meantime; the server's answer to that varies by
			// version and visibility store, so look again rather than interpret the error.
			missing, err = missingSearchAttributes(ctx, svc, namespace)
			if err != nil || len(missing) > 0 {
				return fmt.Errorf("add search attributes to namespace %q: %w", namespace, addErr)
			}
		}
	}
	return awaitSearchAttributes(ctx, c.WorkflowService(), namespace)
}

// searchAttributesWait bounds how long RegisterSearchAttributes waits for the frontend to take the search
// attributes, many times the namespace cache's refresh.
const searchAttributesWait = 30 * time.Second

// awaitSearchAttributes returns once the frontend takes a visibility query on the search attributes, which it
// refuses as an invalid argument while its namespace cache does not have them.
func awaitSearchAttributes(ctx context.Context, svc workflowservice.WorkflowServiceClient, namespace string) error {
	ctx, cancel := context.WithTimeout(ctx, searchAttributesWait)
	defer cancel()
	conds := make([]string, len(searchAttributes))
	for i, name := range searchAttributes {
		conds[i] = name + " = ''"
	}
	req := &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace, PageSize: 1, Query: strings.Join(conds, " AND ")}
	for {
		_, err := svc.ListWorkflowExecutions(ctx, req)
		if _, refused := errors.AsType[*serviceerror.InvalidArgument](err); !refused {
			if err != nil {
				return fmt.Errorf("query search attributes of namespace %q: %w", namespace, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("search attributes of namespace %q are not usable yet: %w", namespace, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// missingSearchAttributes lists the search attributes namespace lacks, as AddSearchAttributes wants them. An
// attribute that exists with another type is an error: it cannot be fixed by adding.
func missingSearchAttributes(ctx context.Context, svc operatorservice.OperatorServiceClient, namespace string) (map[string]enumspb.IndexedValueType, error) {
	resp, err := svc.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of namespace %q: %w", namespace, err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	var errs []error
	for _, name := range searchAttributes {
		t, ok := resp.GetCustomAttributes()[name]
		if !ok {
			t, ok = resp.GetSystemAttributes()[name]
		}
		switch {
		case !ok:
			missing[name] = enumspb.INDEXED_VALUE_TYPE_KEYWORD
		case t != enumspb.INDEXED_VALUE_TYPE_KEYWORD:
			errs = append(errs, fmt.Errorf("search attribute %s of namespace %q has type %s, want Keyword", name, namespace, t))
		}
	}
	return missing, errors.Join(errs...)
}
