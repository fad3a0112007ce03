// Package worker runs the Temporal worker of aicc: every workflow of package workflows and every activity of
// package activities, on workflows.TaskQueue.
package worker

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
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

// Registry is the part of a worker that Register needs. A worker.Worker and a testsuite
// TestWorkflowEnvironment both have it.
type Registry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
	RegisterActivity(a any)
}

// Register registers every workflow and the activities of acts with r. Workflows are registered under fixed
// names, so that renaming a Go function never breaks running executions.
func Register(r Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.Onboarding, workflow.RegisterOptions{Name: workflows.OnboardingWorkflowType})
	r.RegisterWorkflowWithOptions(workflows.ConnectPage, workflow.RegisterOptions{Name: workflows.ConnectPageWorkflowType})
	r.RegisterWorkflowWithOptions(workflows.DisconnectPage, workflow.RegisterOptions{Name: workflows.DisconnectPageWorkflowType})
	r.RegisterWorkflowWithOptions(workflows.Conversation, workflow.RegisterOptions{Name: workflows.ConversationWorkflowType})
	r.RegisterActivity(acts)
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

// searchAttributes are the custom search attributes the workflows set (see workflows.StartOnboardingOptions).
var searchAttributes = []string{workflows.SearchAttributeTenantID.GetName(), workflows.SearchAttributeChannelID.GetName()}

// RegisterSearchAttributes adds the keyword search attributes TenantId and ChannelId to namespace unless it has
// them already. It is idempotent and safe to run from several processes at once.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	svc := c.OperatorService()
	missing, err := missingSearchAttributes(ctx, svc, namespace)
	if err != nil || len(missing) == 0 {
		return err
	}
	_, addErr := svc.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: missing,
	})
	if addErr == nil {
		return nil
	}
	// Another process may have added them in the meantime; the server's answer to that varies by
	// version and visibility store, so look again rather than interpret the error.
	missing, err = missingSearchAttributes(ctx, svc, namespace)
	if err != nil || len(missing) > 0 {
		return fmt.Errorf("add search attributes to namespace %q: %w", namespace, addErr)
	}
	return nil
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
