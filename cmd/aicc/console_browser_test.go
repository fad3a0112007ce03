package main

// The admin console (console/, issue 15) in a real browser: Debian's chromium, driven over the DevTools
// protocol by chromedp, against aicc dev --fake-meta in this process. The test finds controls the way a
// person does, by their label and button text (the seed's words), and runs axe-core on the main screens.

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/aiccfb/aicc"
)

// Variables of the browser tests. CI sets AICC_BROWSER_TESTS=1, which turns a missing chromium or axe-core
// from a skip into a failure.
const (
	envBrowserTests  = "AICC_BROWSER_TESTS"
	envAxeJS         = "AICC_AXE_JS"         // path of axe.min.js (axe-core from npm)
	envScreenshotDir = "AICC_SCREENSHOT_DIR" // where each step's screenshot goes; default a temporary directory
)

// updateConsoleScreenshot makes TestConsoleInABrowser write the README's screenshot of the channel list.
var updateConsoleScreenshot = flag.Bool("update-console-screenshot", false,
	"write docs/console-channels.png, the README's screenshot of the console's channel list")

// consoleStepTimeout bounds one browser step: a click, a wait for a text, an axe run. The flow itself has
// no time limit beyond go test's.
const consoleStepTimeout = time.Minute

// workflowTimeout bounds the wait for a workflow the console started to finish (an export of two channels, a
// channel's deletion), on a busy machine.
const workflowTimeout = 3 * time.Minute

// TestConsoleInABrowser follows the seed's procedure in the console, as issue 15's acceptance lists it: sign
// in, create an OU and a skill queue, run the wizard with a deliberate field error and its fix, answer Meta's
// verification with the code the page shows, add the Page, Submit, rotate the App Secret and the Token Secret,
// export all channels and download the zip; then a viewer sees no write control, and signing out forgets the
// token. Every step leaves a screenshot; axe-core checks the main screens.
func TestConsoleInABrowser(t *testing.T) {
	exe := chromiumPath(t)
	axe := axeScript(t)
	start := time.Now()
	d := startConsoleDev(t)
	b := newConsoleBrowser(t, exe, d.adminURL+"/console/", axe)
	t.Logf("aicc dev and chromium started in %s; screenshots in %s", time.Since(start).Round(time.Millisecond), b.shots)

	// Sign in as the tenant administrator.
	b.do("open the console", chromedp.Navigate(b.base))
	b.waitHeading("Sign in")
	b.screenshot("sign-in")
	b.checkAccessibility("sign-in")
	b.signIn(d.tokens.TenantAdmin)
	b.waitHeading("Channels")
	b.screenshot("channels-empty")

	// Directory: an OU, and a skill queue in it, for the channel's basic configuration.
	b.goTo("#/directory", "Directory")
	b.fill("OU name", "Support")
	b.click("Create OU")
	b.waitText("OU Support is created.")
	b.fill("Skill queue name", "Messenger")
	b.fill("Access code", "1001")
	b.choose("OU", "Support")
	b.click("Create skill queue")
	b.waitText("Skill queue Messenger is created.")
	b.screenshot("directory")
	b.checkAccessibility("Directory")

	// A first channel, through the API, with the fake Meta's app: its onboarding waits for Meta. Cancelled,
	// then deleted, each behind a confirmation; its deletion frees the app for the channel the wizard creates.
	trialID := d.createChannel(t, "fb_trial", FakeMetaAppID, FakeMetaAppSecret)
	b.goTo("#/channels/"+trialID, "Channel fb_trial")
	b.waitText("Waiting for Meta's verification of the callback URL")
	b.click("Cancel the onboarding")
	b.click("Cancel onboarding")
	b.waitText("The onboarding was cancelled.")
	b.waitText("Onboarding cancelled") // the audit log's new entry
	b.screenshot("onboarding-cancelled")
	b.click("Delete channel fb_trial")
	b.screenshot("delete-channel")
	b.checkAccessibility("the deletion's confirmation")
	b.click("Delete")
	b.waitHeading("Channels")
	d.waitChannelGone(t, trialID)

	// Newly created: the three steps, with a Channel Name the seed's rule refuses (it must start with a letter
	// or an underscore) and the robot on without a transfer keyword; each of the API's errors shows next to its
	// field, on its step, and the fixes go through.
	b.goTo("#/channels", "Channels")
	b.click("Newly created")
	b.waitHeading("Newly created")
	b.waitHeading("Channel information")
	b.fill("App ID", FakeMetaAppID)
	b.fill("App Secret", FakeMetaAppSecret)
	// SHA-1 brings the seed's warning; SHA-256 takes it away.
	b.choose("Interconnection Encryption Algorithm", "SHA-1")
	b.waitText("SHA-1 is not strong enough")
	b.choose("Interconnection Encryption Algorithm", "SHA-256")
	b.do("the SHA-1 warning goes", chromedp.WaitNotPresent(visible(textOnPage("SHA-1 is not strong enough"))))
	b.screenshot("wizard-channel-information")
	b.checkAccessibility("wizard, Channel information")
	b.click("Next")
	b.waitHeading("Basic configuration")
	b.fill("Channel Name", "1st_support")
	b.choose("OU Configuration", "Support")
	b.choose("Skill Queue", "Messenger")
	// Agent Work Time: a second workday segment (New), then Remove takes it away again.
	b.do("add a workday time segment", chromedp.Click(visible(`//button[@aria-label='New workday time segment']`), chromedp.NodeVisible))
	b.fill("Workday 2 start", "19:00")
	b.do("remove it", chromedp.Click(visible(`//button[@aria-label='Remove workday time segment 2']`), chromedp.NodeVisible),
		chromedp.WaitNotPresent(labelled("Workday 2 start")))
	// A non-workday segment that ends before it starts, below the blank first row, which is not sent: the API's
	// error names the first segment it got, and it shows on the second row, where the user wrote it.
	b.do("add a non-workday time segment", chromedp.Click(visible(`//button[@aria-label='New non-workday time segment']`), chromedp.NodeVisible))
	b.fill("Non-workday 2 start", "18:00")
	b.fill("Non-workday 2 end", "09:00")
	b.click("Next")
	b.waitHeading("Robot configuration")
	// The intelligent robot on (aicc dev's built-in one) without a Keyword for Transfer to Agent: the seed's
	// rule makes it a second error, on this step.
	b.do("connect the intelligent robot", chromedp.Click(labelled("Connecting to the Intelligent Robot"), chromedp.NodeVisible))
	b.fill("Robot access code", "builtin")
	b.fill("Robot name", "Aicc robot")
	b.click("The next step")
	b.waitHeading("Basic configuration") // back on the first step with a field in error
	b.do("wait for the field error", chromedp.WaitVisible(visible(`//*[@aria-invalid='true']`)))
	if msg := b.fieldError("Channel Name"); msg == "" {
		b.fail("the API's error on the Channel Name is not shown next to the field")
	} else {
		t.Logf("the Channel Name's error, next to the field: %q", msg)
	}
	if blank, wrong := b.fieldError("Non-workday 1 start"), b.fieldError("Non-workday 2 start"); blank != "" || wrong == "" {
		b.fail("the non-workday segment's error shows on row 1 (%q) and row 2 (%q); want it on row 2 alone", blank, wrong)
	}
	b.screenshot("wizard-field-error")
	b.checkAccessibility("wizard, a field in error")
	b.fill("Channel Name", "fb_support")
	b.do("remove the wrong non-workday segment", chromedp.Click(visible(`//button[@aria-label='Remove non-workday time segment 2']`),
		chromedp.NodeVisible), chromedp.WaitNotPresent(labelled("Non-workday 2 start")))
	b.click("Next")
	b.waitHeading("Robot configuration")
	if msg := b.fieldError("Keyword for Transfer to Agent"); msg == "" {
		b.fail("the API's error on the Keyword for Transfer to Agent is not shown next to the field")
	} else {
		t.Logf("the Keyword for Transfer to Agent's error, next to the field: %q", msg)
	}
	b.fill("Keyword for Transfer to Agent", "agent, human")
	b.click("The next step")

	// The next step: the callback URL and the verification code to paste into Meta, with copy buttons. Here
	// the test plays Meta and verifies the callback URL on the public listener; the page notices by itself.
	b.waitHeading("The next step")
	callbackURL, verifyToken := b.value("Callback URL"), b.value("Verification code")
	for _, copyButton := range []string{"Copy callback URL", "Copy verification code"} {
		if b.count(button(copyButton)) != 1 {
			b.fail("no %q button beside the value", copyButton)
		}
	}
	b.waitText("Waiting for Meta's verification")
	b.screenshot("the-next-step")
	b.checkAccessibility("The next step")
	if !strings.HasPrefix(callbackURL, d.publicURL+"/webhooks/facebook/ch_") || verifyToken == "" {
		b.fail("The next step shows the callback URL %q and the code %q", callbackURL, verifyToken)
	}
	channelID := strings.TrimPrefix(callbackURL, d.publicURL+"/webhooks/facebook/")
	verifyAsMeta(t, callbackURL, verifyToken)
	b.waitText("Meta verified the callback URL")

	// Pages: Create with the fake's Page ID and TokenSecret; then Submit makes the access successful.
	b.click("Create")
	b.fill("Page ID", FakeMetaPageID)
	b.fill("TokenSecret", FakeMetaPageToken)
	b.screenshot("page-create")
	b.click("Save")
	b.waitText("Page " + FakeMetaPageID + " is subscribed")
	b.click("Submit")
	b.waitHeading("Successful access")
	b.screenshot("successful-access")

	// The channel page: Edit the App Secret, then Configuration gives the Page its new Token Secret, and the
	// rotation is complete. The fake Meta's app keeps its one secret, so the "new" App Secret is that one:
	// Meta accepts the Page's token only under the secret it knows.
	b.click("Open channel fb_support")
	b.waitHeading("Channel fb_support")
	b.waitText("Successful access")
	b.checkAccessibility("channel page")
	b.click("Edit")
	b.fill("App Secret", FakeMetaAppSecret)
	b.fill("Previous App Secret accepted for (hours)", "1")
	b.screenshot("app-secret-edit")
	b.click("Save")
	b.waitText("The App Secret is changed. 1 Page(s) still need a new Token Secret")
	b.waitRotation("Pages need a new token")
	b.click("Configuration")
	b.fill("Token Secret", FakeMetaPageToken)
	b.click("Save")
	b.waitText("Page " + FakeMetaPageID + " has its new Token Secret; Meta accepted it.")
	b.waitRotation("Complete")
	b.screenshot("rotation-complete")

	// Edit configuration sends only what the administrator changed: keywords another administrator changed
	// while the form was open are kept.
	b.click("Edit configuration")
	b.waitHeading("Edit configuration")
	channelPath := "/v1/channels/" + channelID
	keywords := []string{"agent", "human", "operator"}
	d.call(t, d.tokens.TenantAdmin, http.MethodPatch, channelPath, map[string]any{"basic": map[string]any{"transferKeywords": keywords}},
		http.StatusOK, nil)
	b.fill("Non-Working Time Notification", "Back at nine")
	b.click("Save configuration")
	b.waitText("Back at nine")
	var saved struct {
		Basic struct {
			NonWorkingTimeNotice string   `json:"nonWorkingTimeNotice"`
			TransferKeywords     []string `json:"transferKeywords"`
		} `json:"basic"`
	}
	d.call(t, d.tokens.TenantAdmin, http.MethodGet, channelPath, nil, http.StatusOK, &saved)
	if saved.Basic.NonWorkingTimeNotice != "Back at nine" || !slices.Equal(saved.Basic.TransferKeywords, keywords) {
		b.fail("after the console's save the channel holds %+v; want the notice saved and the other change kept", saved.Basic)
	}

	// A second channel, through the API, so that the list has more than one: an app the fake Meta does not
	// know, so its onboarding fails.
	d.createChannel(t, "fb_sales", "1234567890123499", "console-test-app-secret")
	b.goTo("#/channels", "Channels")
	b.waitText("fb_sales")
	if *updateConsoleScreenshot {
		b.saveViewport(filepath.Join("..", "..", "docs", "console-channels.png"))
	}

	// Export all channels from the channel list, watched to Success, then Download: a zip that opens.
	b.screenshot("channels")
	b.checkAccessibility("Channels")
	b.phoneWidth()
	b.click("Export all")
	b.waitText("Status:")
	b.doWithin(workflowTimeout, "wait for the export's Download", chromedp.WaitVisible(visible(button("Download"))))
	b.waitText("Status: Success")
	b.screenshot("export-done")
	b.checkAccessibility("export task")
	names := openZip(t, b.download("Download"))
	if !slices.Contains(names, "manifest.json") || !slices.Contains(names, "channels-0001.csv") {
		t.Errorf("the downloaded zip holds %v; want channels-0001.csv and manifest.json", names)
	}
	b.goTo("#/exports", "Exports")
	b.checkAccessibility("Exports")

	// The tenant's API tokens: a viewer's token created here, its value shown once; the viewer signs in with it
	// below.
	b.goTo("#/system", "API tokens")
	b.fill("Token name", "console viewer")
	b.choose("Role", "Viewer (read only)")
	b.click("Create token")
	b.waitText("Copy the token now: this is the only time it is shown.")
	viewer := b.value("API token console viewer")
	if !strings.HasPrefix(viewer, aicc.TokenPrefix) {
		b.fail("the new token shown is %q, not an API token", viewer)
	}
	b.screenshot("token-created")
	b.click("I have copied the token")

	// A viewer: the same screens, without a control that changes anything. The same check on the
	// administrator's channel list finds the write controls.
	b.goTo("#/channels", "Channels")
	if found := b.writeControls(); !slices.Contains(found, "Newly created") || !slices.Contains(found, "Export all") {
		b.fail("the write controls found on the administrator's channel list are %q", found)
	}
	b.signOut()
	b.signInWithKeyboard(viewer)
	b.waitHeading("Channels")
	for _, screen := range []struct{ route, title, step string }{
		{"#/channels", "Channels", "viewer-channels"},
		{"#/channels/" + channelID, "Channel fb_support", "viewer-channel"},
		{"#/new", "Newly created", "viewer-newly-created"},
		{"#/directory", "Directory", "viewer-directory"},
		{"#/exports", "Exports", "viewer-exports"},
	} {
		b.goTo(screen.route, screen.title)
		b.screenshot(screen.step)
		if found := b.writeControls(); len(found) > 0 {
			b.fail("a viewer sees write controls on %s: %q", screen.title, found)
		}
	}
	b.signOut()

	// The sysadmin's System screen, where a tenant is created.
	b.signIn(d.tokens.Sysadmin)
	b.waitHeading("System")
	b.fill("Tenant name", "Acme")
	b.click("Create tenant")
	b.waitText("Tenant Acme is created.")
	b.screenshot("system")
	b.checkAccessibility("System")
	b.signOut()
	t.Logf("the browser test took %s", time.Since(start).Round(time.Millisecond))
}

// verifyAsMeta does what Meta does when the callback URL is saved in Meta for Developers: a GET with
// hub.mode=subscribe, the verification code and a challenge, which must come back as the body.
func verifyAsMeta(t *testing.T, callbackURL, verifyToken string) {
	t.Helper()
	challenge := strconv.FormatInt(time.Now().UnixNano(), 10)
	u, err := url.Parse(callbackURL)
	if err != nil {
		t.Fatal(err)
	}
	u.RawQuery = url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {verifyToken}, "hub.challenge": {challenge}}.Encode()
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != challenge {
		t.Fatalf("Meta's verification = %d %q, want 200 %q", resp.StatusCode, body, challenge)
	}
}

// browserTestsRequired reports whether AICC_BROWSER_TESTS=1 demands that the browser tests run.
func browserTestsRequired() bool { return os.Getenv(envBrowserTests) == "1" }

// chromiumPath finds Debian's chromium (.ci/run installs it); the test is skipped without one, unless
// AICC_BROWSER_TESTS=1.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if browserTestsRequired() {
		t.Fatalf("no chromium, and %s=1 requires the browser tests: .ci/run installs Debian's chromium", envBrowserTests)
	}
	t.Skip("no chromium: .ci/run installs Debian's chromium for the console's browser tests")
	return ""
}

// axeScript is the contents of axe.min.js named by AICC_AXE_JS, or "" (the accessibility checks are then
// skipped) when it is unset and AICC_BROWSER_TESTS is not 1.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv(envAxeJS)
	if path == "" {
		if browserTestsRequired() {
			t.Fatalf("%s is unset and %s=1 requires the accessibility checks: .ci/run fetches axe-core", envAxeJS, envBrowserTests)
		}
		t.Logf("%s is unset: the accessibility checks (axe-core) are skipped; .ci/run fetches axe-core", envAxeJS)
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", envAxeJS, err)
	}
	return string(b)
}

// consoleDev is aicc dev --fake-meta running in this process on free ports, with a data directory of its own.
type consoleDev struct {
	adminURL  string // the admin listener: the API and the console
	publicURL string // the public listener: Meta's webhooks
	tokens    devTokens
}

// startConsoleDev starts aicc dev --fake-meta and stops it when the test ends.
func startConsoleDev(t *testing.T) *consoleDev {
	t.Helper()
	dir := t.TempDir()
	cfg := devTestConfig(t, dir, nil)
	cfg.FakeMeta = true
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- dev(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("aicc dev: %v", err)
		}
	})
	eventually(t, 2*time.Minute, "aicc dev running", func() bool {
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("aicc dev stopped: %v", err)
		default:
		}
		return strings.Contains(out.String(), "aicc dev is running")
	})
	d := &consoleDev{adminURL: "http://" + cfg.HTTPAddr, publicURL: "http://" + cfg.PublicAddr}
	b, err := os.ReadFile(filepath.Join(dir, devTokensFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d.tokens); err != nil {
		t.Fatalf("%s: %v", devTokensFile, err)
	}
	return d
}

// call sends an API request with the token and decodes a JSON answer into out (when not nil); any status
// but want fails the test.
func (d *consoleDev) call(t *testing.T, token, method, path string, body any, want int, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, d.adminURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, got, want)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, got)
		}
	}
}

// createChannel creates a channel of the app with the tenant's first OU and skill queue, and returns its ID.
func (d *consoleDev) createChannel(t *testing.T, name, appID, appSecret string) string {
	t.Helper()
	var ous, queues struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	var created struct {
		Channel struct {
			ID string `json:"id"`
		} `json:"channel"`
	}
	d.call(t, d.tokens.TenantAdmin, http.MethodGet, "/v1/ous?limit=1", nil, http.StatusOK, &ous)
	d.call(t, d.tokens.TenantAdmin, http.MethodGet, "/v1/skill-queues?limit=1", nil, http.StatusOK, &queues)
	if len(ous.Items) == 0 || len(queues.Items) == 0 {
		t.Fatalf("no OU or skill queue to create channel %s with", name)
	}
	d.call(t, d.tokens.TenantAdmin, http.MethodPost, "/v1/channels", map[string]any{
		"name": name, "appId": appID, "appSecret": appSecret, "algorithm": "sha256",
		"basic": map[string]any{"ouId": ous.Items[0].ID, "skillQueueId": queues.Items[0].ID,
			"workTime": map[string]any{"workday": []map[string]string{{"start": "08:00", "end": "20:00"}}}},
	}, http.StatusCreated, &created)
	if created.Channel.ID == "" {
		t.Fatalf("POST /v1/channels answered no channel ID for %s", name)
	}
	return created.Channel.ID
}

// waitChannelGone waits until the channel answers 404: its deletion has finished.
func (d *consoleDev) waitChannelGone(t *testing.T, channelID string) {
	t.Helper()
	deadline := time.Now().Add(workflowTimeout)
	for {
		req, err := http.NewRequest(http.MethodGet, d.adminURL+"/v1/channels/"+channelID, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+d.tokens.TenantAdmin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotFound:
			return
		case resp.StatusCode != http.StatusOK:
			t.Fatalf("GET /v1/channels/%s = %d while it is being deleted, want 200 or 404", channelID, resp.StatusCode)
		case time.Now().After(deadline):
			t.Fatalf("channel %s is still there %s after the console deleted it", channelID, workflowTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consoleBrowser is one headless chromium tab on the console, with the helpers the flow reads like a person's
// steps with.
type consoleBrowser struct {
	t         *testing.T
	ctx       context.Context // the tab's
	base      string          // the console's URL, ending in /console/
	axe       string          // axe.min.js, or "" when the accessibility checks are skipped
	shots     string          // screenshot directory
	downloads string          // where the browser saves downloads
	step      int             // the screenshots' counter
}

// newConsoleBrowser starts chromium with a fresh profile. Its flags keep it from reaching for the network on
// its own (updates, sync, QUIC probes), which this machine's closed network refuses.
func newConsoleBrowser(t *testing.T, exe, base, axe string) *consoleBrowser {
	t.Helper()
	shots := os.Getenv(envScreenshotDir)
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &consoleBrowser{t: t, ctx: ctx, base: base, axe: axe, shots: shots, downloads: t.TempDir()}
	// The first Run starts the browser and binds it to ctx: it gets no timeout of its own. The page gets
	// 1280×800 (the window's own chrome would take some of it), and downloads go to b.downloads.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.downloads, EventsEnabled: new(true),
		})
		return err
	})); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return b
}

// do runs the actions within consoleStepTimeout; a failure saves a screenshot and fails the test.
func (b *consoleBrowser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.doWithin(consoleStepTimeout, what, actions...)
}

// doWithin is do with another time limit.
func (b *consoleBrowser) doWithin(limit time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, limit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// fail saves the page as it is, for the failure's screenshot, and fails the test.
func (b *consoleBrowser) fail(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if name, err := b.save("failed"); err == nil {
		msg += " (screenshot " + name + ")"
	}
	b.t.Fatal(msg)
}

// screenshot saves the whole page as NN-step.png in the screenshot directory.
func (b *consoleBrowser) screenshot(step string) {
	b.t.Helper()
	if _, err := b.save(step); err != nil {
		b.t.Fatalf("screenshot %s: %v", step, err)
	}
}

// saveViewport saves what the page's 1280×800 viewport shows as a PNG at path.
func (b *consoleBrowser) saveViewport(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, consoleStepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("screenshot of the window: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("wrote %s (%d bytes)", path, len(png))
}

func (b *consoleBrowser) save(step string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, consoleStepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", err
	}
	b.step++
	name := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.step, step))
	return name, os.WriteFile(name, png, 0o644)
}

// xpathLiteral quotes s for XPath 1.0, which has no escapes: concat() joins the parts around a quote.
func xpathLiteral(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	parts := strings.Split(s, "'")
	return "concat('" + strings.Join(parts, `', "'", '`) + "')"
}

// button is the XPath of a button (or a link) whose text is exactly text.
func button(text string) string {
	return fmt.Sprintf(`//*[self::button or self::a or @role='button'][normalize-space()=%s]`, xpathLiteral(text))
}

// heading is the XPath of a heading whose text is exactly text.
func heading(text string) string {
	return fmt.Sprintf(`//*[self::h1 or self::h2 or self::h3 or @role='heading'][normalize-space()=%s]`, xpathLiteral(text))
}

// textOnPage is the XPath of the innermost elements whose text holds text.
func textOnPage(text string) string {
	lit := xpathLiteral(text)
	return fmt.Sprintf(`//body//*[contains(normalize-space(), %s) and not(*[contains(normalize-space(), %s)])]`, lit, lit)
}

// visibleJS is the script of a function returning whether an element is rendered (has a box).
const visibleJS = `(el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')`

// visible selects the first rendered element the XPath expression matches; hidden matches (a closed dialog's
// buttons) do not count.
func visible(xpath string) chromedp.JSPath {
	q := jsString(xpath)
	return chromedp.JSPath(`(() => { const r = document.evaluate(` + q + `, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
  for (let i = 0; i < r.snapshotLength; i++) { const el = r.snapshotItem(i); if (` + visibleJS + `(el)) return el; } return null; })()`)
}

// labelled selects the first rendered form control labelled text through its own labels (a <label for> or a
// wrapping <label>), as assistive technology finds it: the label's text must be text, or start with it and go
// on with no letter or digit (the " *" of a required field).
func labelled(text string) chromedp.JSPath {
	q := jsString(text)
	return chromedp.JSPath(`(() => {
  const want = ` + q + `, norm = s => s.replace(/\s+/g, ' ').trim();
  const controls = [...document.querySelectorAll('input, select, textarea')].filter(` + visibleJS + `);
  const names = c => [...(c.labels || [])].map(l => norm(l.textContent));
  return controls.find(c => names(c).includes(want)) || controls.find(c => names(c).some(t =>
    t.startsWith(want) && !/^[\p{L}\p{N}]/u.test(t.slice(want.length).trim()))) || null;
})()`)
}

// click clicks the button (or link) with this text.
func (b *consoleBrowser) click(text string) {
	b.t.Helper()
	b.do("click "+strconv.Quote(text), chromedp.Click(visible(button(text)), chromedp.NodeVisible))
}

// fill replaces the value of the field labelled label by typing the new one, as a person would.
func (b *consoleBrowser) fill(label, value string) {
	b.t.Helper()
	sel := labelled(label)
	b.do("fill "+strconv.Quote(label),
		chromedp.WaitVisible(sel),
		// Empty the field first, through its input event, so that the screen's state follows.
		chromedp.Evaluate[chromedp.Void](callOn(sel, `function() { this.value = ''; this.dispatchEvent(new Event('input', {bubbles: true})); }`)),
		chromedp.SendKeys(sel, value),
	)
}

// choose picks the option with this text in the select labelled label, waiting for the option to be there
// (the screens load their options).
func (b *consoleBrowser) choose(label, option string) {
	b.t.Helper()
	withOption := chromedp.JSPath(`(() => { const el = ` + string(labelled(label)) + `;
  return el && [...el.options].some(o => o.textContent.replace(/\s+/g, ' ').trim() === ` + jsString(option) + `) ? el : null; })()`)
	b.do("choose "+strconv.Quote(option)+" in "+strconv.Quote(label), chromedp.WaitVisible(withOption),
		chromedp.Evaluate[chromedp.Void](callOn(withOption, `function() {
  this.value = [...this.options].find(o => o.textContent.replace(/\s+/g, ' ').trim() === `+jsString(option)+`).value;
  this.dispatchEvent(new Event('input', {bubbles: true}));
  this.dispatchEvent(new Event('change', {bubbles: true}));
}`)))
}

// callOn is the script that calls fn with this set to the element sel selects, failing when there is none.
func callOn(sel chromedp.JSPath, fn string) string {
	return `(() => { const el = ` + string(sel) + `; if (!el) throw new Error('no such element');
  return (` + fn + `).call(el); })()`
}

// valueOf runs fn with this set to the control labelled label and returns its result as JSON text.
func (b *consoleBrowser) valueOf(label, fn string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, consoleStepTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](callOn(labelled(label), fn)))
	if err != nil {
		b.fail("read %s: %v", label, err)
	}
	return string(raw)
}

// value is the current value of the field labelled label.
func (b *consoleBrowser) value(label string) string {
	b.t.Helper()
	var v string
	if err := json.Unmarshal([]byte(b.valueOf(label, `function() { return this.value; }`)), &v); err != nil {
		b.fail("value of %s: %v", label, err)
	}
	return v
}

// fieldError is the error text shown with the field labelled label (the element its aria-describedby names
// that is not its hint), or "" when the field is not marked invalid.
func (b *consoleBrowser) fieldError(label string) string {
	b.t.Helper()
	var v string
	raw := b.valueOf(label, `function() {
  if (this.getAttribute('aria-invalid') !== 'true') return '';
  return (this.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean)
    .map(id => document.getElementById(id)).filter(el => el && !el.classList.contains('hint') && `+visibleJS+`(el))
    .map(el => el.textContent.replace(/\s+/g, ' ').trim()).join(' ');
}`)
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		b.fail("error of %s: %v", label, err)
	}
	return v
}

// eval evaluates a script in the page, awaiting a promise, and returns its result as JSON text.
func (b *consoleBrowser) eval(script string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, consoleStepTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](script, chromedp.EvalAwaitPromise))
	return string(raw), err
}

// waitText waits until text is shown on the page.
func (b *consoleBrowser) waitText(text string) {
	b.t.Helper()
	b.do("wait for "+strconv.Quote(text), chromedp.WaitVisible(visible(textOnPage(text))))
}

// waitHeading waits for a heading with exactly this text.
func (b *consoleBrowser) waitHeading(text string) {
	b.t.Helper()
	b.do("wait for the heading "+strconv.Quote(text), chromedp.WaitVisible(visible(heading(text))))
}

// goTo goes to a console route ("#/directory") as a link in the page would, and waits for its heading and
// for its first loads to end (no "Loading…" left).
func (b *consoleBrowser) goTo(route, title string) {
	b.t.Helper()
	b.do("go to "+route, chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString(route)))
	b.waitHeading(title)
	b.do("wait for "+route+" to load", chromedp.WaitNotPresent(chromedp.CSS("main .spinner")))
}

// count is the number of rendered elements the XPath expression matches.
func (b *consoleBrowser) count(xpath string) int {
	b.t.Helper()
	q := jsString(xpath)
	n, err := b.eval(`(() => { const r = document.evaluate(` + q + `, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
  let n = 0; for (let i = 0; i < r.snapshotLength; i++) if (` + visibleJS + `(r.snapshotItem(i))) n++; return n; })()`)
	if err != nil {
		b.fail("count %s: %v", xpath, err)
	}
	c, _ := strconv.Atoi(n)
	return c
}

// axeViolation is the part of an axe-core result the report needs.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// checkAccessibility runs axe-core on the page as it is and fails on any serious or critical violation,
// naming each with its rule, help and the first elements it found.
func (b *consoleBrowser) checkAccessibility(screen string) {
	b.t.Helper()
	if b.axe == "" {
		return
	}
	if _, err := b.eval(`typeof axe === 'object' || (() => { ` + b.axe + `
; return true })()`); err != nil {
		b.fail("inject axe-core on %s: %v", screen, err)
	}
	raw, err := b.eval(`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)`)
	if err != nil {
		b.fail("axe-core on %s: %v", screen, err)
	}
	var violations []axeViolation
	if err := json.Unmarshal([]byte(raw), &violations); err != nil {
		b.fail("axe-core on %s: %v", screen, err)
	}
	minor := 0
	for _, v := range violations {
		if v.Impact != "serious" && v.Impact != "critical" {
			minor++
			continue
		}
		var targets []string
		for i, n := range v.Nodes {
			if i == 3 {
				targets = append(targets, fmt.Sprintf("… %d more", len(v.Nodes)-3))
				break
			}
			targets = append(targets, fmt.Sprint(n.Target...))
		}
		b.t.Errorf("accessibility, %s: %s (%s): %s; at %s", screen, v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
	}
	b.t.Logf("axe-core on %s: %d violations, %d of them neither serious nor critical", screen, len(violations), minor)
}

// download clicks the button with this text and waits for the browser to save the file it starts; it
// returns the file's path.
func (b *consoleBrowser) download(text string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, consoleStepTimeout)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	b.click(text)
	for ev, err := range progress {
		if err != nil {
			b.fail("download by %s: %v", text, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(b.downloads, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			b.fail("download by %s was cancelled", text)
		}
	}
	b.fail("download by %s: no end", text)
	return ""
}

// openZip checks that path is a zip that opens and returns its files' names.
func openZip(t *testing.T, path string) []string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("the download is no zip: %v", err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			t.Fatalf("zip member %s: %v", f.Name, err)
		}
		names = append(names, f.Name)
	}
	return names
}

// waitRotation waits until the channel page shows the rotation in this state.
func (b *consoleBrowser) waitRotation(state string) {
	b.t.Helper()
	b.do("wait for the rotation "+strconv.Quote(state), chromedp.WaitVisible(visible(fmt.Sprintf(
		`//dt[normalize-space()='Rotation']/following-sibling::dd[1][normalize-space()=%s]`, xpathLiteral(state)))))
}

// signIn signs in on the sign-in screen with token.
func (b *consoleBrowser) signIn(token string) {
	b.t.Helper()
	b.waitHeading("Sign in")
	b.fill("API token", token)
	b.click("Sign in")
	b.do("wait for the signed-in shell", chromedp.WaitVisible(visible(button("Sign out"))))
}

// signInWithKeyboard signs in as someone without a mouse: Tab to the token field, type, Enter.
func (b *consoleBrowser) signInWithKeyboard(token string) {
	b.t.Helper()
	b.waitHeading("Sign in")
	b.do("tab to the API token", chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`))
	for range 10 {
		b.do("press Tab", chromedp.KeyEvent(kb.Tab))
		if focused, _ := b.eval(callOn(labelled("API token"), `function() { return this === document.activeElement; }`)); focused == "true" {
			b.do("type the token and press Enter", chromedp.KeyEvent(token+kb.Enter))
			b.do("wait for the signed-in shell", chromedp.WaitVisible(visible(button("Sign out"))))
			return
		}
	}
	b.fail("Tab does not reach the API token field")
}

// phoneWidth shows the screen 390 pixels wide, as a phone does, and fails when the page itself must scroll
// sideways (a wide table scrolls inside its own box); then it goes back to 1280×800.
func (b *consoleBrowser) phoneWidth() {
	b.t.Helper()
	b.do("a phone's width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.screenshot("phone")
	if over, err := b.eval(`document.documentElement.scrollWidth - document.documentElement.clientWidth`); err != nil || over != "0" {
		b.fail("at 390 pixels the page is %s pixels wider than the screen (%v)", over, err)
	}
	b.do("back to 1280×800", chromedp.EmulateViewport(1280, 800))
}

// signOut signs out and checks that the token is gone from the browser: the session storage is empty and a
// reload shows the sign-in screen.
func (b *consoleBrowser) signOut() {
	b.t.Helper()
	b.click("Sign out")
	b.waitHeading("Sign in")
	if n, err := b.eval(`sessionStorage.length + localStorage.length`); err != nil || n != "0" {
		b.fail("after signing out the browser keeps %s items in its storage (%v)", n, err)
	}
	b.do("reload", chromedp.Reload())
	b.waitHeading("Sign in")
}

// writeActions are the starts of the texts of buttons and links that change something: a viewer sees none.
var writeActions = []string{
	"Newly created", "Create", "Edit", "Delete", "Remove", "Export", "Configuration", "Submit", "Save",
	"Upload", "Rotate", "Retry", "Revoke", "Replace", "Cancel", "Confirm", "Add", "New",
}

// writeControls lists what on the screen changes something: each rendered button or link in the main area
// whose text starts with one of writeActions, and each form but a search form's filters.
func (b *consoleBrowser) writeControls() []string {
	b.t.Helper()
	actions, _ := json.Marshal(writeActions)
	raw, err := b.eval(`(() => {
  const actions = ` + string(actions) + `, norm = s => s.replace(/\s+/g, ' ').trim(), shown = ` + visibleJS + `;
  const main = document.querySelector('main');
  const controls = [...main.querySelectorAll('button, a, [role=button]')].filter(shown).map(el => norm(el.textContent))
    .filter(t => actions.some(a => t.startsWith(a)));
  const forms = [...main.querySelectorAll('form:not([role=search])')].filter(shown).map(f => 'a form: ' + norm(f.textContent).slice(0, 60));
  return [...controls, ...forms];
})()`)
	if err != nil {
		b.fail("write controls: %v", err)
	}
	var found []string
	if err := json.Unmarshal([]byte(raw), &found); err != nil {
		b.fail("write controls: %v", err)
	}
	return found
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}
