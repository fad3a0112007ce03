package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
)

// fakeExportToken is the bearer token the fake API accepts; no output of the command may show it.
const fakeExportToken = "aicc_CANARY-export-token-0123456789"

// fakeExportAPI fakes the export routes of the API: an export that goes through the states in steps, one per
// GET, then serves zip as its download.
type fakeExportAPI struct {
	t     *testing.T
	steps []exportTask // what each GET answers; the last one repeats
	zip   []byte       // the download
	// shortBody announces the zip's whole length but sends only half of it.
	shortBody bool
	// createError, when set, is the answer to POST /v1/exports: status and body.
	createStatus int
	createError  string
	// unavailable is how many GETs of the export answer 503 before the steps go on.
	unavailable int

	mu        sync.Mutex
	created   []exportRequest
	gets      int
	cancelled bool
	auth      []string // every Authorization header received
}

func (f *fakeExportAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != "Bearer "+fakeExportToken {
		writeFakeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "A valid bearer token is required.", nil)
		return
	}
	id := f.steps[0].ID
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/exports":
		var req exportRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			f.t.Errorf("POST /v1/exports body: %v", err)
		}
		f.created = append(f.created, req)
		if f.createStatus != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.createStatus)
			io.WriteString(w, f.createError)
			return
		}
		writeFakeJSON(w, http.StatusAccepted, exportTaskJSON(id, "pending", 0, f.steps[len(f.steps)-1].Progress.Total, 0, nil))
	case r.Method == http.MethodGet && r.URL.Path == "/v1/exports/"+id && f.unavailable > 0:
		f.unavailable--
		writeFakeError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "The database did not answer.", nil)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/exports/"+id:
		step := f.steps[min(f.gets, len(f.steps)-1)]
		f.gets++
		writeFakeJSON(w, http.StatusOK, step)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/exports/"+id+"/download":
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Length", strconv.Itoa(len(f.zip)))
		body := f.zip
		if f.shortBody {
			body = body[:len(body)/2]
		}
		w.Write(body)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/exports/"+id+"/cancel":
		f.cancelled = true
		writeFakeJSON(w, http.StatusOK, exportTaskJSON(id, "cancelled", 0, 0, 0, nil))
	default:
		writeFakeError(w, http.StatusNotFound, "NOT_FOUND", "No such route.", nil)
	}
}

func writeFakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeFakeError(w http.ResponseWriter, status int, code, message string, fields map[string]string) {
	writeFakeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message, "fields": fields}})
}

func exportTaskJSON(id, status string, done, total, files int, list []aicc.ExportFile) exportTask {
	e := exportTask{ID: id, Status: status, Format: "csv", Files: list}
	e.Progress.RecordsDone, e.Progress.Total, e.Progress.FilesDone = done, total, files
	if e.Files == nil {
		e.Files = []aicc.ExportFile{}
	}
	return e
}

// fakeExportZip returns a zip as the Export workflow writes it, with the files its manifest lists.
func fakeExportZip(t *testing.T, id string, contents ...string) ([]byte, []aicc.ExportFile) {
	t.Helper()
	data := map[string][]byte{}
	var files []aicc.ExportFile
	for i, c := range contents {
		name := export.FileName(aicc.ExportCSV, i+1)
		sum := sha256.Sum256([]byte(c))
		files = append(files, aicc.ExportFile{Name: name, Records: strings.Count(c, "\n") - 1, Bytes: int64(len(c)), SHA256: hex.EncodeToString(sum[:])})
		data[name] = []byte(c)
	}
	return zipWithManifest(t, id, files, data), files
}

// zipWithManifest returns a zip of the files listed, with the contents in data, and a manifest listing them.
func zipWithManifest(t *testing.T, id string, files []aicc.ExportFile, data map[string][]byte) []byte {
	t.Helper()
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	manifest := export.EncodeManifest(export.Manifest{
		SchemaVersion: aicc.ExportSchemaVersion, ExportID: id, Format: aicc.ExportCSV, Files: files,
	})
	names = append(names, export.ManifestName)
	var buf bytes.Buffer
	err := export.WriteZip(context.Background(), &buf, func(name string) (io.ReadCloser, error) {
		if name == export.ManifestName {
			return io.NopCloser(bytes.NewReader(manifest)), nil
		}
		return io.NopCloser(bytes.NewReader(data[name])), nil
	}, names)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// newFakeExport returns a fake API whose export exp_1 runs 4,500 records into three files and succeeds.
func newFakeExport(t *testing.T) (*fakeExportAPI, string) {
	t.Helper()
	const id = "exp_1"
	z, files := fakeExportZip(t, id, "channel_id\nch_1\nch_2\n", "channel_id\nch_3\n", "channel_id\n")
	f := &fakeExportAPI{t: t, zip: z, steps: []exportTask{
		exportTaskJSON(id, "pending", 0, 4500, 0, nil),
		exportTaskJSON(id, "running", 2000, 4500, 1, nil),
		exportTaskJSON(id, "running", 2000, 4500, 1, nil), // no change: no new line
		exportTaskJSON(id, "running", 4000, 4500, 2, nil),
		exportTaskJSON(id, "success", 4500, 4500, 3, files),
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// runExportCmd runs "aicc export args…" against the API at url with the fake token.
func runExportCmd(ctx context.Context, t *testing.T, url string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := env(map[string]string{"AICC_URL": url, "AICC_TOKEN": fakeExportToken})
	code := exportCommand(ctx, append([]string{"--poll", "10ms"}, args...), getenv, &stdout, &stderr)
	for _, out := range []string{stdout.String(), stderr.String()} {
		if strings.Contains(out, fakeExportToken) || strings.Contains(out, "CANARY") {
			t.Errorf("the token appears in the output: %q", out)
		}
	}
	return code, stdout.String(), stderr.String()
}

func TestExportCommandDownloads(t *testing.T) {
	f, url := newFakeExport(t)
	out := filepath.Join(t.TempDir(), "configuration.zip")
	code, stdout, stderr := runExportCmd(context.Background(), t, url,
		"--channel", "ch_1", "--channel", "ch_2,ch_3", "--status", "active", "--name", "east", "--format", "csv", "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if stdout != "exp_1\n"+out+"\n" {
		t.Errorf("stdout = %q, want the export ID then the file", stdout)
	}
	wantLines := []string{
		"[....................] 0/4,500 records, 0 files (pending)",
		"[########............] 2,000/4,500 records, 1 file",
		"[#################...] 4,000/4,500 records, 2 files",
		"[####################] 4,500/4,500 records, 3 files",
		"aicc export: wrote " + out + " (" + thousands(len(f.zip)) + " bytes: 4,500 records in 3 files)",
	}
	if got := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("stderr:\n%s\nwant a line per change:\n%s", stderr, strings.Join(wantLines, "\n"))
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, f.zip) {
		t.Fatalf("the file holds %d bytes (%v), want the %d of the zip", len(got), err, len(f.zip))
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*.tmp")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	if len(f.created) != 1 {
		t.Fatalf("POST /v1/exports %d times, want once", len(f.created))
	}
	req := f.created[0]
	if strings.Join(req.ChannelIDs, ",") != "ch_1,ch_2,ch_3" || req.Filter.Status != "active" || req.Filter.Name != "east" || req.Format != "csv" {
		t.Errorf("request = %+v, want the flags' selection", req)
	}
	for _, a := range f.auth {
		if a != "Bearer "+fakeExportToken {
			t.Errorf("Authorization = %q, want the token as Bearer", a)
		}
	}
	if f.cancelled {
		t.Error("a successful export was cancelled")
	}
}

func TestExportCommandDefaultOutput(t *testing.T) {
	f, url := newFakeExport(t)
	dir := t.TempDir()
	t.Chdir(dir)
	code, stdout, stderr := runExportCmd(context.Background(), t, url, "--format", "jsonl")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if stdout != "exp_1\nexport-exp_1.zip\n" {
		t.Errorf("stdout = %q", stdout)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "export-exp_1.zip")); err != nil || !bytes.Equal(got, f.zip) {
		t.Errorf("export-exp_1.zip: %d bytes, %v", len(got), err)
	}
	if req := f.created[0]; req.Format != "jsonl" || req.ChannelIDs != nil || req.Filter.Status != "" {
		t.Errorf("request = %+v, want every channel in jsonl", req)
	}
}

func TestExportCommandFailures(t *testing.T) {
	const id = "exp_1"
	tests := []struct {
		name       string
		setup      func(f *fakeExportAPI)
		token      string
		wantStderr []string
	}{
		{
			name: "field errors",
			setup: func(f *fakeExportAPI) {
				f.createStatus = http.StatusBadRequest
				f.createError = `{"error":{"code":"INVALID","message":"The request is invalid.",` +
					`"fields":{"filter.status":"is not a channel status","channelIds":"1 are not channels of this tenant: ch_x"}}}`
			},
			wantStderr: []string{"aicc export: INVALID: The request is invalid.\n" +
				"  channelIds: 1 are not channels of this tenant: ch_x\n  filter.status: is not a channel status\n"},
		},
		{
			name: "too large",
			setup: func(f *fakeExportAPI) {
				f.createStatus = http.StatusBadRequest
				f.createError = `{"error":{"code":"EXPORT_TOO_LARGE","message":"The selection matches 100001 channels."}}`
			},
			wantStderr: []string{"aicc export: EXPORT_TOO_LARGE: The selection matches 100001 channels.\n"},
		},
		{
			name:       "wrong token",
			token:      "aicc_CANARY-wrong-token",
			wantStderr: []string{"aicc export: UNAUTHENTICATED: A valid bearer token is required.\n"},
		},
		{
			name: "not the API",
			setup: func(f *fakeExportAPI) {
				f.createStatus = http.StatusBadGateway
				f.createError = "<html>bad gateway</html>"
			},
			wantStderr: []string{"aicc export: HTTP_502: Bad Gateway (not an answer of the aicc API)\n"},
		},
		{
			name: "export failed",
			setup: func(f *fakeExportAPI) {
				f.steps = []exportTask{exportTaskJSON(id, "running", 2000, 4500, 1, nil), exportTaskJSON(id, "failed", 2000, 4500, 1, nil)}
				f.steps[1].ErrorCode = aicc.EEXPORTTOOLARGE
			},
			wantStderr: []string{"2,000/4,500 records, 1 file\n", "(failed)\n", "aicc export: export exp_1 failed: EXPORT_TOO_LARGE\n"},
		},
		{
			name:       "cancelled elsewhere",
			setup:      func(f *fakeExportAPI) { f.steps = []exportTask{exportTaskJSON(id, "cancelled", 0, 4500, 0, nil)} },
			wantStderr: []string{"aicc export: export exp_1 is cancelled: there is nothing to download\n"},
		},
		{
			name:       "download cut short",
			setup:      func(f *fakeExportAPI) { f.shortBody = true },
			wantStderr: []string{"aicc export: download: "},
		},
		{
			name: "manifest of other files",
			setup: func(f *fakeExportAPI) {
				f.zip, _ = fakeExportZip(t, id, "channel_id\nch_9\nch_2\n", "channel_id\nch_3\n", "channel_id\n")
			},
			wantStderr: []string{"aicc export: download: manifest.json lists other files than the API\n"},
		},
		{
			name: "checksum mismatch",
			setup: func(f *fakeExportAPI) {
				files := f.steps[len(f.steps)-1].Files
				f.zip = zipWithManifest(t, id, files, map[string][]byte{
					files[0].Name: []byte("channel_id\nch_1\nch_X\n"), files[1].Name: []byte("channel_id\nch_3\n"),
					files[2].Name: []byte("channel_id\n"),
				})
			},
			wantStderr: []string{"aicc export: download: channels-0001.csv does not match its size and SHA-256 in manifest.json\n"},
		},
		{
			name:       "not a zip",
			setup:      func(f *fakeExportAPI) { f.zip = []byte("<html>login</html>") },
			wantStderr: []string{"aicc export: download: not a zip: "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, url := newFakeExport(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			dir := t.TempDir()
			out := filepath.Join(dir, "out.zip")
			var stdout, stderr bytes.Buffer
			token := fakeExportToken
			if tt.token != "" {
				token = tt.token
			}
			getenv := env(map[string]string{"AICC_URL": url + "/", "AICC_TOKEN": token})
			code := exportCommand(context.Background(), []string{"--poll", "10ms", "-o", out}, getenv, &stdout, &stderr)
			if code != exitError {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitError, stderr.String())
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr:\n%s\nwant it to contain %q", stderr.String(), want)
				}
			}
			if strings.Contains(stderr.String()+stdout.String(), "CANARY") {
				t.Errorf("a token appears in the output")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left in the output directory: %v", entries)
			}
		})
	}
}

// TestExportCommandRetriesUnavailable: a few failed polls in a row are retried; more end the command.
func TestExportCommandRetriesUnavailable(t *testing.T) {
	f, url := newFakeExport(t)
	f.unavailable = exportPollFailures
	code, _, stderr := runExportCmd(context.Background(), t, url, "-o", filepath.Join(t.TempDir(), "out.zip"))
	if code != exitOK {
		t.Errorf("exit %d after %d unavailable polls, want 0; stderr:\n%s", code, exportPollFailures, stderr)
	}

	f, url = newFakeExport(t)
	f.unavailable = exportPollFailures + 1
	code, _, stderr = runExportCmd(context.Background(), t, url, "-o", filepath.Join(t.TempDir(), "out.zip"))
	if code != exitError || !strings.HasSuffix(stderr, "(pending)\naicc export: UNAVAILABLE: The database did not answer.\n") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and the API's error", code, stderr)
	}
}

// TestExportCommandInterrupted: Ctrl-C while the export runs cancels it, which deletes its files, and exits
// 130 without a file.
func TestExportCommandInterrupted(t *testing.T) {
	f, url := newFakeExport(t)
	f.steps = f.steps[:2] // it runs on and on
	ctx, interrupt := context.WithCancel(context.Background())
	go func() {
		for {
			f.mu.Lock()
			gets := f.gets
			f.mu.Unlock()
			if gets >= 3 {
				interrupt()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	dir := t.TempDir()
	code, stdout, stderr := runExportCmd(ctx, t, url, "-o", filepath.Join(dir, "out.zip"))
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
	f.mu.Lock()
	cancelled := f.cancelled
	f.mu.Unlock()
	if !cancelled {
		t.Error("the export was not cancelled")
	}
	if stdout != "exp_1\n" {
		t.Errorf("stdout = %q, want the export ID", stdout)
	}
	if !strings.Contains(stderr, "interrupted; cancelling export exp_1\n") || !strings.Contains(stderr, "export exp_1 is cancelled; its files are deleted\n") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left: %v", entries)
	}
}

func TestExportCommandUsage(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--format", "xml"}, map[string]string{"AICC_TOKEN": "t"}, "--format must be csv, xlsx or jsonl"},
		{[]string{"--poll", "1ms"}, map[string]string{"AICC_TOKEN": "t"}, "--poll must be at least"},
		{[]string{"--channel", ""}, map[string]string{"AICC_TOKEN": "t"}, "empty channel ID"},
		{[]string{"extra"}, map[string]string{"AICC_TOKEN": "t"}, `unexpected argument "extra"`},
		{[]string{"-o", "/nonexistent/dir/x.zip"}, map[string]string{"AICC_TOKEN": "t"}, "the directory /nonexistent/dir does not exist"},
		{nil, nil, "AICC_TOKEN is required"},
		{nil, map[string]string{"AICC_TOKEN": "t", "AICC_URL": "localhost:8080"}, "AICC_URL must be the API's base URL"},
		{nil, map[string]string{"AICC_TOKEN": "t", "AICC_URL": "https://u:CANARY@aicc.example.com"}, "must not carry credentials"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := exportCommand(context.Background(), tt.args, env(tt.env), &stdout, &stderr); code != exitUsage {
			t.Errorf("%v %v: exit %d, want %d", tt.args, tt.env, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), tt.want) || strings.Contains(stderr.String(), "CANARY") {
			t.Errorf("%v %v: stderr %q, want %q", tt.args, tt.env, stderr.String(), tt.want)
		}
	}
	// The subcommand is registered.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"export", "--format", "xml"}, &stdout, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "--format must be") {
		t.Errorf("aicc export --format xml: exit %d, stderr %q", code, stderr.String())
	}
	if run(context.Background(), []string{"help"}, &stdout, &stderr); !strings.Contains(stdout.String(), "  export [--channel ID]") {
		t.Errorf("the usage does not list export:\n%s", stdout.String())
	}
}

func TestProgressBarOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progressBar{w: &buf, terminal: true}
	e := exportTaskJSON("exp_1", "running", 0, 10000, 0, nil)
	p.draw(&e)
	e.Progress.RecordsDone, e.Progress.FilesDone = 4000, 2
	p.draw(&e)
	p.draw(&e) // unchanged: not redrawn
	e.Status, e.Progress.RecordsDone, e.Progress.FilesDone = "success", 10000, 5
	p.draw(&e)
	p.end()
	want := "\r[....................] 0/10,000 records, 0 files" +
		"\r[########............] 4,000/10,000 records, 2 files" +
		"\r[####################] 10,000/10,000 records, 5 files\n"
	if buf.String() != want {
		t.Errorf("terminal output %q, want %q", buf.String(), want)
	}

	// A shorter line clears the rest of the longer one.
	buf.Reset()
	p = &progressBar{w: &buf, terminal: true}
	e = exportTaskJSON("exp_1", "pending", 0, 10, 0, nil)
	p.draw(&e)
	e.Status = "running"
	p.draw(&e)
	if !strings.HasSuffix(buf.String(), "0/10 records, 0 files          ") {
		t.Errorf("redraw %q does not blank the rest of the previous line", buf.String())
	}
	// Nothing to end when nothing was drawn.
	buf.Reset()
	(&progressBar{w: &buf, terminal: true}).end()
	if buf.Len() != 0 {
		t.Errorf("end without a line wrote %q", buf.String())
	}
}

func TestProgressLine(t *testing.T) {
	for _, tt := range []struct {
		status             string
		done, total, files int
		want               string
	}{
		{"success", 0, 0, 1, "[####################] 0/0 records, 1 file"},
		{"running", 0, 0, 0, "[....................] 0/0 records, 0 files"},
		{"running", 1, 3, 0, "[######..............] 1/3 records, 0 files"},
		{"running", 100000, 100000, 50, "[####################] 100,000/100,000 records, 50 files"},
		{"running", 1234567, 100, 1, "[####################] 1,234,567/100 records, 1 file"},
	} {
		e := exportTaskJSON("exp_1", tt.status, tt.done, tt.total, tt.files, nil)
		if got := progressLine(&e); got != tt.want {
			t.Errorf("progressLine(%s %d/%d) = %q, want %q", tt.status, tt.done, tt.total, got, tt.want)
		}
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10000: "10,000", 123456789: "123,456,789", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
