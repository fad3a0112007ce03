package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/workflows"
)

// ExportFiles reads the files the export workflow wrote (export.Storage).
type ExportFiles interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	Size(ctx context.Context, key string) (int64, error)
}

// maxListedUnknown bounds the unknown channel IDs an error names; the message counts them all.
const maxListedUnknown = 20

// exportJSON is an export task as the API shows it.
type exportJSON struct {
	ID        string               `json:"id"`
	Status    aicc.ExportStatus    `json:"status"`
	Format    aicc.ExportFormat    `json:"format"`
	Selection aicc.ExportSelection `json:"selection"`
	ErrorCode string               `json:"errorCode,omitempty"`
	Progress  exportProgressJSON   `json:"progress"`
	Files     []aicc.ExportFile    `json:"files"`
	CreatedBy auditActorJSON       `json:"createdBy"`
	CreatedAt time.Time            `json:"createdAt"`
	// StartedAt, FinishedAt and ExpiresAt are absent until they happen.
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
}

type exportProgressJSON struct {
	RecordsDone int `json:"recordsDone"`
	Total       int `json:"total"`
	FilesDone   int `json:"filesDone"`
}

func toExportJSON(e *aicc.Export) exportJSON {
	sel := e.Selection
	sel.ChannelIDs = nonNil(sel.ChannelIDs)
	a := e.CreatedBy
	return exportJSON{
		ID: e.ID, Status: e.Status, Format: e.Format, Selection: sel, ErrorCode: e.ErrorCode,
		Progress: exportProgressJSON{RecordsDone: e.RecordsDone, Total: e.Total, FilesDone: e.FilesDone},
		Files:    nonNil(e.Files), CreatedBy: auditActorJSON{Type: a.Type, TokenID: a.TokenID, Role: a.Role, Command: a.Command},
		CreatedAt: e.CreatedAt.UTC(), StartedAt: optTime(e.StartedAt), FinishedAt: optTime(e.FinishedAt),
		ExpiresAt: optTime(e.ExpiresAt),
	}
}

// createExport asks for an export of the tenant's channels: the channelIds given, or with none every channel
// the filter matches, in format (csv by default). It answers 202 with the task pending or running; the Export
// workflow writes it. Unknown (or another tenant's) channel IDs are a 400 naming them, and a selection of more
// than 100,000 channels is a 400 EXPORT_TOO_LARGE with the count, never a truncated export. When Temporal does
// not take the start the task stays pending, and the worker's resumer starts it.
func (s *Server) createExport(c *gin.Context) error {
	var req struct {
		ChannelIDs aicc.ChannelIDList `json:"channelIds"`
		Filter     struct {
			Status aicc.ChannelStatus `json:"status"`
			Name   string             `json:"name"`
		} `json:"filter"`
		Format aicc.ExportFormat `json:"format"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Format == "" {
		req.Format = aicc.ExportCSV
	}
	sel, err := exportSelection(req.ChannelIDs, req.Filter.Status, req.Filter.Name, req.Format)
	if err != nil {
		return err
	}
	ctx, p := c.Request.Context(), principalOf(c)
	n, unknown, err := s.Store.MatchExportChannels(ctx, p.TenantID, sel)
	switch {
	case err != nil:
		return err
	case len(unknown) > 0:
		listed := unknown[:min(len(unknown), maxListedUnknown)]
		return invalid("channelIds", strconv.Itoa(len(unknown))+" are not channels of this tenant: "+strings.Join(listed, ", "))
	case n > aicc.MaxExportRecords:
		return aicc.Errorf(aicc.EEXPORTTOOLARGE, "The selection matches %d channels; at most %d can be exported at a time. "+
			"Narrow it with the filter or the channel IDs.", n, aicc.MaxExportRecords)
	}
	now := s.now()
	e := &aicc.Export{
		ID: aicc.NewID(aicc.PrefixExport), TenantID: p.TenantID, Selection: sel, Format: req.Format, Status: aicc.ExportPending,
		Total: n, CreatedBy: aicc.TokenActor(p), CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Store.CreateExport(ctx, e); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.workflowWait())
	defer cancel()
	if err := workflows.StartExport(wctx, s.Temporal, s.exportInput(e)); err != nil {
		s.log(c).Warn("export left pending for the resumer", slog.String("export_id", e.ID),
			slog.String("error", s.temporalError(c, err).Error()))
	}
	s.log(c).Info("export created", slog.String("export_id", e.ID), slog.Int("channels", n))
	c.JSON(http.StatusAccepted, toExportJSON(e))
	return nil
}

// exportSelection checks a request's selection: the list's length before anything is done per item, then
// each ID, the status and the format.
func exportSelection(ids []string, status aicc.ChannelStatus, name string, format aicc.ExportFormat) (aicc.ExportSelection, error) {
	if len(ids) > aicc.MaxExportSelection {
		return aicc.ExportSelection{}, invalid("channelIds", "must list at most "+strconv.Itoa(aicc.MaxExportSelection)+
			" channels; export with the filter for more")
	}
	fe := aicc.FieldErrors{}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	if slices.Contains(sorted, "") {
		fe.Add("channelIds", "must not hold an empty ID")
	}
	if status != "" && !status.Valid() {
		fe.Add("filter.status", "is not a channel status")
	}
	if len([]rune(name)) > aicc.MaxChannelNameLen {
		fe.Add("filter.name", "must have at most %d characters", aicc.MaxChannelNameLen)
	}
	if !format.Valid() {
		fe.Add("format", "must be csv, xlsx or jsonl")
	}
	return aicc.ExportSelection{ChannelIDs: sorted, Status: status, Name: name}, fe.Err()
}

func (s *Server) exportInput(e *aicc.Export) workflows.ExportInput {
	return workflows.ExportInput{TenantID: e.TenantID, ExportID: e.ID, Retention: s.ExportRetention}
}

func (s *Server) listExports(c *gin.Context) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	items, next, err := s.Store.ListExports(c.Request.Context(), principalOf(c).TenantID, opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toExportJSON))
	return nil
}

func (s *Server) getExport(c *gin.Context) error {
	return getScoped(c, s.Store.GetExport, c.Param("exportID"), toExportJSON)
}

// cancelExport stops an export and deletes what it wrote; it answers the export once it is recorded
// cancelled.
func (s *Server) cancelExport(c *gin.Context) error {
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	e, err := s.Store.GetExport(ctx, tenant, c.Param("exportID"))
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.workflowWait())
	defer cancel()
	if _, err := workflows.CancelExport(wctx, s.Temporal, s.exportInput(e)); err != nil {
		return s.temporalError(c, err)
	}
	s.log(c).Info("export cancelled", slog.String("export_id", e.ID))
	return getScoped(c, s.Store.GetExport, e.ID, toExportJSON)
}

// downloadExport streams the export's zip: every file and manifest.json.
func (s *Server) downloadExport(c *gin.Context) error {
	e, err := s.readyExport(c)
	if err != nil {
		return err
	}
	return s.serveExportFile(c, e, export.ZipName, "application/zip", "export-"+e.ID+".zip")
}

// downloadExportFile serves one file of the export, or its manifest.json.
func (s *Server) downloadExportFile(c *gin.Context) error {
	e, err := s.readyExport(c)
	if err != nil {
		return err
	}
	name := c.Param("name")
	if name == export.ManifestName {
		return s.serveExportFile(c, e, name, "application/json", name)
	}
	if !slices.ContainsFunc(e.Files, func(f aicc.ExportFile) bool { return f.Name == name }) {
		return aicc.Errorf(aicc.ENOTFOUND, "The export has no file %q.", name)
	}
	return s.serveExportFile(c, e, name, exportContentTypes[e.Format], name)
}

// exportContentTypes are the media types of the export files by format.
var exportContentTypes = map[aicc.ExportFormat]string{
	aicc.ExportCSV:   "text/csv; charset=utf-8",
	aicc.ExportXLSX:  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	aicc.ExportJSONL: "application/x-ndjson",
}

// readyExport returns the tenant's export the route names when its files can be downloaded: EXPORT_EXPIRED
// once they are deleted, or once its retention is over even if the workflow's timer has not deleted them yet
// (a worker that is down must not extend the retention), EXPORT_NOT_READY before it succeeded.
func (s *Server) readyExport(c *gin.Context) (*aicc.Export, error) {
	e, err := s.Store.GetExport(c.Request.Context(), principalOf(c).TenantID, c.Param("exportID"))
	switch {
	case err != nil:
		return nil, err
	case e.Status == aicc.ExportExpired,
		e.Status == aicc.ExportSuccess && !e.ExpiresAt.IsZero() && !s.now().Before(e.ExpiresAt):
		return nil, aicc.Errorf(aicc.EEXPORTEXPIRED, "The export expired on %s and its files are deleted; export again.",
			e.ExpiresAt.UTC().Format(time.RFC3339))
	case e.Status != aicc.ExportSuccess:
		return nil, aicc.Errorf(aicc.EEXPORTNOTREADY, "The export is %s: there is nothing to download.", e.Status)
	case s.ExportFiles == nil:
		return nil, aicc.Errorf(aicc.EUNAVAILABLE, "This server has no export storage configured.")
	}
	return e, nil
}

// serveExportFile streams one stored file of e with its length, type and a download name.
func (s *Server) serveExportFile(c *gin.Context, e *aicc.Export, name, contentType, filename string) error {
	ctx, key := c.Request.Context(), export.Key(e.ID, name)
	size, err := s.ExportFiles.Size(ctx, key)
	if err != nil {
		return err
	}
	r, err := s.ExportFiles.Open(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	c.DataFromReader(http.StatusOK, size, contentType, r, map[string]string{
		"Content-Disposition": `attachment; filename="` + filename + `"`,
	})
	return nil
}
