package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// chromium finds Debian's headless browser; .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium: .ci/run installs Debian's chromium for this check")
	return ""
}

// A browser at /docs gets the API reference, rendered offline from the embedded files: every route of the spec
// is on the page. The index at / links to it.
func TestDocsInABrowser(t *testing.T) {
	browser := chromium(t)
	h := newHarness(t)
	srv := httptest.NewServer(h.handler)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	index, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(index), `href="/docs"`)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-dev-shm-usage", "--virtual-time-budget=20000", "--dump-dom", srv.URL+"/docs").Output()
	if err != nil {
		t.Fatalf("%s: %v", browser, err)
	}
	page := string(out)
	for path := range h.doc.Paths.Map() {
		if !strings.Contains(page, path) {
			t.Errorf("the rendered reference does not show %s", path)
		}
	}
}
