package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/workflows"
)

// exportJSON is the Export JSON.
type exportJSON struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Format    string `json:"format"`
	Selection struct {
		ChannelIDs []string `json:"channelIds"`
		Status     string   `json:"status"`
		Name       string   `json:"name"`
	} `json:"selection"`
	ErrorCode string `json:"errorCode"`
	Progress  struct {
		RecordsDone int `json:"recordsDone"`
		Total       int `json:"total"`
		FilesDone   int `json:"filesDone"`
	} `json:"progress"`
	Files     []exportFileJSON `json:"files"`
	CreatedBy struct {
		Type    string `json:"type"`
		TokenID string `json:"tokenId"`
		Role    string `json:"role"`
	} `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
}

type exportFileJSON struct {
	Name    string `json:"name"`
	Records int    `json:"records"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
}

// manifestJSON is an export's manifest.json.
type manifestJSON struct {
	SchemaVersion int              `json:"schemaVersion"`
	ExportID      string           `json:"exportId"`
	Format        string           `json:"format"`
	Records       int              `json:"records"`
	Files         []exportFileJSON `json:"files"`
	Selection     map[string]any   `json:"selection"`
}

const exportsPath = "/v1/exports"

func exportPath(id string, rest ...string) string {
	return strings.Join(append([]string{exportsPath, id}, rest...), "/")
}

func decodeExport(tb testing.TB, r *response) exportJSON {
	tb.Helper()
	var e exportJSON
	r.decode(tb, &e)
	return e
}

// createExport asks for an export as the tenant's admin; it must be accepted.
func (h *harness) createExport(tn tenant, body map[string]any) exportJSON {
	h.t.Helper()
	r := h.post(exportsPath, tn.Admin, body)
	requireStatus(h.t, r, http.StatusAccepted)
	return decodeExport(h.t, r)
}

// getExport returns the export as GET shows it to the token.
func (h *harness) getExport(token, id string) exportJSON {
	h.t.Helper()
	r := h.get(exportPath(id), token)
	requireStatus(h.t, r, http.StatusOK)
	return decodeExport(h.t, r)
}

// download downloads the export's zip with the token, checks the headers a browser saves it by, and returns
// its entries by name, in their order.
func (h *harness) download(token, id string) (names []string, files map[string][]byte) {
	h.t.Helper()
	r := h.get(exportPath(id, "download"), token)
	requireStatus(h.t, r, http.StatusOK)
	assert.Equal(h.t, "application/zip", r.Header.Get("Content-Type"))
	assert.Equal(h.t, `attachment; filename="export-`+id+`.zip"`, r.Header.Get("Content-Disposition"))
	assert.Equal(h.t, strconv.Itoa(len(r.Body)), r.Header.Get("Content-Length"))
	return unzip(h.t, r.Body)
}

// exportFile downloads one file of the export with the token and checks its headers.
func (h *harness) exportFile(token, id, name, contentType string) []byte {
	h.t.Helper()
	r := h.get(exportPath(id, "files", name), token)
	requireStatus(h.t, r, http.StatusOK)
	assert.Equal(h.t, contentType, r.Header.Get("Content-Type"))
	assert.Equal(h.t, `attachment; filename="`+name+`"`, r.Header.Get("Content-Disposition"))
	assert.Equal(h.t, strconv.Itoa(len(r.Body)), r.Header.Get("Content-Length"))
	return r.Body
}

func unzip(tb testing.TB, data []byte) (names []string, files map[string][]byte) {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	require.NoError(tb, err)
	files = map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(tb, err)
		b, err := io.ReadAll(rc)
		require.NoError(tb, err)
		require.NoError(tb, rc.Close())
		names = append(names, f.Name)
		files[f.Name] = b
	}
	return names, files
}

// csvRows parses an exported CSV file: its header and its rows as maps from column to cell.
func csvRows(tb testing.TB, data []byte) (header []string, rows []map[string]string) {
	tb.Helper()
	all, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(tb, err)
	require.NotEmpty(tb, all, "every file has its header row")
	header = all[0]
	for _, rec := range all[1:] {
		row := map[string]string{}
		for i, col := range header {
			row[col] = rec[i]
		}
		rows = append(rows, row)
	}
	return header, rows
}

// column returns one column of rows.
func column(rows []map[string]string, name string) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r[name])
	}
	return out
}

// exportedIDs returns the channel IDs of the export's CSV files, in the order of its files and rows.
func (h *harness) exportedIDs(token string, e exportJSON) []string {
	h.t.Helper()
	ids := []string{}
	for _, f := range e.Files {
		_, rows := csvRows(h.t, h.exportFile(token, e.ID, f.Name, "text/csv; charset=utf-8"))
		ids = append(ids, column(rows, "channel_id")...)
	}
	return ids
}

// stored reports whether the export storage still holds the export's file.
func (h *harness) stored(exportID, name string) bool {
	h.t.Helper()
	ok, err := h.flows.exportFiles.Exists(context.Background(), export.Key(exportID, name))
	require.NoError(h.t, err)
	return ok
}

func sorted(ids ...string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return ids
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestExportAllChannels(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	var ids []string
	names := map[string]string{}
	for _, name := range []string{"fb_main", "fb_shop", "fb_support"} {
		c := h.createChannel(a, channelBody(a, name)).Channel
		ids = append(ids, c.ID)
		names[c.ID] = name
	}
	for _, name := range []string{"fb_main", "fb_other"} {
		h.createChannel(b, channelBody(b, name))
	}

	created := h.createExport(a, map[string]any{})
	assert.Equal(t, "pending", created.Status, "the answer is the task as stored, before its workflow ran")
	assert.Equal(t, "csv", created.Format, "csv by default")
	assert.Equal(t, 3, created.Progress.Total, "every channel of the tenant, and none of another's")
	assert.Zero(t, created.Progress.RecordsDone)
	assert.Empty(t, created.Files)
	assert.Empty(t, created.Selection.ChannelIDs)
	assert.Equal(t, "api_token", created.CreatedBy.Type)
	assert.Equal(t, "tenant-admin", created.CreatedBy.Role)
	assert.Equal(t, h.now(), created.CreatedAt)
	assert.True(t, strings.HasPrefix(created.ID, aicc.PrefixExport+"_"), created.ID)

	e := h.getExport(a.Viewer, created.ID)
	require.Equal(t, "success", e.Status)
	assert.Equal(t, 3, e.Progress.RecordsDone)
	assert.Equal(t, 3, e.Progress.Total)
	assert.Equal(t, 1, e.Progress.FilesDone)
	require.Len(t, e.Files, 1)
	assert.Equal(t, "channels-0001.csv", e.Files[0].Name)
	assert.Equal(t, 3, e.Files[0].Records)
	require.NotNil(t, e.StartedAt)
	require.NotNil(t, e.FinishedAt)
	require.NotNil(t, e.ExpiresAt)
	assert.Equal(t, e.FinishedAt.Add(aicc.DefaultExportRetention), *e.ExpiresAt, "kept 7 days by default")
	assert.Empty(t, e.ErrorCode)

	// One file, as its own route serves it: every channel of the tenant in ID order, with its name.
	file := h.exportFile(a.Viewer, e.ID, "channels-0001.csv", "text/csv; charset=utf-8")
	assert.Equal(t, e.Files[0].SHA256, sha256Hex(file))
	assert.EqualValues(t, e.Files[0].Bytes, len(file))
	header, rows := csvRows(t, file)
	assert.Equal(t, "channel_id", header[0])
	assert.Equal(t, sorted(ids...), column(rows, "channel_id"))
	for _, row := range rows {
		assert.Equal(t, names[row["channel_id"]], row["name"])
	}

	// The zip: every file and the manifest, whose checksums match the files.
	zipNames, files := h.download(a.Viewer, e.ID)
	assert.Equal(t, []string{"channels-0001.csv", "manifest.json"}, zipNames)
	assert.Equal(t, file, files["channels-0001.csv"], "the zip holds the file as its route serves it")
	var m manifestJSON
	require.NoError(t, json.Unmarshal(files["manifest.json"], &m))
	assert.Equal(t, aicc.ExportSchemaVersion, m.SchemaVersion)
	assert.Equal(t, e.ID, m.ExportID)
	assert.Equal(t, "csv", m.Format)
	assert.Equal(t, 3, m.Records)
	assert.Equal(t, e.Files, m.Files)
	for _, f := range m.Files {
		assert.Equal(t, f.SHA256, sha256Hex(files[f.Name]), f.Name)
		assert.EqualValues(t, f.Bytes, len(files[f.Name]), f.Name)
	}
	assert.Equal(t, files["manifest.json"], h.exportFile(a.Viewer, e.ID, "manifest.json", "application/json"))

	for _, name := range []string{"channels-0002.csv", "export.zip", "channels-0001.jsonl"} {
		requireError(t, h.get(exportPath(e.ID, "files", name), a.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
	}
	requireError(t, h.get(exportPath("exp_missing"), a.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
}

func TestExportSelection(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	east := h.createChannel(tn, channelBody(tn, "fb_shop_east")).Channel.ID
	west := h.createChannel(tn, channelBody(tn, "fb_SHOP_west")).Channel.ID
	support := h.createChannel(tn, channelBody(tn, "fb_support")).Channel.ID
	require.NoError(t, h.store.SetOnboarding(context.Background(), east,
		aicc.Onboarding{Status: aicc.StatusActive, Step: workflows.StepDone, UpdatedAt: h.now()}))

	for _, tc := range []struct {
		name string
		body map[string]any
		want []string
	}{
		{"name, ignoring case", map[string]any{"filter": map[string]any{"name": "Shop"}}, []string{east, west}},
		{"status", map[string]any{"filter": map[string]any{"status": "active"}}, []string{east}},
		{"status and name", map[string]any{"filter": map[string]any{"status": "awaiting_verification", "name": "shop"}},
			[]string{west}},
		{"nothing matches", map[string]any{"filter": map[string]any{"status": "disabled"}}, nil},
		{"IDs", map[string]any{"channelIds": []string{support, east}}, []string{east, support}},
		{"IDs, repeated", map[string]any{"channelIds": []string{west, west}}, []string{west}},
		{"IDs and filter", map[string]any{"channelIds": []string{support, east}, "filter": map[string]any{"status": "active"}},
			[]string{east}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.on(t)
			created := h.createExport(tn, tc.body)
			assert.Equal(t, len(tc.want), created.Progress.Total)
			e := h.getExport(tn.Viewer, created.ID)
			require.Equal(t, "success", e.Status)
			assert.Equal(t, len(tc.want), e.Progress.RecordsDone)
			require.Len(t, e.Files, 1, "an export of nothing still has its file, with the header alone")
			assert.Equal(t, append([]string{}, sorted(tc.want...)...), h.exportedIDs(tn.Viewer, e))
			if ids, ok := tc.body["channelIds"].([]string); ok {
				assert.Equal(t, slices.Compact(sorted(ids...)), e.Selection.ChannelIDs, "stored sorted, each once")
			}
		})
	}

	// The other formats, served with their own types.
	for format, contentType := range map[string]string{
		"jsonl": "application/x-ndjson",
		"xlsx":  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	} {
		e := h.getExport(tn.Viewer, h.createExport(tn, map[string]any{"format": format}).ID)
		require.Equal(t, "success", e.Status)
		assert.Equal(t, format, e.Format)
		require.Len(t, e.Files, 1)
		assert.Equal(t, "channels-0001."+format, e.Files[0].Name)
		body := h.exportFile(tn.Viewer, e.ID, e.Files[0].Name, contentType)
		assert.Equal(t, e.Files[0].SHA256, sha256Hex(body))
		if format == "jsonl" {
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			require.Len(t, lines, 3)
			for i, id := range sorted(east, west, support) {
				assert.Contains(t, lines[i], `"`+id+`"`)
			}
		}
	}
}

func TestExportUnknownChannels(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	own := h.createChannel(a, channelBody(a, "fb_main")).Channel.ID
	foreign := h.createChannel(b, channelBody(b, "fb_main")).Channel.ID
	gone := h.createChannel(a, channelBody(a, "fb_gone")).Channel.ID
	requireStatus(t, h.delete("/v1/channels/"+gone, a.Admin), http.StatusAccepted)
	missing := "ch_" + strings.Repeat("z", len(foreign)-3) // as long as a real ID, so the messages compare

	refused := func(ids ...string) string {
		t.Helper()
		e := requireError(t, h.post(exportsPath, a.Admin, map[string]any{"channelIds": ids}), http.StatusBadRequest, aicc.EINVALID)
		require.Contains(t, e.Fields, "channelIds")
		return e.Fields["channelIds"]
	}
	msg := refused(own, foreign, missing)
	assert.Contains(t, msg, foreign)
	assert.Contains(t, msg, missing)
	assert.True(t, strings.HasPrefix(msg, "2 are not channels of this tenant: "), msg)
	assert.NotContains(t, msg, own, "only the IDs that are not the tenant's")

	// Another tenant's channel is answered exactly as a missing one.
	assert.Equal(t, strings.ReplaceAll(refused(own, missing), missing, "X"), strings.ReplaceAll(refused(own, foreign), foreign, "X"))
	assert.Contains(t, refused(gone), gone, "a channel being deleted is not exported")

	// Many unknown IDs: all counted, the first 20 named.
	var many []string
	for i := range 25 {
		many = append(many, fmt.Sprintf("ch_unknown%02d", i))
	}
	msg = refused(many...)
	assert.True(t, strings.HasPrefix(msg, "25 "), msg)
	assert.Contains(t, msg, "ch_unknown19")
	assert.NotContains(t, msg, "ch_unknown20")

	r := h.get(exportsPath, a.Viewer)
	requireStatus(t, r, http.StatusOK)
	assert.JSONEq(t, `{"items":[]}`, string(r.Body), "no export was created")
}

// matchSpy counts the server's MatchExportChannels calls and adds extra to the channels they count.
type matchSpy struct {
	aicc.Store
	calls atomic.Int32
	extra int
}

func (s *matchSpy) MatchExportChannels(ctx context.Context, tenantID string, sel aicc.ExportSelection) (int, []string, error) {
	s.calls.Add(1)
	n, unknown, err := s.Store.MatchExportChannels(ctx, tenantID, sel)
	return n + s.extra, unknown, err
}

func TestExportSelectionLimit(t *testing.T) {
	spy := &matchSpy{}
	h := newHarness(t, withServer(func(s *api.Server) { spy.Store = s.Store; s.Store = spy }))
	tn := h.newTenant("A")
	ids := make([]string, aicc.MaxExportSelection+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("ch_%020d", i)
	}

	e := requireError(t, h.post(exportsPath, tn.Admin, map[string]any{"channelIds": ids}), http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields["channelIds"], "at most 10000")
	assert.Zero(t, spy.calls.Load(), "refused before any lookup")

	e = requireError(t, h.post(exportsPath, tn.Admin, map[string]any{"channelIds": ids[:aicc.MaxExportSelection]}),
		http.StatusBadRequest, aicc.EINVALID)
	assert.True(t, strings.HasPrefix(e.Fields["channelIds"], "10000 are not channels of this tenant: "), e.Fields["channelIds"])
	assert.EqualValues(t, 1, spy.calls.Load(), "10,000 IDs are looked up")
}

func TestExportTooLarge(t *testing.T) {
	spy := &matchSpy{extra: aicc.MaxExportRecords}
	h := newHarness(t, withServer(func(s *api.Server) { spy.Store = s.Store; s.Store = spy }))
	tn := h.newTenant("A")
	h.createChannel(tn, channelBody(tn, "fb_main"))
	h.flows.setHoldExports(true)

	e := requireError(t, h.post(exportsPath, tn.Admin, map[string]any{}), http.StatusBadRequest, aicc.EEXPORTTOOLARGE)
	assert.Contains(t, e.Message, "100001 channels")
	assert.Contains(t, e.Message, "100000")
	assert.Empty(t, e.Fields)

	// Exactly at the limit is accepted.
	spy.extra = aicc.MaxExportRecords - 1
	created := h.createExport(tn, map[string]any{})
	assert.Equal(t, aicc.MaxExportRecords, created.Progress.Total)

	r := h.get(exportsPath, tn.Viewer)
	requireStatus(t, r, http.StatusOK)
	var l struct{ Items []exportJSON }
	r.decode(t, &l)
	require.Len(t, l.Items, 1, "the refused export was not created")
	assert.Equal(t, created.ID, l.Items[0].ID)
}

func TestExportValidation(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	for name, tc := range map[string]struct {
		body   any
		fields map[string]string
	}{
		"format": {map[string]any{"format": "pdf"}, map[string]string{"format": "must be csv, xlsx or jsonl"}},
		"status": {map[string]any{"filter": map[string]any{"status": "done"}},
			map[string]string{"filter.status": "is not a channel status"}},
		"name": {map[string]any{"filter": map[string]any{"name": strings.Repeat("x", 65)}},
			map[string]string{"filter.name": "must have at most 64 characters"}},
		"empty ID": {map[string]any{"channelIds": []string{""}}, map[string]string{"channelIds": "must not hold an empty ID"}},
		"all at once": {map[string]any{"format": "XLSX", "filter": map[string]any{"status": "Active"}},
			map[string]string{"format": "must be csv, xlsx or jsonl", "filter.status": "is not a channel status"}},
		"IDs type": {map[string]any{"channelIds": "ch_1"}, map[string]string{"channelIds": "must be an array"}},
		"unknown":  {map[string]any{"channels": []string{"ch_1"}}, map[string]string{"channels": "is not a known field"}},
	} {
		t.Run(name, func(t *testing.T) {
			h := h.on(t)
			e := requireError(t, h.post(exportsPath, tn.Admin, tc.body), http.StatusBadRequest, aicc.EINVALID)
			assert.Equal(t, tc.fields, e.Fields)
		})
	}
	requireError(t, h.post(exportsPath, tn.Admin, ""), http.StatusBadRequest, aicc.EINVALID)
	requireError(t, h.get(exportsPath+"?limit=0", tn.Viewer), http.StatusBadRequest, aicc.EINVALID)
}

func TestListExports(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	h.createChannel(a, channelBody(a, "fb_main"))
	var ids []string
	for range 3 {
		ids = append(ids, h.createExport(a, map[string]any{}).ID)
		h.later()
	}
	foreign := h.createExport(b, map[string]any{}).ID

	list := func(token, query string) ([]exportJSON, string) {
		t.Helper()
		r := h.get(exportsPath+query, token)
		requireStatus(t, r, http.StatusOK)
		var l struct {
			Items      []exportJSON `json:"items"`
			NextCursor string       `json:"nextCursor"`
		}
		r.decode(t, &l)
		return l.Items, l.NextCursor
	}
	ids2 := func(items []exportJSON) []string {
		out := []string{}
		for _, e := range items {
			out = append(out, e.ID)
		}
		return out
	}
	page, next := list(a.Viewer, "?limit=2")
	assert.Equal(t, []string{ids[2], ids[1]}, ids2(page), "the newest first")
	assert.Equal(t, "success", page[0].Status)
	require.Len(t, page[0].Files, 1, "the list shows the files as GET does")
	require.NotEmpty(t, next)
	page, next = list(a.Viewer, "?limit=2&cursor="+next)
	assert.Equal(t, []string{ids[0]}, ids2(page))
	assert.Empty(t, next)

	page, _ = list(b.Viewer, "")
	assert.Equal(t, []string{foreign}, ids2(page), "another tenant sees only its own")
}

func TestExportNotReady(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	h.createChannel(tn, channelBody(tn, "fb_main"))
	h.flows.setHoldExports(true)

	id := h.createExport(tn, map[string]any{}).ID
	e := h.getExport(tn.Viewer, id)
	assert.Equal(t, "pending", e.Status)
	assert.Equal(t, 1, e.Progress.Total)
	assert.Zero(t, e.Progress.RecordsDone)
	assert.Empty(t, e.Files)
	assert.Nil(t, e.StartedAt)
	assert.Nil(t, e.ExpiresAt)
	requireError(t, h.get(exportPath(id, "download"), tn.Viewer), http.StatusConflict, aicc.EEXPORTNOTREADY)
	requireError(t, h.get(exportPath(id, "files", "channels-0001.csv"), tn.Viewer), http.StatusConflict, aicc.EEXPORTNOTREADY)
	requireError(t, h.get(exportPath(id, "files", "manifest.json"), tn.Viewer), http.StatusConflict, aicc.EEXPORTNOTREADY)

	require.NoError(t, h.flows.runExport(id))
	assert.Equal(t, "success", h.getExport(tn.Viewer, id).Status)
	names, _ := h.download(tn.Viewer, id)
	assert.Equal(t, []string{"channels-0001.csv", "manifest.json"}, names)
}

// failingRecords is an export store whose channel reads fail, for the played WriteExport.
type failingRecords struct{ aicc.Store }

func (failingRecords) ExportRecords(context.Context, string, aicc.ExportSelection, string, int) ([]aicc.ExportRecord, error) {
	return nil, errors.New("read tcp 10.0.0.7:5432: connection reset by peer")
}

func TestExportFailed(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	h.createChannel(tn, channelBody(tn, "fb_main"))
	h.flows.acts.Exports = failingRecords{h.store}

	e := h.getExport(tn.Viewer, h.createExport(tn, map[string]any{}).ID)
	assert.Equal(t, "failed", e.Status)
	assert.Equal(t, aicc.EINTERNAL, e.ErrorCode)
	assert.Empty(t, e.Files)
	assert.NotNil(t, e.FinishedAt)
	assert.Nil(t, e.ExpiresAt)
	requireError(t, h.get(exportPath(e.ID, "download"), tn.Viewer), http.StatusConflict, aicc.EEXPORTNOTREADY)
	requireError(t, h.post(exportPath(e.ID, "cancel"), tn.Admin, nil), http.StatusConflict, aicc.ECONFLICT)
}

func TestExportExpiry(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.ExportRetention = 48 * time.Hour }))
	tn := h.newTenant("A")
	h.createChannel(tn, channelBody(tn, "fb_main"))
	e := h.getExport(tn.Viewer, h.createExport(tn, map[string]any{}).ID)
	require.Equal(t, "success", e.Status)
	require.NotNil(t, e.ExpiresAt)
	assert.Equal(t, e.FinishedAt.Add(48*time.Hour), *e.ExpiresAt, "the server's retention")
	*h.clock = e.ExpiresAt.Add(-time.Second)
	h.download(tn.Viewer, e.ID)

	// The retention is over, but the workflow's timer has not fired yet (its worker is down): the files are
	// still stored, and not served.
	*h.clock = *e.ExpiresAt
	require.True(t, h.stored(e.ID, "export.zip"))
	assert.Equal(t, "success", h.getExport(tn.Viewer, e.ID).Status)
	requireError(t, h.get(exportPath(e.ID, "download"), tn.Viewer), http.StatusGone, aicc.EEXPORTEXPIRED)
	requireError(t, h.get(exportPath(e.ID, "files", "channels-0001.csv"), tn.Viewer), http.StatusGone, aicc.EEXPORTEXPIRED)

	*h.clock = e.ExpiresAt.Add(time.Second)
	require.NoError(t, h.flows.expireExport(e.ID))
	got := h.getExport(tn.Viewer, e.ID)
	assert.Equal(t, "expired", got.Status)
	assert.Equal(t, e.ExpiresAt, got.ExpiresAt, "expiresAt stays, for the message")
	for _, path := range []string{exportPath(e.ID, "download"), exportPath(e.ID, "files", "channels-0001.csv"),
		exportPath(e.ID, "files", "manifest.json")} {
		err := requireError(t, h.get(path, tn.Viewer), http.StatusGone, aicc.EEXPORTEXPIRED)
		assert.Contains(t, err.Message, e.ExpiresAt.Format(time.RFC3339))
	}
	for _, name := range []string{"channels-0001.csv", "manifest.json", "export.zip"} {
		assert.False(t, h.stored(e.ID, name), "%s is deleted", name)
	}
	requireError(t, h.post(exportPath(e.ID, "cancel"), tn.Admin, nil), http.StatusConflict, aicc.ECONFLICT)
}

func TestCancelExport(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	h.createChannel(tn, channelBody(tn, "fb_main"))

	// A successful export: its files are withdrawn.
	id := h.createExport(tn, map[string]any{}).ID
	for _, name := range []string{"channels-0001.csv", "manifest.json", "export.zip"} {
		require.True(t, h.stored(id, name), name)
	}
	h.later()
	r := h.post(exportPath(id, "cancel"), tn.Admin, nil)
	requireStatus(t, r, http.StatusOK)
	e := decodeExport(t, r)
	assert.Equal(t, "cancelled", e.Status)
	assert.Empty(t, e.Files)
	assert.Nil(t, e.ExpiresAt)
	require.NotNil(t, e.FinishedAt)
	assert.Equal(t, h.now(), *e.FinishedAt)
	for _, name := range []string{"channels-0001.csv", "manifest.json", "export.zip"} {
		assert.False(t, h.stored(id, name), "%s is deleted", name)
	}
	assert.Equal(t, "cancelled", h.getExport(tn.Viewer, id).Status)
	requireError(t, h.get(exportPath(id, "download"), tn.Viewer), http.StatusConflict, aicc.EEXPORTNOTREADY)
	requireError(t, h.post(exportPath(id, "cancel"), tn.Admin, nil), http.StatusConflict, aicc.ECONFLICT)

	// One the worker has not begun.
	h.flows.setHoldExports(true)
	id = h.createExport(tn, map[string]any{}).ID
	r = h.post(exportPath(id, "cancel"), tn.Admin, nil)
	requireStatus(t, r, http.StatusOK)
	assert.Equal(t, "cancelled", decodeExport(t, r).Status)
	assert.False(t, h.stored(id, "channels-0001.csv"))
	assert.Error(t, h.flows.runExport(id), "a cancelled export is not written afterwards")

	// One Temporal never started (it was down at create): started with the cancel, it is cancelled before
	// it writes anything, and the resumer has nothing left to start.
	h.flows.setHoldExports(false)
	h.flows.failNext("ExecuteWorkflow", serviceerror.NewUnavailable("connection refused"))
	id = h.createExport(tn, map[string]any{}).ID
	assert.Equal(t, "pending", h.getExport(tn.Viewer, id).Status)
	r = h.post(exportPath(id, "cancel"), tn.Admin, nil)
	requireStatus(t, r, http.StatusOK)
	assert.Equal(t, "cancelled", decodeExport(t, r).Status)
	assert.False(t, h.stored(id, "channels-0001.csv"))

	// Temporal does not answer: nothing changes.
	h.flows.setHoldExports(true)
	id = h.createExport(tn, map[string]any{}).ID
	h.flows.failNext("UpdateWithStartWorkflow", serviceerror.NewUnavailable("connection refused"))
	requireError(t, h.post(exportPath(id, "cancel"), tn.Admin, nil), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	assert.Equal(t, "pending", h.getExport(tn.Viewer, id).Status)
	require.NoError(t, h.flows.runExport(id))
}

func TestExportTenantIsolation(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	h.createChannel(a, channelBody(a, "fb_main"))
	id := h.createExport(a, map[string]any{}).ID

	missing := requireError(t, h.get(exportPath("exp_missing"), b.Viewer), http.StatusNotFound, aicc.ENOTFOUND)
	for _, token := range []string{b.Admin, b.Viewer} {
		for _, path := range []string{exportPath(id), exportPath(id, "download"), exportPath(id, "files", "channels-0001.csv"),
			exportPath(id, "files", "manifest.json")} {
			e := requireError(t, h.get(path, token), http.StatusNotFound, aicc.ENOTFOUND)
			assert.Equal(t, missing, e, "another tenant's export is answered as a missing one")
		}
	}
	requireError(t, h.post(exportPath(id, "cancel"), b.Admin, nil), http.StatusNotFound, aicc.ENOTFOUND)
	assert.Equal(t, "success", h.getExport(a.Viewer, id).Status, "untouched")
	assert.True(t, h.stored(id, "export.zip"))
	sys := h.token("", aicc.RoleSysadmin)
	requireError(t, h.get(exportPath(id), sys), http.StatusForbidden, aicc.EFORBIDDEN)
}

func TestExportViewer(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	h.createChannel(tn, channelBody(tn, "fb_main"))
	requireError(t, h.post(exportsPath, tn.Viewer, map[string]any{}), http.StatusForbidden, aicc.EFORBIDDEN)
	id := h.createExport(tn, map[string]any{}).ID
	requireError(t, h.post(exportPath(id, "cancel"), tn.Viewer, nil), http.StatusForbidden, aicc.EFORBIDDEN)

	assert.Equal(t, "success", h.getExport(tn.Viewer, id).Status)
	requireStatus(t, h.get(exportsPath, tn.Viewer), http.StatusOK)
	h.download(tn.Viewer, id)
	h.exportFile(tn.Viewer, id, "channels-0001.csv", "text/csv; charset=utf-8")
	requireError(t, h.get(exportPath(id), ""), http.StatusUnauthorized, aicc.EUNAUTH)
}

func TestExportWhenTemporalUnavailable(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	h.createChannel(tn, channelBody(tn, "fb_main"))
	h.flows.failNext("ExecuteWorkflow", serviceerror.NewUnavailable("connection refused"))

	created := h.createExport(tn, map[string]any{})
	assert.Equal(t, "pending", created.Status)
	e := h.getExport(tn.Viewer, created.ID)
	assert.Equal(t, "pending", e.Status, "left for the worker's resumer")
	assert.Equal(t, 1, e.Progress.Total)
	assert.Contains(t, h.logs.String(), "export left pending for the resumer")
	requireError(t, h.get(exportPath(created.ID, "download"), tn.Viewer), http.StatusConflict, aicc.EEXPORTNOTREADY)
}

func TestExportWithoutStorage(t *testing.T) {
	h := newHarness(t, withServer(func(s *api.Server) { s.ExportFiles = nil }))
	tn := h.newTenant("A")
	h.createChannel(tn, channelBody(tn, "fb_main"))
	id := h.createExport(tn, map[string]any{}).ID
	requireError(t, h.get(exportPath(id, "download"), tn.Viewer), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	requireError(t, h.get(exportPath(id, "files", "channels-0001.csv"), tn.Viewer), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
}

// expand returns data and, when it is a zip (the download, an XLSX file), every entry it holds, expanded in
// turn: what a user gets once everything is unpacked.
func expand(tb testing.TB, name string, data []byte) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{name: data}
	if !bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return out
	}
	_, files := unzip(tb, data)
	for n, b := range files {
		for k, v := range expand(tb, name+"/"+n, b) {
			out[k] = v
		}
	}
	return out
}

// TestExportSecretsNeverLeak exports a channel whose app secret and Page token are canaries, in every format,
// and checks that no byte of any download, unpacked, holds them, nor the verify token.
func TestExportSecretsNeverLeak(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	appSecret := "CANARY-app-secret-" + hex.EncodeToString(aicc.RandomBytes(8))
	pageToken := "CANARY-page-token-" + hex.EncodeToString(aicc.RandomBytes(8))
	body := channelBody(tn, "fb_canary")
	body["appSecret"] = appSecret
	c := h.createChannel(tn, body)
	requireStatus(t, h.post(pagesPath(c.Channel.ID), tn.Admin,
		map[string]any{"pageId": "1234567890", "tokenSecret": pageToken, "name": "Canary shop"}), http.StatusCreated)
	verifyToken := c.MetaSetup.VerifyToken
	require.NotEmpty(t, verifyToken)

	for _, format := range aicc.ExportFormats {
		e := h.getExport(tn.Viewer, h.createExport(tn, map[string]any{"format": format}).ID)
		require.Equal(t, "success", e.Status, format)
		r := h.get(exportPath(e.ID, "download"), tn.Viewer)
		requireStatus(t, r, http.StatusOK)
		downloads := expand(t, "export.zip", r.Body)
		for _, f := range append(e.Files, exportFileJSON{Name: "manifest.json"}) {
			r := h.get(exportPath(e.ID, "files", f.Name), tn.Viewer)
			requireStatus(t, r, http.StatusOK)
			for k, v := range expand(t, f.Name, r.Body) {
				downloads["files/"+k] = v
			}
		}
		var all bytes.Buffer
		for name, data := range downloads {
			all.Write(data)
			for _, secret := range []string{appSecret, pageToken, verifyToken} {
				assert.False(t, bytes.Contains(data, []byte(secret)), "%s export: %s holds a secret", format, name)
			}
		}
		// The check can fail: the unpacked files do hold the channel and its Page.
		assert.Contains(t, all.String(), c.Channel.ID, format)
		assert.Contains(t, all.String(), "1234567890", format)
		assert.Contains(t, all.String(), "Canary shop", format)
	}
	for _, s := range h.rec.starts {
		assert.NotContains(t, s, appSecret)
		assert.NotContains(t, s, pageToken)
	}
}
