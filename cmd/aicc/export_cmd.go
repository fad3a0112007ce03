package main

// "aicc export": a client of the REST API that starts an export of the tenant's channels, shows its progress
// while the Export workflow writes it, and downloads its zip.

import (
	"archive/zip"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
)

// exitInterrupted is the exit code of a command stopped by Ctrl-C (SIGINT, or SIGTERM): 128 + SIGINT, as a
// shell reports it.
const exitInterrupted = 130

// DefaultAPIURL is the API "aicc export" calls unless AICC_URL says otherwise: aicc dev's address.
const DefaultAPIURL = "http://" + DefaultDevHTTPAddr

// Timings of "aicc export".
const (
	DefaultExportPoll  = time.Second
	minExportPoll      = 10 * time.Millisecond
	exportCallTimeout  = 30 * time.Second // one JSON call
	exportCancelWait   = 2 * time.Minute  // the cancel, which answers once the files are deleted
	exportPollFailures = 5                // transient failures of GET in a row before giving up
	progressBarWidth   = 20
)

// runExport is "aicc export": the environment gives the API's URL (AICC_URL) and a tenant-admin token
// (AICC_TOKEN).
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return exportCommand(ctx, args, os.Getenv, stdout, stderr)
}

// channelIDs is the repeatable --channel flag; a value may also list IDs separated by commas.
type channelIDs []string

func (c *channelIDs) String() string { return strings.Join(*c, ",") }

func (c *channelIDs) Set(v string) error {
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id == "" {
			return errors.New("empty channel ID")
		}
		*c = append(*c, id)
	}
	return nil
}

// exportRequest is the body of POST /v1/exports.
type exportRequest struct {
	ChannelIDs []string `json:"channelIds,omitempty"`
	Filter     struct {
		Status string `json:"status,omitempty"`
		Name   string `json:"name,omitempty"`
	} `json:"filter"`
	Format string `json:"format"`
}

// exportTask is what the API answers about an export.
type exportTask struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Format    string `json:"format"`
	ErrorCode string `json:"errorCode"`
	Progress  struct {
		RecordsDone int `json:"recordsDone"`
		Total       int `json:"total"`
		FilesDone   int `json:"filesDone"`
	} `json:"progress"`
	Files []aicc.ExportFile `json:"files"`
}

// exportCommand runs "aicc export" with the environment read through getenv.
func exportCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := newFlagSet("export", stderr)
	var channels channelIDs
	fs.Var(&channels, "channel", "export this channel `ID` (repeat, or separate IDs by commas); none: every channel the filters match")
	status := fs.String("status", "", "only channels in this `status` (active, verified, disabled, …)")
	name := fs.String("name", "", "only channels whose name contains this `text`, ignoring case")
	format := fs.String("format", string(aicc.ExportCSV), "file format: csv, xlsx or jsonl")
	var output string
	fs.StringVar(&output, "o", "", "write the zip to `FILE` (default export-<id>.zip in the current directory)")
	fs.StringVar(&output, "output", "", "write the zip to `FILE`, as -o")
	poll := fs.Duration("poll", DefaultExportPoll, "how often to ask for the progress")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: aicc export [--channel ID]... [--status S] [--name N] [--format csv|xlsx|jsonl] [-o FILE] [--poll 1s]\n\n"+
			"Starts an export of the tenant's channels through the REST API at AICC_URL (default "+DefaultAPIURL+")\n"+
			"with the tenant-admin token in AICC_TOKEN, shows its progress and downloads its zip. Ctrl-C cancels it.\n\n")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stderr); !ok {
		return code
	}
	var problem string
	switch {
	case !aicc.ExportFormat(*format).Valid():
		problem = fmt.Sprintf("--format must be csv, xlsx or jsonl, got %q", *format)
	case *poll < minExportPoll:
		problem = fmt.Sprintf("--poll must be at least %s, got %s", minExportPoll, *poll)
	case output != "":
		// Checked before the export starts rather than after it ran.
		if fi, err := os.Stat(filepath.Dir(output)); err != nil || !fi.IsDir() {
			problem = fmt.Sprintf("--output %s: the directory %s does not exist", output, filepath.Dir(output))
		}
	}
	if problem != "" {
		fmt.Fprintf(stderr, "aicc export: %s\n", problem)
		fs.Usage()
		return exitUsage
	}
	base, err := apiBaseURL(getenv("AICC_URL"))
	if err != nil {
		fmt.Fprintf(stderr, "aicc export: AICC_URL %v\n", err)
		return exitUsage
	}
	token := strings.TrimSpace(getenv("AICC_TOKEN"))
	if token == "" {
		fmt.Fprintln(stderr, "aicc export: AICC_TOKEN is required: a tenant-admin token (aicc tokens create --tenant ID --role tenant-admin)")
		return exitUsage
	}
	req := exportRequest{ChannelIDs: channels, Format: *format}
	req.Filter.Status, req.Filter.Name = *status, *name
	c := &exportClient{
		base: base, token: token, http: &http.Client{}, poll: *poll, stdout: stdout, stderr: stderr,
		bar: &progressBar{w: stderr, terminal: isTerminal(stderr)},
	}
	return c.run(ctx, req, output)
}

// apiBaseURL checks AICC_URL, an http(s) URL of the API without a query, and trims its trailing slash.
func apiBaseURL(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return DefaultAPIURL, nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must be the API's base URL, such as " + DefaultAPIURL)
	}
	if u.User != nil {
		return "", errors.New("must not carry credentials: the token goes in AICC_TOKEN")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// exportClient calls the export routes of the API as one tenant.
type exportClient struct {
	base   string
	token  string
	http   *http.Client
	poll   time.Duration
	stdout io.Writer
	stderr io.Writer
	bar    *progressBar
}

// run starts the export, follows it and downloads it to output. ctx ends on Ctrl-C: the export is then
// cancelled, which deletes what it wrote, and the command exits exitInterrupted.
func (c *exportClient) run(ctx context.Context, req exportRequest, output string) int {
	// The start is not bound to ctx: an export the API created while Ctrl-C was pressed is cancelled, not
	// left behind unnamed.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportCallTimeout)
	var e exportTask
	err := c.call(cctx, http.MethodPost, "/v1/exports", req, &e)
	cancel()
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(c.stdout, e.ID)
	if output == "" {
		output = "export-" + e.ID + ".zip"
	}
	if ctx.Err() != nil {
		return c.interrupted(ctx, e.ID)
	}
	if code, ok := c.follow(ctx, &e); !ok {
		return code
	}
	size, err := c.download(ctx, &e, output)
	switch {
	case ctx.Err() != nil:
		return c.interrupted(ctx, e.ID)
	case err != nil:
		return c.fail(err)
	}
	fmt.Fprintf(c.stderr, "aicc export: wrote %s (%s bytes: %s records in %s)\n", output, thousands(int(size)),
		thousands(e.Progress.RecordsDone), plural(len(e.Files), "file"))
	fmt.Fprintln(c.stdout, output)
	return exitOK
}

// follow polls the export until it succeeded, drawing its progress. It returns false with the exit code when
// the command must stop: the export failed, was cancelled or expired, the API failed, or Ctrl-C.
func (c *exportClient) follow(ctx context.Context, e *exportTask) (int, bool) {
	failures := 0
	for {
		c.bar.draw(e)
		switch aicc.ExportStatus(e.Status) {
		case aicc.ExportSuccess:
			c.bar.end()
			return exitOK, true
		case aicc.ExportFailed:
			c.bar.end()
			fmt.Fprintf(c.stderr, "aicc export: export %s failed: %s\n", e.ID, cmp.Or(e.ErrorCode, aicc.EINTERNAL))
			return exitError, false
		case aicc.ExportCancelled, aicc.ExportExpired:
			c.bar.end()
			fmt.Fprintf(c.stderr, "aicc export: export %s is %s: there is nothing to download\n", e.ID, e.Status)
			return exitError, false
		}
		select {
		case <-ctx.Done():
			c.bar.end()
			return c.interrupted(ctx, e.ID), false
		case <-time.After(c.poll):
		}
		var next exportTask
		cctx, cancel := context.WithTimeout(ctx, exportCallTimeout)
		err := c.call(cctx, http.MethodGet, "/v1/exports/"+url.PathEscape(e.ID), nil, &next)
		cancel()
		switch {
		case ctx.Err() != nil:
			c.bar.end()
			return c.interrupted(ctx, e.ID), false
		case err != nil && transient(err) && failures < exportPollFailures:
			failures++
			continue
		case err != nil:
			c.bar.end()
			return c.fail(err), false
		}
		failures = 0
		*e = next
	}
}

// download writes the export's zip to path: into a temporary file in the same directory, checked against
// Content-Length and against the manifest's SHA-256 of every file, then renamed into place, so path is never
// a partial zip. It returns the zip's size.
func (c *exportClient) download(ctx context.Context, e *exportTask, path string) (int64, error) {
	req, err := c.request(ctx, http.MethodGet, "/v1/exports/"+url.PathEscape(e.ID)+"/download", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, responseError(resp)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, err
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, resp.Body)
	if err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return 0, fmt.Errorf("download: got %d bytes, the API announced %d", n, resp.ContentLength)
	}
	if err := tmp.Sync(); err != nil {
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := checkExportZip(tmp.Name(), e.Files); err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	renamed = true
	return n, nil
}

// checkExportZip checks the zip at path: its manifest.json lists the files the API listed, and each file in the
// zip has the size and SHA-256 the manifest gives.
func checkExportZip(path string, want []aicc.ExportFile) error {
	z, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("not a zip: %w", err)
	}
	defer z.Close()
	entries := map[string]*zip.File{}
	for _, f := range z.File {
		entries[f.Name] = f
	}
	mf := entries[export.ManifestName]
	if mf == nil {
		return errors.New("the zip has no " + export.ManifestName)
	}
	raw, err := readZipEntry(mf)
	if err != nil {
		return err
	}
	var m export.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("%s: %w", export.ManifestName, err)
	}
	if !slices.Equal(m.Files, want) {
		return fmt.Errorf("%s lists other files than the API", export.ManifestName)
	}
	for _, f := range m.Files {
		entry := entries[f.Name]
		if entry == nil {
			return fmt.Errorf("the zip has no %s", f.Name)
		}
		b, err := readZipEntry(entry)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if int64(len(b)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
			return fmt.Errorf("%s does not match its size and SHA-256 in %s", f.Name, export.ManifestName)
		}
	}
	return nil
}

// readZipEntry reads one entry of a zip; an entry holds at most one file of aicc.MaxExportFileRecords records.
func readZipEntry(f *zip.File) ([]byte, error) {
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	return b, nil
}

// interrupted cancels the export after Ctrl-C, which deletes what it wrote, and returns exitInterrupted.
func (c *exportClient) interrupted(ctx context.Context, id string) int {
	fmt.Fprintf(c.stderr, "aicc export: interrupted; cancelling export %s\n", id)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportCancelWait)
	defer cancel()
	var e exportTask
	if err := c.call(cctx, http.MethodPost, "/v1/exports/"+url.PathEscape(id)+"/cancel", nil, &e); err != nil {
		fmt.Fprintf(c.stderr, "aicc export: cancel: %s", errorText(err))
	} else {
		fmt.Fprintf(c.stderr, "aicc export: export %s is %s; its files are deleted\n", id, e.Status)
	}
	return exitInterrupted
}

// fail prints err and returns exitError.
func (c *exportClient) fail(err error) int {
	fmt.Fprintf(c.stderr, "aicc export: %s", errorText(err))
	return exitError
}

// call sends a JSON request to the API and decodes a 2xx answer into out; any other answer is an *apiError.
func (c *exportClient) call(ctx context.Context, method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := c.request(ctx, method, path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: the answer is not an export: %w", method, path, err)
	}
	return nil
}

// request returns a request to the API with the token. Errors never show the request's headers.
func (c *exportClient) request(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "aicc-export/"+version)
	return req, nil
}

// apiError is an error answer of the API: {"error": {"code", "message", "fields"}}.
type apiError struct {
	Status    int
	Code      string
	Message   string
	Fields    map[string]string
	RequestID string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// responseError reads an answer that is not a success.
func responseError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	e := &apiError{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID")}
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Fields = body.Error.Code, body.Error.Message, body.Error.Fields
	} else {
		e.Code, e.Message = "HTTP_"+strconv.Itoa(resp.StatusCode), http.StatusText(resp.StatusCode)+" (not an answer of the aicc API)"
	}
	return e
}

// errorText is err as the command prints it, ending in a newline: an API error as "CODE: message", each field
// error on a line of its own, and the request ID of an internal error.
func errorText(err error) string {
	var e *apiError
	if !errors.As(err, &e) {
		return err.Error() + "\n"
	}
	var b strings.Builder
	b.WriteString(e.Error() + "\n")
	fields := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		fmt.Fprintf(&b, "  %s: %s\n", f, e.Fields[f])
	}
	if e.Status >= 500 && e.RequestID != "" {
		fmt.Fprintf(&b, "  (request ID %s)\n", e.RequestID)
	}
	return b.String()
}

// transient reports whether a failed GET may succeed if asked again: the network, or the API or a proxy in
// front of it unavailable for a moment.
func transient(err error) bool {
	var e *apiError
	if errors.As(err, &e) {
		return e.Status == http.StatusBadGateway || e.Status == http.StatusServiceUnavailable || e.Status == http.StatusGatewayTimeout
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, context.DeadlineExceeded)
}

// progressBar draws an export's progress on stderr: on a terminal one line redrawn in place, otherwise a line
// per change, so a log holds each step once.
type progressBar struct {
	w        io.Writer
	terminal bool
	last     string
	drawn    bool // a line is on the terminal without its newline
}

func (p *progressBar) draw(e *exportTask) {
	line := progressLine(e)
	if line == p.last {
		return
	}
	if p.terminal {
		pad := max(0, len(p.last)-len(line))
		fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
		p.drawn = true
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.last = line
}

// end ends the line a terminal shows.
func (p *progressBar) end() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// progressLine is "[########............] 4,000/10,000 records, 2 files", with the status after it unless the
// export is running or done.
func progressLine(e *exportTask) string {
	done, total := e.Progress.RecordsDone, e.Progress.Total
	filled := 0
	switch {
	case total > 0:
		filled = min(progressBarWidth, done*progressBarWidth/total)
	case e.Status == string(aicc.ExportSuccess):
		filled = progressBarWidth
	}
	line := fmt.Sprintf("[%s%s] %s/%s records, %s", strings.Repeat("#", filled), strings.Repeat(".", progressBarWidth-filled),
		thousands(done), thousands(total), plural(e.Progress.FilesDone, "file"))
	if e.Status != string(aicc.ExportRunning) && e.Status != string(aicc.ExportSuccess) {
		line += " (" + e.Status + ")"
	}
	return line
}

// thousands writes n in base 10 with a comma between groups of three digits: 10,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// plural is "1 file", "2 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

// isTerminal reports whether w is a terminal (a character device), where the progress bar redraws in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
