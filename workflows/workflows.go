// Package workflows holds the Temporal workflows of aicc, their message names and payloads, and the typed
// starters that reach them. Workflow code here is deterministic: time comes from workflow.Now, concurrency from
// workflow.Go and workflow.Await, and every effect goes through an activity. A change that would alter the
// commands of a running execution goes behind workflow.GetVersion (see docs/architecture.md); the replay test
// over testdata/ proves it.
package workflows

import (
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// field is a required field of a workflow input: its JSON name and its value.
type field struct{ name, value string }

// invalidInput returns an INVALID business error naming every empty field and every non-empty problem of the
// input of the workflow what, or nil when there is none.
func invalidInput(what string, required []field, problems ...string) error {
	var all []string
	for _, f := range required {
		if f.value == "" {
			all = append(all, f.name+" is required")
		}
	}
	for _, p := range problems {
		if p != "" {
			all = append(all, p)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return refuse(aicc.EINVALID, "The %s input is invalid: %s.", what, strings.Join(all, "; "))
}

// when returns problem when broken, "" otherwise.
func when(broken bool, problem string) string {
	if broken {
		return problem
	}
	return ""
}

// refuse is a business failure of a workflow: a non-retryable ApplicationError typed with the domain code,
// which DomainError turns back into an *aicc.Error on the client side.
func refuse(code, format string, args ...any) error {
	return activities.NonRetryable(aicc.Errorf(code, format, args...))
}

// applicationErrorType returns the type of err's ApplicationError (a domain code, when an activity failed with
// one), "" when it has none.
func applicationErrorType(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Type()
	}
	return ""
}

// withLocalDatabase sets the options of a database read or write run as a local activity, retried like
// withDatabase's. Each attempt is bounded well inside a workflow task's timeout.
func withLocalDatabase(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         databaseRetry,
	})
}

// withDatabase sets the options of a database write: the database may be down for a while and the writes are
// idempotent, so they are retried until it is back. Only a row that no longer exists, or a write the store
// refuses, ends the retries.
func withDatabase(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         databaseRetry,
	})
}

// databaseRetry retries a database activity until the database is back, unless the store refused the call.
var databaseRetry = &temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        time.Minute,
	NonRetryableErrorTypes: []string{aicc.ENOTFOUND, aicc.EINVALID, aicc.ECHANNELDELETING},
}
