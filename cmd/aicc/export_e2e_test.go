package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/workflows"
)

// exportE2EChannels is how many channels the end-to-end export holds: three files, of 2,000, 2,000 and 500.
const exportE2EChannels = 4_500

// TestExportEndToEnd exports 4,500 channels (three made through the API with Pages, the rest written to the
// store directly, which is 100 times faster) through the REST API and the Export workflow, downloads the zip
// and compares it with the database: the files and their split, every channel once in ID order, the cells of
// the stored configuration, the manifest's checksums, no secret anywhere. Then a second export of the same
// data gives the same files byte for byte and is cancelled, which deletes its files; a filtered JSONL export
// holds the same cells as the CSV; an export cancelled while it runs leaves nothing; and "aicc export" runs
// in-process against the stack.
func TestExportEndToEnd(t *testing.T) {
	start := time.Now()
	s, pageToken := newStack(t)
	ctx := context.Background()

	// Three channels through the API: the fake app's, verified and active with two Pages, and two of other
	// apps with richer configuration, whose Pages (which the fake Meta, knowing one app, cannot subscribe) are
	// written to the store as ConnectPage would.
	first, _ := s.channelWithTwoPages("fb_export_first", pageToken)
	s.mustCall(http.StatusOK, http.MethodPost, "/v1/channels/"+first+"/onboarding/confirm", nil)
	basic := s.channelBasic()
	second := s.createExportChannel(map[string]any{
		"name": "fb_export_East_second", "appId": "200300400501", "appSecret": canary(t, "app-secret-second"),
		"basic": map[string]any{
			"ouId": basic["ouId"], "skillQueueId": basic["skillQueueId"],
			"transferKeywords": []string{"agent", "human; please", `back\slash`},
			"workTime": map[string]any{
				"workday":    []map[string]string{{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}},
				"nonWorkday": []map[string]string{{"start": "10:00", "end": "14:00"}},
			},
			"nonWorkingTimeNotice": "We are closed, \"back\" at 8, see you",
			"sessionTransfer":      map[string]any{"enabled": true, "targetSkillQueueIds": []any{basic["skillQueueId"]}},
		},
		"robot": map[string]any{
			"intelligentRobot": map[string]any{"enabled": true, "accessCode": "R-100", "name": "Aria", "avatar": 3, "gender": "female"},
			"robotAssistant":   map[string]any{"enabled": true, "accessCode": "A-200", "silentAgentSkillQueueId": basic["skillQueueId"]},
		},
	})
	third := s.createExportChannel(map[string]any{
		"name": "fb_export_third", "appId": "200300400502", "appSecret": canary(t, "app-secret-third"), "algorithm": "sha1",
		"basic": basic,
	})
	s.addStorePage(second, "1000000003", "Third; Page")
	s.addStorePage(second, "1000000004", `Fourth\Page`)
	s.addStorePage(third, "1000000005", "Fifth Page")

	// The rest directly in the store, with sealed canary secrets, statuses and names to filter on, and a
	// Page on every 500th.
	bulkStart := time.Now()
	statuses := []aicc.ChannelStatus{aicc.StatusActive, aicc.StatusVerified, aicc.StatusDisabled,
		aicc.StatusAwaitingVerification, aicc.StatusFailed}
	regions := []string{"east", "West", "north"}
	for i := range exportE2EChannels - 3 {
		ch := aicc.DefaultChannel()
		ch.ID, ch.TenantID = aicc.NewID(aicc.PrefixChannel), s.tenantID
		ch.Name = fmt.Sprintf("bulk_%s_%04d", regions[i%len(regions)], i)
		ch.AppID = strconv.Itoa(300_000_000_000 + i)
		ch.Basic.OUID, ch.Basic.SkillQueueID = basic["ouId"].(string), basic["skillQueueId"].(string)
		ch.Basic.TransferKeywords = []string{"agent", "k" + strconv.Itoa(i%7)}
		ch.Robot.Robot.Enabled, ch.Robot.Robot.Name = i%3 == 0, "Bot "+strconv.Itoa(i%11)
		ch.Onboarding = aicc.Onboarding{Status: statuses[i%len(statuses)], Step: "bulk"}
		now := time.Now()
		err := s.store.CreateChannel(ctx, &ch, aicc.ChannelSecrets{
			AppSecret:   s.keyring.Seal(canary(t, "bulk-app-secret"), aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), now),
			VerifyToken: s.keyring.Seal(canary(t, "bulk-verify-token"), aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), now),
		})
		if err != nil {
			t.Fatalf("CreateChannel %d: %v", i, err)
		}
		if i%500 == 0 {
			s.addStorePage(ch.ID, strconv.Itoa(2_000_000_000+i), "Bulk Page "+strconv.Itoa(i))
		}
	}
	t.Logf("%d channels stored in %s", exportE2EChannels-3, time.Since(bulkStart).Round(time.Millisecond))

	// Unknown or another tenant's channel IDs are a 400 naming them; a bad format a field error.
	s.wantError(http.StatusBadRequest, aicc.EINVALID, http.MethodPost, "/v1/exports", map[string]any{"channelIds": []string{first, "ch_nope"}})
	s.wantError(http.StatusBadRequest, aicc.EINVALID, http.MethodPost, "/v1/exports", map[string]any{"format": "xml"})

	// Every channel, CSV: three files of 2,000, 2,000 and 500 records.
	exportStart := time.Now()
	created := s.mustCall(http.StatusAccepted, http.MethodPost, "/v1/exports", map[string]any{})
	all := created["id"].(string)
	if p := created["progress"].(map[string]any); p["total"] != float64(exportE2EChannels) || created["format"] != "csv" {
		t.Errorf("create answered %v, want a csv export of %d channels", created, exportE2EChannels)
	}
	done := s.waitExport(all, aicc.ExportSuccess)
	t.Logf("exported %d channels in %s", exportE2EChannels, time.Since(exportStart).Round(time.Millisecond))
	files := exportFiles(t, done)
	wantNames := []string{"channels-0001.csv", "channels-0002.csv", "channels-0003.csv"}
	if names := fileNames(files); !slices.Equal(names, wantNames) ||
		files[0].Records != 2000 || files[1].Records != 2000 || files[2].Records != exportE2EChannels-4000 {
		t.Fatalf("files = %+v, want %v of 2,000, 2,000 and %d records", files, wantNames, exportE2EChannels-4000)
	}
	if p := done["progress"].(map[string]any); p["recordsDone"] != float64(exportE2EChannels) || p["filesDone"] != 3.0 {
		t.Errorf("progress = %v, want %d records in 3 files", p, exportE2EChannels)
	}
	finished, _ := time.Parse(time.RFC3339Nano, done["finishedAt"].(string))
	expires, _ := time.Parse(time.RFC3339Nano, done["expiresAt"].(string))
	if expires.Sub(finished) != aicc.DefaultExportRetention {
		t.Errorf("expiresAt - finishedAt = %s (%v, %v), want the retention %s", expires.Sub(finished),
			done["expiresAt"], done["finishedAt"], aicc.DefaultExportRetention)
	}
	listed := s.mustCall(http.StatusOK, http.MethodGet, "/v1/exports", nil)
	if items, _ := listed["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != all {
		t.Errorf("GET /v1/exports = %v, want the one export", listed)
	}

	zipped := s.downloadExportZip(all)
	entries := unzipExport(t, zipped)
	var names []string
	for _, e := range entries {
		names = append(names, e.name)
	}
	if !slices.Equal(names, append(slices.Clone(wantNames), export.ManifestName)) {
		t.Fatalf("zip entries = %v, want %v and the manifest", names, wantNames)
	}
	checkManifest(t, entries, all, aicc.ExportCSV, files)
	want := s.storedChannels(ctx)
	if len(want) != exportE2EChannels {
		t.Fatalf("the store has %d channels, want %d", len(want), exportE2EChannels)
	}
	csvRows := map[string][]string{}
	var ids []string
	for _, e := range entries[:3] {
		rows := readExportCSV(t, e.name, e.data)
		for _, row := range rows {
			ids = append(ids, row[0])
			csvRows[row[0]] = row
		}
	}
	if !slices.Equal(ids, sortedKeys(want)) {
		t.Fatalf("the files hold %d channel IDs, want each of the %d stored channels once, in ID order", len(ids), len(want))
	}
	for id, row := range csvRows {
		checkExportRow(t, row, want[id])
	}
	// One file alone, as GET …/files/{name} serves it, is the same as in the zip.
	resp, body := s.exportGet("/v1/exports/" + all + "/files/channels-0002.csv")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, entries[1].data) || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Errorf("GET files/channels-0002.csv = %d %s (%d bytes), want the zip's file", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	s.checkNoSecretInExport(entries)
	// The storage holds the export's files, its manifest and its zip (the positive control of the checks
	// after the cancels below).
	stored := slices.DeleteFunc(s.storedExportFiles(all), func(name string) bool {
		return strings.HasSuffix(name, ".attrs") // fileblob's metadata beside each file
	})
	if len(stored) != 1+len(files)+2 {
		t.Errorf("the storage holds %v of export %s, want its directory, its %d files, the manifest and the zip", stored, all, len(files))
	}

	// The same data exported again gives the same files, byte for byte; cancelling the finished export
	// deletes them.
	again := s.mustCall(http.StatusAccepted, http.MethodPost, "/v1/exports", map[string]any{"format": "csv"})["id"].(string)
	againFiles := exportFiles(t, s.waitExport(again, aicc.ExportSuccess))
	if !slices.Equal(againFiles, files) {
		t.Errorf("a second export of the same data has files %+v, want the same as %+v", againFiles, files)
	}
	s.cancelExport(again)
	s.checkExportDeleted(ctx, again, aicc.ExportCSV)

	// A filtered JSONL export holds the same cells as the CSV, of the channels the filter matches.
	filtered := s.mustCall(http.StatusAccepted, http.MethodPost, "/v1/exports", map[string]any{
		"filter": map[string]any{"status": "disabled", "name": "EAST"}, "format": "jsonl",
	})["id"].(string)
	jsonlFiles := exportFiles(t, s.waitExport(filtered, aicc.ExportSuccess))
	var wantFiltered []string
	for _, id := range sortedKeys(want) {
		if ch := want[id]; ch.Onboarding.Status == aicc.StatusDisabled && strings.Contains(strings.ToLower(ch.Name), "east") {
			wantFiltered = append(wantFiltered, id)
		}
	}
	if len(wantFiltered) == 0 || len(jsonlFiles) != 1 || jsonlFiles[0].Name != "channels-0001.jsonl" || jsonlFiles[0].Records != len(wantFiltered) {
		t.Fatalf("filtered export files = %+v, want one JSONL file of %d records", jsonlFiles, len(wantFiltered))
	}
	jsonlEntries := unzipExport(t, s.downloadExportZip(filtered))
	checkManifest(t, jsonlEntries, filtered, aicc.ExportJSONL, jsonlFiles)
	s.checkNoSecretInExport(jsonlEntries)
	var jsonlIDs []string
	for _, row := range readExportJSONL(t, jsonlEntries[0].data) {
		jsonlIDs = append(jsonlIDs, row[0])
		if !slices.Equal(row, csvRows[row[0]]) {
			t.Errorf("JSONL row %v, want the CSV's %v", row, csvRows[row[0]])
		}
	}
	if !slices.Equal(jsonlIDs, wantFiltered) {
		t.Errorf("the JSONL export holds %d channels, want the %d disabled ones named *east*, in ID order", len(jsonlIDs), len(wantFiltered))
	}

	// An export cancelled at once, running or not, ends cancelled with nothing left in the storage; a second
	// cancel is a conflict and there is nothing to download.
	running := s.mustCall(http.StatusAccepted, http.MethodPost, "/v1/exports", map[string]any{"format": "xlsx"})["id"].(string)
	s.cancelExport(running)
	s.checkExportDeleted(ctx, running, aicc.ExportXLSX)
	s.wantError(http.StatusConflict, aicc.ECONFLICT, http.MethodPost, "/v1/exports/"+running+"/cancel", nil)

	// aicc export, in-process, against the stack: the active channels.
	out := filepath.Join(t.TempDir(), "active.zip")
	var stdout, stderr bytes.Buffer
	code := exportCommand(ctx, []string{"--status", "active", "--poll", "50ms", "-o", out},
		env(map[string]string{"AICC_URL": s.url, "AICC_TOKEN": s.token}), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("aicc export: exit %d, stderr:\n%s", code, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), s.token) {
		t.Error("aicc export printed the token")
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], aicc.PrefixExport+"_") || lines[1] != out {
		t.Errorf("aicc export stdout = %q, want the export ID and the file", stdout.String())
	}
	cliZip, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var cliIDs, wantActive []string
	for _, e := range unzipExport(t, cliZip) {
		if e.name != export.ManifestName {
			for _, row := range readExportCSV(t, e.name, e.data) {
				cliIDs = append(cliIDs, row[0])
			}
		}
	}
	for _, id := range sortedKeys(want) {
		if want[id].Onboarding.Status == aicc.StatusActive {
			wantActive = append(wantActive, id)
		}
	}
	if !slices.Equal(cliIDs, wantActive) {
		t.Errorf("aicc export wrote %d channels, want the %d active ones", len(cliIDs), len(wantActive))
	}
	if !strings.Contains(stderr.String(), fmt.Sprintf("%s/%s records", thousands(len(wantActive)), thousands(len(wantActive)))) {
		t.Errorf("aicc export stderr shows no finished progress:\n%s", stderr.String())
	}

	// No secret in Temporal's histories, the logs or the answers; the histories for the replay test: the
	// successful export waits out its retention, the cancelled one has closed.
	secrets := map[string]string{"canary": "CANARY-"}
	for name, v := range s.knownSecrets() {
		if strings.HasPrefix(name, "verify token") {
			secrets[name] = v
		}
	}
	s.checkNoSecrets(ctx, secrets, map[string]string{
		workflows.ExportWorkflowID(all): all, workflows.ExportWorkflowID(again): again,
		workflows.ExportWorkflowID(filtered): filtered, workflows.ExportWorkflowID(running): running,
	})
	s.recordOpenHistory(ctx, workflows.ExportWorkflowID(all), "export-success")
	s.recordHistory(ctx, workflows.ExportWorkflowID(again), "export-cancelled")
	t.Logf("done in %s", time.Since(start).Round(time.Millisecond))
}

// createExportChannel creates a channel through the API from body and returns its ID.
func (s *stack) createExportChannel(body map[string]any) string {
	s.t.Helper()
	created := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels", body)
	return created["channel"].(map[string]any)["id"].(string)
}

// addStorePage stores a subscribed Page of the channel with a canary token, as ConnectPage would.
func (s *stack) addStorePage(channelID, pageID, name string) {
	s.t.Helper()
	now := time.Now().UTC()
	p := &aicc.Page{
		PageID: pageID, ChannelID: channelID, TenantID: s.tenantID, Name: name, CreatedAt: now,
		State: aicc.PageState{Status: aicc.PageSubscribed, TokenHealth: aicc.TokenHealthy, UpdatedAt: now},
	}
	if err := s.store.AddPage(context.Background(), p, s.keyring.Seal(canary(s.t, "page-token-"+pageID), aicc.PageTokenOwner(pageID), now)); err != nil {
		s.t.Fatalf("AddPage %s: %v", pageID, err)
	}
}

// waitExport polls the export until its status is want, for at most a minute, and returns it.
func (s *stack) waitExport(id string, want aicc.ExportStatus) map[string]any {
	s.t.Helper()
	var last map[string]any
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		last = s.mustCall(http.StatusOK, http.MethodGet, "/v1/exports/"+id, nil)
		switch st := aicc.ExportStatus(last["status"].(string)); {
		case st == want:
			return last
		case st.Finished() && st != aicc.ExportSuccess: // a successful export may still be cancelled or expire
			s.t.Fatalf("export %s is %s, want %s: %v", id, st, want, last)
		}
	}
	s.t.Fatalf("export %s not %s after a minute: %v", id, want, last)
	return nil
}

// exportFiles returns the files an export answer lists.
func exportFiles(t *testing.T, e map[string]any) []aicc.ExportFile {
	t.Helper()
	b, err := json.Marshal(e["files"])
	if err != nil {
		t.Fatal(err)
	}
	var files []aicc.ExportFile
	if err := json.Unmarshal(b, &files); err != nil {
		t.Fatalf("files %s: %v", b, err)
	}
	return files
}

func fileNames(files []aicc.ExportFile) []string {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.Name
	}
	return names
}

// exportGet GETs path as the tenant admin and returns the answer with its whole body.
func (s *stack) exportGet(path string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, body
}

// downloadExportZip downloads the export's zip and checks the headers of the answer.
func (s *stack) downloadExportZip(id string) []byte {
	s.t.Helper()
	resp, body := s.exportGet("/v1/exports/" + id + "/download")
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("download %s = %d %s", id, resp.StatusCode, body)
	}
	if ct, cd := resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"); ct != "application/zip" ||
		cd != `attachment; filename="export-`+id+`.zip"` {
		s.t.Errorf("download headers Content-Type %q, Content-Disposition %q", ct, cd)
	}
	if resp.ContentLength != int64(len(body)) {
		s.t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
	}
	return body
}

// zipEntry is one file of a downloaded zip.
type zipEntry struct {
	name string
	data []byte
}

// unzipExport returns the entries of a zip, in order.
func unzipExport(t *testing.T, b []byte) []zipEntry {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("the download is not a zip: %v", err)
	}
	var entries []zipEntry
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		entries = append(entries, zipEntry{f.Name, data})
	}
	return entries
}

// checkManifest checks the zip's manifest.json against the export: its ID, format, the files the API lists,
// and each file's record count, size and SHA-256.
func checkManifest(t *testing.T, entries []zipEntry, id string, format aicc.ExportFormat, files []aicc.ExportFile) {
	t.Helper()
	last := entries[len(entries)-1]
	var m export.Manifest
	if last.name != export.ManifestName || json.Unmarshal(last.data, &m) != nil {
		t.Fatalf("the zip's last entry is %s, want a valid %s", last.name, export.ManifestName)
	}
	records := 0
	for _, f := range files {
		records += f.Records
	}
	if m.SchemaVersion != aicc.ExportSchemaVersion || m.ExportID != id || m.Format != format || m.Records != records ||
		!slices.Equal(m.Files, files) {
		t.Errorf("manifest %+v, want export %s, %s, %d records, files %+v", m, id, format, records, files)
	}
	for i, f := range m.Files {
		e := entries[i]
		sum := sha256.Sum256(e.data)
		if e.name != f.Name || int64(len(e.data)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: %d bytes, SHA-256 %x; the manifest says %s, %d bytes, %s", e.name, len(e.data), sum, f.Name, f.Bytes, f.SHA256)
		}
	}
}

// readExportCSV parses an exported CSV file: the header must be export.Columns(); it returns the rows after it.
func readExportCSV(t *testing.T, name string, data []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], export.Columns()) {
		t.Fatalf("%s: header %v, want %v", name, rows[:min(1, len(rows))], export.Columns())
	}
	return rows[1:]
}

// readExportJSONL parses an exported JSONL file into rows of cells in column order, checking the keys.
func readExportJSONL(t *testing.T, data []byte) [][]string {
	t.Helper()
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var obj map[string]string
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("JSONL line %d: %v", len(rows)+1, err)
		}
		row := make([]string, 0, len(obj))
		for _, c := range export.Columns() {
			v, ok := obj[c]
			if !ok {
				t.Fatalf("JSONL line %d has no %s", len(rows)+1, c)
			}
			row = append(row, v)
		}
		if len(obj) != len(row) {
			t.Fatalf("JSONL line %d has %d keys, want %d", len(rows)+1, len(obj), len(row))
		}
		rows = append(rows, row)
	}
	return rows
}

// storedChannel is a channel and its Pages as the store has them.
type storedChannel struct {
	*aicc.Channel
	pages []*aicc.Page
}

// storedChannels reads every channel of the tenant and its Pages from the store, by ID.
func (s *stack) storedChannels(ctx context.Context) map[string]storedChannel {
	s.t.Helper()
	out := map[string]storedChannel{}
	for cursor := ""; ; {
		chs, next, err := s.store.ListChannels(ctx, s.tenantID, aicc.ChannelFilter{ListOptions: aicc.ListOptions{Limit: aicc.MaxListLimit, Cursor: cursor}})
		if err != nil {
			s.t.Fatalf("ListChannels: %v", err)
		}
		for _, ch := range chs {
			pages, _, err := s.store.ListPages(ctx, s.tenantID, ch.ID, aicc.ListOptions{Limit: aicc.MaxListLimit})
			if err != nil {
				s.t.Fatalf("ListPages: %v", err)
			}
			out[ch.ID] = storedChannel{ch, pages}
		}
		if cursor = next; next == "" {
			return out
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkExportRow compares the cells of an exported row with the stored channel, computed here rather than by
// the export package: lists joined by "; " with "\" and ";" escaped, booleans and times as text.
func checkExportRow(t *testing.T, row []string, ch storedChannel) {
	t.Helper()
	list := func(items []string) string {
		esc := strings.NewReplacer(`\`, `\\`, `;`, `\;`)
		out := make([]string, len(items))
		for i, it := range items {
			out[i] = esc.Replace(it)
		}
		return strings.Join(out, "; ")
	}
	segments := func(segs []aicc.TimeSegment) string {
		items := make([]string, len(segs))
		for i, s := range segs {
			items[i] = s.Start + "-" + s.End
		}
		return list(items)
	}
	var pageIDs, pageNames []string
	for _, p := range ch.pages {
		pageIDs, pageNames = append(pageIDs, p.PageID), append(pageNames, p.Name)
	}
	b, r := ch.Basic, ch.Robot
	want := map[string]string{
		"channel_id": ch.ID, "name": ch.Name, "app_id": ch.AppID, "algorithm": string(ch.Algorithm),
		"status": string(ch.Onboarding.Status), "ou_id": b.OUID, "skill_queue_id": b.SkillQueueID,
		"transfer_keywords": list(b.TransferKeywords), "workday_segments": segments(b.WorkTime.Workday),
		"non_workday_segments": segments(b.WorkTime.NonWorkday), "non_working_time_notice": b.NonWorkingTimeNotice,
		"last_agent_window_minutes":               strconv.Itoa(b.LastAgent.WindowMinutes),
		"no_customer_reply_timeout_minutes":       strconv.Itoa(b.NoCustomerReply.TimeoutMinutes),
		"session_transfer_enabled":                strconv.FormatBool(b.SessionTransfer.Enabled),
		"session_transfer_target_skill_queue_ids": list(b.SessionTransfer.TargetSkillQueueIDs),
		"robot_enabled":                           strconv.FormatBool(r.Robot.Enabled), "robot_name": r.Robot.Name,
		"robot_access_code": r.Robot.AccessCode, "robot_avatar": strconv.Itoa(r.Robot.Avatar), "robot_gender": string(r.Robot.Gender),
		"robot_assistant_enabled":                     strconv.FormatBool(r.Assistant.Enabled),
		"robot_assistant_silent_agent_skill_queue_id": r.Assistant.SilentAgentSkillQueueID,
		"page_ids": list(pageIDs), "page_names": list(pageNames),
		"created_at": ch.CreatedAt.UTC().Format(time.RFC3339), "updated_at": ch.UpdatedAt.UTC().Format(time.RFC3339),
	}
	for i, col := range export.Columns() {
		if w, ok := want[col]; ok && row[i] != w {
			t.Errorf("channel %s: %s = %q, want %q", ch.ID, col, row[i], w)
		}
	}
}

// checkNoSecretInExport fails the test if an exported file holds a secret of the test: any canary (every app
// secret, Page token and stored verify token) or a verify token the API handed out.
func (s *stack) checkNoSecretInExport(entries []zipEntry) {
	s.t.Helper()
	secrets := s.knownSecrets()
	for _, e := range entries {
		for what, secret := range secrets {
			if bytes.Contains(e.data, []byte(secret)) {
				s.t.Errorf("the %s appears in the exported %s", what, e.name)
			}
		}
	}
}

// cancelExport cancels the export through the API, which answers it cancelled: the workflow's cancel Update
// completes once the row is recorded.
func (s *stack) cancelExport(id string) {
	s.t.Helper()
	got := s.mustCall(http.StatusOK, http.MethodPost, "/v1/exports/"+id+"/cancel", nil)
	if got["status"] != string(aicc.ExportCancelled) {
		s.t.Errorf("cancel of export %s answered status %v, want cancelled", id, got["status"])
	}
}

// checkExportDeleted checks that a cancelled export is recorded cancelled, lists no file, has nothing to
// download, and that the storage holds nothing of it.
func (s *stack) checkExportDeleted(ctx context.Context, id string, format aicc.ExportFormat) {
	s.t.Helper()
	e := s.waitExport(id, aicc.ExportCancelled)
	if files, _ := e["files"].([]any); len(files) != 0 || e["expiresAt"] != nil {
		s.t.Errorf("cancelled export %v, want no files and no expiry", e)
	}
	s.wantError(http.StatusConflict, aicc.EEXPORTNOTREADY, http.MethodGet, "/v1/exports/"+id+"/download", nil)
	names := []string{export.ManifestName, export.ZipName}
	for n := 1; n <= 3; n++ {
		names = append(names, export.FileName(format, n))
	}
	for _, name := range names {
		if ok, err := s.exports.Exists(ctx, export.Key(id, name)); err != nil || ok {
			s.t.Errorf("after the cancel the storage holds %s of export %s (%v)", name, id, err)
		}
	}
	if stored := s.storedExportFiles(id); len(stored) != 0 {
		s.t.Errorf("after the cancel the storage holds %v under the prefix of export %s", stored, id)
	}
	s.waitWorkflowClosed(ctx, workflows.ExportWorkflowID(id))
}

// storedExportFiles lists what the stack's export storage, a directory among the test's temporary
// directories, holds of the export: its directory exports/<id>/ (listed with a trailing slash) and every file
// in it.
func (s *stack) storedExportFiles(id string) []string {
	s.t.Helper()
	root := filepath.Dir(s.t.TempDir()) // the parent of every t.TempDir() of this test, newStack's too
	dir := "/" + strings.TrimSuffix(export.Key(id, ""), "/")
	var found []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + filepath.ToSlash(strings.TrimPrefix(path, root))
		switch {
		case d.IsDir() && strings.HasSuffix(rel, dir):
			found = append(found, rel+"/")
		case strings.Contains(rel, dir+"/"):
			found = append(found, rel)
		}
		return nil
	})
	if err != nil {
		s.t.Fatalf("walk %s: %v", root, err)
	}
	return found
}
