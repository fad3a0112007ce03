package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// Export runs an export task the API stored pending, and is the only writer of its status: running, then the
// files written by WriteExport (which resumes after its last whole file when a worker dies), then success with
// its files, or failed with the error's code. The files are kept for the retention period; a timer then
// deletes them and records the export expired. UpdateCancelExport stops it at any point before that, deletes
// what was written and records it cancelled.
func Export(ctx workflow.Context, in ExportInput) (ExportResult, error) {
	if err := invalidInput("export", []field{{"tenantId", in.TenantID}, {"exportId", in.ExportID}},
		when(in.Retention < 0, "retention must not be negative")); err != nil {
		return ExportResult{}, err
	}
	if in.Retention == 0 {
		in.Retention = aicc.DefaultExportRetention
	}
	wf := &exportImpl{in: in, logger: log.With(workflow.GetLogger(ctx), "TenantID", in.TenantID, "ExportID", in.ExportID)}
	work, stop := workflow.WithCancel(ctx)
	wf.stop = stop
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancelExport, wf.cancel,
		workflow.UpdateHandlerOptions{Validator: wf.validateCancel}); err != nil {
		return ExportResult{}, err
	}
	err := wf.run(ctx, work)
	if err == nil {
		err = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	}
	return ExportResult{Status: wf.progress.Status, ErrorCode: wf.progress.ErrorCode, Records: wf.progress.RecordsDone}, err
}

// exportImpl is the state of one Export execution.
type exportImpl struct {
	in        ExportInput
	logger    log.Logger
	progress  aicc.ExportProgress
	stop      workflow.CancelFunc // cancels the writing and the retention timer
	cancelled bool
	ending    aicc.ExportStatus // the status end records, once it has started
	ended     bool              // end has recorded the final status
}

// run writes the export, keeps it for the retention period and deletes it. ctx is the workflow's; work is
// cancelled by UpdateCancelExport.
func (wf *exportImpl) run(ctx, work workflow.Context) error {
	wf.progress = aicc.ExportProgress{Status: aicc.ExportRunning, StartedAt: workflow.Now(ctx)}
	if err := wf.record(ctx); err != nil {
		return err
	}
	var a *activities.Activities
	wctx := workflow.WithActivityOptions(work, workflow.ActivityOptions{
		StartToCloseTimeout: exportActivityTimeout,
		HeartbeatTimeout:    exportHeartbeatTimeout,
		// A cancelled export deletes its files once the activity has stopped writing them.
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 10,
			NonRetryableErrorTypes: []string{aicc.ENOTFOUND, aicc.EINVALID, aicc.EEXPORTTOOLARGE},
		},
	})
	var files []aicc.ExportFile
	err := workflow.ExecuteActivity(wctx, a.WriteExport, wf.in).Get(work, &files)
	switch {
	case wf.cancelled:
		return wf.end(ctx, aicc.ExportCancelled, "")
	case err != nil:
		code := applicationErrorType(err)
		if !aicc.IsCode(code) {
			code = aicc.EINTERNAL
		}
		wf.logger.Warn("The export failed", "Error", err)
		return wf.end(ctx, aicc.ExportFailed, code)
	}

	now := workflow.Now(ctx)
	wf.progress.Status, wf.progress.Files, wf.progress.FilesDone = aicc.ExportSuccess, files, len(files)
	wf.progress.RecordsDone = 0
	for _, f := range files {
		wf.progress.RecordsDone += f.Records
	}
	wf.progress.Total = wf.progress.RecordsDone
	wf.progress.FinishedAt, wf.progress.ExpiresAt = now, now.Add(wf.in.Retention)
	if err := wf.record(ctx); err != nil {
		return err
	}
	wf.logger.Info("The export succeeded", "Records", wf.progress.RecordsDone, "Files", len(files))

	if err := workflow.Sleep(work, wf.in.Retention); err != nil && !wf.cancelled {
		return err
	}
	if wf.cancelled {
		return wf.end(ctx, aicc.ExportCancelled, "")
	}
	return wf.end(ctx, aicc.ExportExpired, "")
}

// end deletes the export's files and records its final status.
func (wf *exportImpl) end(ctx workflow.Context, status aicc.ExportStatus, code string) error {
	wf.ending = status
	var a *activities.Activities
	if err := workflow.ExecuteActivity(withDatabase(ctx), a.DeleteExportFiles, wf.in).Get(ctx, nil); err != nil {
		return err
	}
	wf.progress.Status, wf.progress.ErrorCode = status, code
	if status != aicc.ExportExpired {
		wf.progress.FinishedAt = workflow.Now(ctx)
	}
	if status == aicc.ExportCancelled || status == aicc.ExportFailed {
		wf.progress.Files, wf.progress.ExpiresAt = nil, time.Time{}
	}
	err := wf.record(ctx)
	wf.ended = err == nil
	return err
}

// record writes the progress to the export's row.
func (wf *exportImpl) record(ctx workflow.Context) error {
	var a *activities.Activities
	wf.progress.UpdatedAt = workflow.Now(ctx)
	return workflow.ExecuteActivity(withDatabase(ctx), a.RecordExport, activities.RecordExportInput{
		TenantID: wf.in.TenantID, ExportID: wf.in.ExportID, Progress: wf.progress,
	}).Get(ctx, nil)
}

// validateCancel refuses a cancel once the export is ending: cancelled by an earlier cancel, or failed or
// expired with its files being deleted. Accepted then, the cancel would wait for a cancelled status that never
// comes, and the workflow for the cancel.
func (wf *exportImpl) validateCancel(CancelExportRequest) error {
	switch {
	case wf.cancelled:
		return refuse(aicc.ECONFLICT, "The export is %s already.", aicc.ExportCancelled)
	case wf.ending != "":
		return refuse(aicc.ECONFLICT, "The export is %s already.", wf.ending)
	case wf.progress.Status.Finished() && wf.progress.Status != aicc.ExportSuccess:
		return refuse(aicc.ECONFLICT, "The export is %s already.", wf.progress.Status)
	}
	return nil
}

// cancel stops the export and answers once its files are deleted and it is recorded cancelled, so that the
// API reads the export back cancelled.
func (wf *exportImpl) cancel(ctx workflow.Context, _ CancelExportRequest) (aicc.ExportStatus, error) {
	wf.cancelled = true
	wf.stop()
	err := workflow.Await(ctx, func() bool { return wf.ended })
	return wf.progress.Status, err
}
