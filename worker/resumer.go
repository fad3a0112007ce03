package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// Resumer starts the workflows of what the API stored while Temporal did not take the start: the onboarding of
// every channel left pending, the connection of every Page left connecting, the deletion of every channel left
// deleting and every export left pending. The API writes no lifecycle state of its own, so these rows are the only trace of a start that
// did not happen, and a resumer makes them complete. Starting a workflow that runs already changes nothing, so
// any number of resumers may run at once.
//
// The zero value of every field but Store and Temporal has a default, given with the field.
type Resumer struct {
	Store    ResumeStore
	Temporal client.Client
	// VerificationTTL is the onboarding's wait for Meta's verification; default
	// workflows.DefaultVerificationTTL.
	VerificationTTL time.Duration
	// ExportRetention is how long an export's files are kept; default aicc.DefaultExportRetention.
	ExportRetention time.Duration
	// Interval is the time between two passes; default DefaultResumeInterval.
	Interval time.Duration
	// Grace is how long a row stays pending, connecting or deleting before it counts as left; default
	// DefaultResumeGrace.
	Grace time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// ResumeStore is what the resumer reads: the rows left pending, connecting or deleting.
type ResumeStore interface {
	ChannelsInStatus(ctx context.Context, status aicc.ChannelStatus, before time.Time, limit int) ([]*aicc.Channel, error)
	PagesInStatus(ctx context.Context, status aicc.PageStatus, before time.Time, limit int) ([]*aicc.Page, error)
	ExportsInStatus(ctx context.Context, status aicc.ExportStatus, before time.Time, limit int) ([]*aicc.Export, error)
}

const (
	// DefaultResumeInterval is the resumer's period: a row left behind waits at most this long beyond the grace.
	DefaultResumeInterval = 30 * time.Second
	// DefaultResumeGrace leaves the API's own start, and the workflow's first activity, time to happen: the API
	// waits 20 s for a workflow at most.
	DefaultResumeGrace = time.Minute
	// resumeBatch bounds the rows of each kind one pass resumes; the next pass takes the rest.
	resumeBatch = 100
	// resumeCallTimeout bounds one start, so that a worker that does not run cannot hold a pass.
	resumeCallTimeout = 10 * time.Second
)

// Run resumes every Interval until ctx is done, then returns nil. A pass that fails is logged and the next
// one tries again.
func (r *Resumer) Run(ctx context.Context) error {
	if r.Store == nil || r.Temporal == nil {
		return errors.New("resumer: Store and Temporal are required")
	}
	interval := r.Interval
	if interval <= 0 {
		interval = DefaultResumeInterval
	}
	for {
		if _, err := r.Resume(ctx); err != nil && ctx.Err() == nil {
			r.logger().Warn("Could not resume the workflows left unstarted", "Error", err)
		}
		sleep(ctx, interval)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Resume makes one pass and returns how many workflows it started.
func (r *Resumer) Resume(ctx context.Context) (int, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultResumeGrace
	}
	before := now().Add(-grace)

	var left []resumption
	pending, errPending := r.Store.ChannelsInStatus(ctx, aicc.StatusPending, before, resumeBatch)
	for _, ch := range pending {
		in := workflows.OnboardingInput{TenantID: ch.TenantID, ChannelID: ch.ID, VerificationTTL: r.VerificationTTL}
		left = append(left, resumption{"onboarding", ch.ID, aicc.EONBOARDINGSTARTED, func(ctx context.Context) error {
			_, err := workflows.StartOnboarding(ctx, r.Temporal, in)
			return err
		}})
	}
	deleting, errDeleting := r.Store.ChannelsInStatus(ctx, aicc.StatusDeleting, before, resumeBatch)
	for _, ch := range deleting {
		in := workflows.ChannelDeleteInput{TenantID: ch.TenantID, ChannelID: ch.ID}
		left = append(left, resumption{"channel deletion", ch.ID, aicc.ECHANNELDELETING, func(ctx context.Context) error {
			return workflows.ResumeChannelDelete(ctx, r.Temporal, in)
		}})
	}
	connecting, errConnecting := r.Store.PagesInStatus(ctx, aicc.PageConnecting, before, resumeBatch)
	for _, p := range connecting {
		in := workflows.PageInput{TenantID: p.TenantID, ChannelID: p.ChannelID, PageID: p.PageID}
		left = append(left, resumption{"Page connection", p.PageID, aicc.EPAGECONNECTING, func(ctx context.Context) error {
			_, err := workflows.StartConnectPage(ctx, r.Temporal, in)
			return err
		}})
	}
	exports, errExports := r.Store.ExportsInStatus(ctx, aicc.ExportPending, before, resumeBatch)
	for _, e := range exports {
		in := workflows.ExportInput{TenantID: e.TenantID, ExportID: e.ID, Retention: r.ExportRetention}
		left = append(left, resumption{"export", e.ID, aicc.ECONFLICT, func(ctx context.Context) error {
			return workflows.StartExport(ctx, r.Temporal, in)
		}})
	}

	errs := []error{errPending, errDeleting, errConnecting, errExports}
	started := 0
	for _, res := range left {
		cctx, cancel := context.WithTimeout(ctx, resumeCallTimeout)
		err := res.start(cctx)
		cancel()
		switch {
		case err == nil:
			started++
			r.logger().Info("Resumed a workflow left unstarted", "Workflow", res.what, "ID", res.id)
		case aicc.ErrorCode(err) != res.runningCode:
			errs = append(errs, err)
		}
	}
	return started, errors.Join(errs...)
}

// resumption is the start of one workflow left unstarted. runningCode is the error code of a start that found
// the workflow running: nothing to resume.
type resumption struct {
	what, id    string
	runningCode string
	start       func(context.Context) error
}

func (r *Resumer) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}
