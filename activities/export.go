package activities

import (
	"context"
	"io"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
)

// ExportFiles keeps the files of exports: export.Storage, over a local directory or an S3 bucket.
type ExportFiles interface {
	// Put stores what write writes under key; a failed write leaves no object.
	Put(ctx context.Context, key string, write func(w io.Writer) error) error
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// DeleteAll deletes every object whose key starts with prefix.
	DeleteAll(ctx context.Context, prefix string) error
}

// ExportInput names an export an activity works on.
type ExportInput struct {
	TenantID string
	ExportID string
	// Retention is how long the files are kept once the export succeeded; zero means
	// aicc.DefaultExportRetention.
	Retention time.Duration
}

// exportPosition is what WriteExport heartbeats after each file: the files written and the last channel in
// them, so that a retry on another worker goes on after it rather than starting again.
type exportPosition struct {
	Files []aicc.ExportFile
	After string // the ID of the last channel written
}

// WriteExport writes the export's files: the matching channels in ID order, read a file's worth
// (aicc.MaxExportFileRecords) at a time and streamed into one file each, each with its header row (an export
// of no channel has one file with the header alone); then manifest.json and export.zip with them all. After
// each file it heartbeats its position and records the progress, so a retry resumes after the last whole file:
// a file is rewritten whole, never appended to, so no record is written twice or missed. More than
// aicc.MaxExportRecords channels (created since the export was asked for) fail it with EXPORT_TOO_LARGE: an
// export is never truncated.
func (a *Activities) WriteExport(ctx context.Context, in ExportInput) ([]aicc.ExportFile, error) {
	e, err := a.Exports.GetExport(ctx, in.TenantID, in.ExportID)
	if err != nil {
		return nil, domainError(err)
	}
	var pos exportPosition
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &pos); err != nil {
			return nil, err
		}
	}
	records := 0
	for _, f := range pos.Files {
		records += f.Records
	}
	for done := false; !done; {
		batch, err := a.Exports.ExportRecords(ctx, e.TenantID, e.Selection, pos.After, aicc.MaxExportFileRecords)
		if err != nil {
			return nil, domainError(err)
		}
		if records+len(batch) > aicc.MaxExportRecords {
			return nil, NonRetryable(aicc.Errorf(aicc.EEXPORTTOOLARGE,
				"The selection now matches more than %d channels; narrow it and export again.", aicc.MaxExportRecords))
		}
		// A short batch is the last; an export of nothing still gets its one file with the header.
		done = len(batch) < aicc.MaxExportFileRecords
		if len(batch) == 0 && len(pos.Files) > 0 {
			break
		}
		file, err := a.writeExportFile(ctx, e, len(pos.Files)+1, batch)
		if err != nil {
			return nil, err
		}
		pos.Files = append(pos.Files, file)
		records += file.Records
		if len(batch) > 0 {
			pos.After = batch[len(batch)-1].ChannelID
		}
		activity.RecordHeartbeat(ctx, pos)
		progress := aicc.ExportProgress{
			Status: aicc.ExportRunning, Total: max(e.Total, records), RecordsDone: records, FilesDone: len(pos.Files),
			StartedAt: e.StartedAt, UpdatedAt: a.Now(),
		}
		if err := a.Exports.SetExportProgress(ctx, e.ID, progress); err != nil {
			return nil, domainError(err)
		}
	}
	if err := a.writeExportBundle(ctx, e, pos.Files, records); err != nil {
		return nil, err
	}
	a.ExportMetrics.written(pos.Files)
	return pos.Files, nil
}

// writeExportFile writes the n-th file of e with the records of batch and returns what the manifest says of it.
func (a *Activities) writeExportFile(ctx context.Context, e *aicc.Export, n int, batch []aicc.ExportRecord) (aicc.ExportFile, error) {
	file := aicc.ExportFile{Name: export.FileName(e.Format, n), Records: len(batch)}
	err := a.ExportFiles.Put(ctx, export.Key(e.ID, file.Name), func(w io.Writer) error {
		d := export.NewDigestWriter(w)
		fw, err := export.NewFileWriter(e.Format, d)
		if err != nil {
			return err
		}
		for _, r := range batch {
			if err := fw.Write(r); err != nil {
				return err
			}
		}
		if err := fw.Close(); err != nil {
			return err
		}
		file.Bytes, file.SHA256 = d.Bytes(), d.SHA256()
		return nil
	})
	return file, err
}

// writeExportBundle writes manifest.json and then export.zip, which holds the files and the manifest.
func (a *Activities) writeExportBundle(ctx context.Context, e *aicc.Export, files []aicc.ExportFile, records int) error {
	manifest := export.EncodeManifest(export.Manifest{
		SchemaVersion: aicc.ExportSchemaVersion, ExportID: e.ID, Format: e.Format, Selection: e.Selection,
		Records: records, Files: files, CreatedAt: e.CreatedAt,
	})
	err := a.ExportFiles.Put(ctx, export.Key(e.ID, export.ManifestName), func(w io.Writer) error {
		_, err := w.Write(manifest)
		return err
	})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(files)+1)
	for _, f := range files {
		names = append(names, f.Name)
	}
	names = append(names, export.ManifestName)
	return a.ExportFiles.Put(ctx, export.Key(e.ID, export.ZipName), func(w io.Writer) error {
		return export.WriteZip(ctx, w, func(name string) (io.ReadCloser, error) {
			return a.ExportFiles.Open(ctx, export.Key(e.ID, name))
		}, names)
	})
}

// DeleteExportFiles deletes every file of the export; it is idempotent.
func (a *Activities) DeleteExportFiles(ctx context.Context, in ExportInput) error {
	return a.ExportFiles.DeleteAll(ctx, export.Key(in.ExportID, ""))
}

// RecordExportInput is the progress to write for an export.
type RecordExportInput struct {
	TenantID string
	ExportID string
	Progress aicc.ExportProgress
}

// RecordExport writes the export's status and progress, so the API's lists never ask Temporal; it is an
// idempotent overwrite. The workflow does not know how many channels the selection matched: a zero
// Progress.Total of an export that has not succeeded keeps the total stored (the API's count, or the one
// WriteExport recorded since), rather than showing a running export as 0 of 0. The export is read in its
// tenant first, so another tenant's ID changes nothing. An export is counted in the export metrics when it
// first finishes: a success cancelled during its retention, or a retried write, is not counted again.
func (a *Activities) RecordExport(ctx context.Context, in RecordExportInput) error {
	p := in.Progress
	e, err := a.Exports.GetExport(ctx, in.TenantID, in.ExportID)
	if err != nil {
		return domainError(err)
	}
	if p.Total == 0 && p.Status != aicc.ExportSuccess && p.Status != aicc.ExportExpired {
		p.Total = e.Total
	}
	if err := a.Exports.SetExportProgress(ctx, in.ExportID, p); err != nil {
		return domainError(err)
	}
	if p.Status.Finished() && p.Status != aicc.ExportExpired && !e.Status.Finished() {
		a.ExportMetrics.finished(p)
	}
	return nil
}
