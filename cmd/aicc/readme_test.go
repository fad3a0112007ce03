package main

// The README's walk-through is a test: its shell blocks run, in one bash, against a fresh aicc dev --fake-meta
// on free ports, and every value they promise must be printed.
//
// Conventions in README.md, within the walk-through section (from the "## Walk-through" heading to the next
// "## " heading):
//
//   - Every ```sh block runs, in order, in one `bash -euo pipefail` process, so that variables carry over; the
//     working directory is a fresh temporary one. A block is left out only when the line just before its
//     fence is an HTML comment that begins "<!-- not run" and says why (`go run`, the real Meta's
//     certificate). Blocks in other languages (the banner) are never run.
//   - The blocks find aicc dev through AICC and DATA_DIR, set in the first block with defaults
//     (`AICC=${AICC:-http://127.0.0.1:8081} DATA_DIR=${DATA_DIR:-/tmp/aicc-fakemeta}`): the test sets both in
//     the environment, so it rewrites nothing. The defaults must be the address of aicc dev's admin listener
//     and the data directory of the `go run` line. The webhooks go to the callback URLs the API answers, on
//     the public listener.
//   - A promise is a comment "# => VALUE", either at the end of the last line of a command or alone on the
//     line after it: what the commands since the previous promise printed must contain VALUE. Whitespace is
//     ignored on both sides (so jq's compact and indented JSON both match), and "…" in VALUE stands for
//     anything: `# => "recipientId": "7001000000000001" … "messageId": "m_…"` wants these pieces in this order.
//     Promise lines that follow each other are one promise, their values joined by "…".
//   - The walk-through must promise readmeMustPromise: deleting a step that shows one of them fails the test.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

const (
	readmeSection     = "## Walk-through"
	readmeNotRun      = "<!-- not run"
	readmePromiseMark = "# =>"
	readmeAnything    = "…"
	// readmeMarker is what the test prints after the commands of promise N (%d), to cut the output into the
	// output of each promise's commands.
	readmeMarker  = "@@readme-promise-%d@@"
	readmeTimeout = 2 * time.Minute
)

// readmeTools are the commands the walk-through uses beyond bash's builtins and coreutils.
var readmeTools = []string{"bash", "curl", "jq", "openssl", "unzip"}

// readmeMustPromise are values the walk-through must promise, whatever else it does: each must be part of a
// promise (whitespace ignored). They are what the walk-through is for: verification, the Page, "Successful
// access", a webhook stored, the test message's echo in the conversation, an export downloaded, a rotation,
// the robot's answer, a transfer keyword and an agent's reply.
var readmeMustPromise = []string{
	`"verified"`, `"subscribed"`, `"active"`, "EVENT_RECEIVED", `"kind": "message", "text": "Hi, I need help"`,
	`"kind": "echo", "text": "Hello from aicc"`, `"status": "success"`, "manifest.json", `"status": "complete"`,
	`"kind": "own_echo", "text": "Hello! I am the aicc robot.`, `"stage": "queued"`, `"messagingType": "RESPONSE"`,
}

// walkthrough is the README's walk-through, ready to run.
type walkthrough struct {
	Script   string          // every runnable block, a marker printed after each promise's commands
	Promises []readmePromise // in order; promise i is followed by marker i
	// AICC and DataDir are the defaults of AICC and DATA_DIR in the script; GoRun the not-run block that
	// starts aicc dev.
	AICC, DataDir, GoRun string
}

// readmePromise is one "# => VALUE" comment.
type readmePromise struct {
	Line int    // README.md's line number
	Want string // VALUE
}

func (p readmePromise) String() string { return fmt.Sprintf("README.md:%d: # => %s", p.Line, p.Want) }

var (
	readmeAICCDefault    = regexp.MustCompile(`\bAICC=\$\{AICC:-([^}]+)\}`)
	readmeDataDirDefault = regexp.MustCompile(`\bDATA_DIR=\$\{DATA_DIR:-([^}]+)\}`)
)

// parseWalkthrough extracts the walk-through from README.md's text; an error says which convention is broken.
func parseWalkthrough(readme string) (*walkthrough, error) {
	lines := strings.Split(readme, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, readmeSection) {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("README.md has no %q heading", readmeSection)
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}

	w := &walkthrough{}
	var script strings.Builder
	inBlock, run, blocks := false, false, 0
	lastPromise := -1 // the line of the last promise, while only promise lines follow it
	for i := start + 1; i < end; i++ {
		line, n := lines[i], i+1
		trimmed := strings.TrimSpace(line)
		prev := ""
		if i > start+1 {
			prev = strings.TrimSpace(lines[i-1])
		}
		switch {
		case !inBlock && strings.HasPrefix(trimmed, "```"):
			inBlock = true
			lang := strings.TrimPrefix(trimmed, "```")
			notRun := strings.HasPrefix(prev, readmeNotRun)
			if notRun && lang != "sh" {
				return nil, fmt.Errorf("README.md:%d: %q marks a ```%s block: only sh blocks run", n-1, readmeNotRun, lang)
			}
			run = lang == "sh" && !notRun
			if run {
				blocks++
				fmt.Fprintf(&script, "# README.md:%d\n", n)
			}
		case inBlock && trimmed == "```":
			inBlock = false
		case inBlock && run:
			if strings.Contains(line, "go run ") {
				return nil, fmt.Errorf("README.md:%d: `go run` in a block that runs: mark the block %q", n, readmeNotRun+": why -->")
			}
			code, want, ok := strings.Cut(line, readmePromiseMark)
			if !ok {
				script.WriteString(line + "\n")
				lastPromise = -1
				continue
			}
			want = strings.TrimSpace(want)
			if squash(strings.ReplaceAll(want, readmeAnything, "")) == "" {
				return nil, fmt.Errorf("README.md:%d: a promise with no value: %q", n, line)
			}
			code = strings.TrimRight(code, " \t")
			if code == "" && lastPromise == n-1 {
				// A promise line right after another: more of what the same commands print.
				p := &w.Promises[len(w.Promises)-1]
				p.Want += " " + readmeAnything + " " + want
				lastPromise = n
				continue
			}
			if code != "" {
				script.WriteString(code + "\n")
			}
			fmt.Fprintf(&script, "printf '\\n%s\\n'\n", fmt.Sprintf(readmeMarker, len(w.Promises)))
			w.Promises = append(w.Promises, readmePromise{Line: n, Want: want})
			lastPromise = n
		case inBlock:
			if strings.Contains(line, readmePromiseMark) {
				return nil, fmt.Errorf("README.md:%d: a promise in a block that does not run", n)
			}
			if strings.Contains(line, "go run ") && strings.Contains(line, " dev ") {
				w.GoRun = line
			}
		case strings.HasPrefix(trimmed, readmeNotRun):
			if next := strings.TrimSpace(lines[min(i+1, end-1)]); next != "```sh" {
				return nil, fmt.Errorf("README.md:%d: %q must be the line just before a ```sh fence", n, readmeNotRun)
			}
		}
	}
	if inBlock {
		return nil, errors.New("README.md: the walk-through ends inside a ``` block")
	}
	if blocks == 0 || len(w.Promises) == 0 {
		return nil, fmt.Errorf("README.md: the walk-through has %d blocks that run and %d promises; want some of each", blocks, len(w.Promises))
	}
	w.Script = script.String()
	if m := readmeAICCDefault.FindStringSubmatch(w.Script); m != nil {
		w.AICC = m[1]
	}
	if m := readmeDataDirDefault.FindStringSubmatch(w.Script); m != nil {
		w.DataDir = m[1]
	}
	return w, nil
}

// check returns what is wrong with the walk-through beyond its syntax: a missing promise of
// readmeMustPromise, or defaults that are not where the README's own aicc dev listens and keeps its data.
func (w *walkthrough) check() []string {
	var problems []string
	for _, must := range readmeMustPromise {
		found := false
		for _, p := range w.Promises {
			found = found || strings.Contains(squash(p.Want), squash(must))
		}
		if !found {
			problems = append(problems, fmt.Sprintf("the walk-through no longer promises %s", must))
		}
	}
	if want := "http://" + DefaultDevHTTPAddr; w.AICC != want {
		problems = append(problems, fmt.Sprintf("the first block sets AICC=${AICC:-%s}, want ${AICC:-%s} (aicc dev's admin address)", w.AICC, want))
	}
	if w.DataDir == "" || !strings.Contains(w.GoRun, "--data-dir "+w.DataDir) {
		problems = append(problems, fmt.Sprintf("DATA_DIR defaults to %q, but aicc dev starts with %q", w.DataDir, w.GoRun))
	}
	return problems
}

// checkPromises cuts output at the markers and returns every promise its part of the output does not keep,
// and every promise the walk-through stopped before.
func checkPromises(output string, promises []readmePromise) []string {
	var failures []string
	rest := output
	for i, p := range promises {
		marker := fmt.Sprintf(readmeMarker, i)
		got, after, ok := strings.Cut(rest, marker)
		if !ok {
			failures = append(failures, fmt.Sprintf("%s: the walk-through stopped before this promise", p))
			continue
		}
		rest = after
		if !promiseKept(got, p.Want) {
			failures = append(failures, fmt.Sprintf("%s: the commands printed\n%s", p, indent(strings.TrimSpace(got))))
		}
	}
	return failures
}

// promiseKept reports whether got holds the pieces of want between its "…", in order, whitespace ignored.
func promiseKept(got, want string) bool {
	got = squash(got)
	for piece := range strings.SplitSeq(want, readmeAnything) {
		i := strings.Index(got, squash(piece))
		if i < 0 {
			return false
		}
		got = got[i+len(squash(piece)):]
	}
	return true
}

// squash removes every white space.
func squash(s string) string { return strings.Join(strings.Fields(s), "") }

func indent(s string) string { return "\t" + strings.ReplaceAll(s, "\n", "\n\t") }

// envReadmeTests is the variable whose value 1 (CI sets it) makes a missing tool of the walk-through fail the
// test instead of skipping it: go test ./... passes on a machine with Go alone, and CI runs every test.
const envReadmeTests = "AICC_README_TESTS"

// requireReadmeTools skips the test when a command the walk-through uses is missing, or fails it when
// AICC_README_TESTS=1: CI must install it (.ci/run does).
func requireReadmeTools(t *testing.T) {
	t.Helper()
	for _, tool := range readmeTools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("the README walk-through needs %s, which is not installed (apt-get install %s): %v", tool, tool, err)
			if os.Getenv(envReadmeTests) == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// runWalkthroughScript runs script in one bash in dir with the given environment, and returns what it printed
// (stdout and stderr, as they came).
func runWalkthroughScript(ctx context.Context, dir, script string, env ...string) (string, error) {
	path := filepath.Join(dir, "walkthrough.sh")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		return "", err
	}
	out := &syncBuffer{}
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", path)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, out
	cmd.WaitDelay = 5 * time.Second // a curl left behind by a killed bash keeps the output open
	cmd.Env = append(os.Environ(),
		"HOME="+dir, "BASH_ENV=", // no ~/.curlrc, ~/.jq or startup file of the machine
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	cmd.Env = append(cmd.Env, env...)
	err := cmd.Run()
	return out.String(), err
}

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMEWalkthrough starts aicc dev --fake-meta in this process, on free ports with a fresh data
// directory, runs the walk-through's blocks against it and checks every promise.
func TestREADMEWalkthrough(t *testing.T) {
	requireReadmeTools(t)
	w, err := parseWalkthrough(readREADME(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range w.check() {
		t.Error(p)
	}

	ctx, cancel := context.WithTimeout(context.Background(), readmeTimeout)
	defer cancel()
	dataDir := t.TempDir()
	cfg := devTestConfig(t, dataDir, nil)
	cfg.FakeMeta = true

	start := time.Now()
	banner, logs := &syncBuffer{}, &syncBuffer{}
	devCtx, stopDev := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dev(devCtx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), banner) }()
	stopped := false
	defer func() {
		stopDev()
		if !stopped {
			if err := <-done; err != nil {
				t.Errorf("aicc dev: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("aicc dev's log:\n%s", logs.String())
		}
	}()
	for !strings.Contains(banner.String(), "aicc dev is running") {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("aicc dev stopped before its banner: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("aicc dev printed no banner within %s", readmeTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Logf("aicc dev --fake-meta ready in %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	output, runErr := runWalkthroughScript(ctx, t.TempDir(), w.Script,
		"AICC=http://"+cfg.HTTPAddr, "DATA_DIR="+dataDir)
	t.Logf("the walk-through's %d promises ran in %s", len(w.Promises), time.Since(start).Round(time.Millisecond))
	failures := checkPromises(output, w.Promises)
	if runErr != nil {
		t.Errorf("the walk-through failed: %v", runErr)
	}
	for _, f := range failures {
		t.Error(f)
	}
	if runErr != nil || len(failures) > 0 {
		t.Logf("the script:\n%s\nwhat it printed:\n%s", w.Script, output)
		return
	}

	// What aicc dev exposes after the walk-through passes Prometheus' metric lint (promtool check metrics).
	lintMetrics(t, "http://"+cfg.HTTPAddr+"/metrics")

	// The same output does not keep a promise changed in the README.
	broken := strings.Replace(readREADME(t), `# => "verified"`, `# => "awaiting_verification"`, 1)
	bw, err := parseWalkthrough(broken)
	if err != nil {
		t.Fatal(err)
	}
	if len(checkPromises(output, bw.Promises)) == 0 {
		t.Error(`the walk-through's output keeps a promise changed from "verified" to "awaiting_verification"`)
	}
}

// TestREADMEWalkthroughCatchesBreakage breaks a copy of the README in the ways an edit could, and requires the
// extraction or the promise check to fail, on the output a passing run prints.
func TestREADMEWalkthroughCatchesBreakage(t *testing.T) {
	readme := readREADME(t)
	w, err := parseWalkthrough(readme)
	if err != nil {
		t.Fatal(err)
	}
	if p := w.check(); len(p) > 0 {
		t.Fatalf("the README itself: %v", p)
	}
	passing := outputKeeping(w.Promises)
	if f := checkPromises(passing, w.Promises); len(f) > 0 {
		t.Fatalf("the output made to keep every promise does not: %v", f)
	}
	section := readme[strings.Index(readme, readmeSection):]
	section = section[:strings.Index(section[1:], "\n## ")+1]

	// replace returns readme with old replaced by new once, in the walk-through section; old must be there.
	replace := func(t *testing.T, old, new string) string {
		t.Helper()
		if !strings.Contains(section, old) {
			t.Fatalf("the walk-through has no %q any more: update this test", old)
		}
		return strings.Replace(readme, section, strings.Replace(section, old, new, 1), 1)
	}
	confirm := `curl -s "${auth[@]}" -X POST $AICC/v1/channels/$CHANNEL/onboarding/confirm | jq .status   # => "active"`

	tests := []struct {
		name   string
		readme func(t *testing.T) string
		output func(string) string // the passing output, changed; nil keeps it
		want   string              // in the parse error, a problem or a failure
	}{
		{"a promised value changed", func(t *testing.T) string {
			return replace(t, `# => "verified"`, `# => "verification_expired"`)
		}, nil, `# => "verification_expired": the commands printed`},
		{"a promise's command prints something else", nil, func(out string) string {
			return strings.Replace(out, `"kind": "echo", "text": "Hello from aicc"`, `"kind": "echo", "text": "Hello"`, 1)
		}, `"kind": "echo", "text": "Hello from aicc"`},
		{"the walk-through stops half-way", nil, func(out string) string {
			return out[:strings.Index(out, fmt.Sprintf(readmeMarker, len(w.Promises)/2))]
		}, "the walk-through stopped before this promise"},
		{"a step removed", func(t *testing.T) string { return replace(t, confirm+"\n", "") }, nil,
			`no longer promises "active"`},
		{"an echo no longer shown", func(t *testing.T) string {
			return replace(t, `# => {"kind": "message", "text": "Hi, I need help"} … {"kind": "echo", "text": "Hello from aicc"}`,
				`# => {"kind": "message", "text": "Hi, I need help"}`)
		}, nil, `no longer promises "kind": "echo"`},
		{"every block marked not run", func(*testing.T) string {
			var lines []string
			for l := range strings.SplitSeq(section, "\n") {
				if l == "```sh" {
					lines = append(lines, readmeNotRun+" -->")
				}
				if !strings.HasPrefix(l, readmeNotRun) {
					lines = append(lines, l)
				}
			}
			return strings.Replace(readme, section, strings.Join(lines, "\n"), 1)
		}, nil, "a promise in a block that does not run"},
		{"a not-run marker astray", func(t *testing.T) string {
			return replace(t, "\nBesides the URLs", "\n"+readmeNotRun+" -->\nBesides the URLs")
		}, nil, "must be the line just before a ```sh fence"},
		{"a go run line left to run", func(t *testing.T) string {
			return replace(t, "<!-- not run: a second build", "<!-- a second build")
		}, nil, "`go run` in a block that runs"},
		{"a promise without a value", func(t *testing.T) string {
			return replace(t, `# => "subscribed"`, `# => …`)
		}, nil, "a promise with no value"},
		{"a block left open", func(t *testing.T) string {
			return replace(t, "jq '{subject, notAfter, sha256}'\n```\n", "jq '{subject, notAfter, sha256}'\n")
		}, nil, "ends inside a ``` block"},
		{"another data directory", func(t *testing.T) string {
			return replace(t, "DATA_DIR=${DATA_DIR:-/tmp/aicc-fakemeta}", "DATA_DIR=${DATA_DIR:-/tmp/elsewhere}")
		}, nil, "DATA_DIR defaults to"},
		{"another address", func(t *testing.T) string {
			return replace(t, "AICC=${AICC:-http://127.0.0.1:8081}", "AICC=${AICC:-http://127.0.0.1:8080}")
		}, nil, "aicc dev's admin address"},
		{"the heading renamed", func(*testing.T) string {
			return strings.Replace(readme, readmeSection, "## A tour", 1)
		}, nil, "no \"## Walk-through\" heading"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken, out := readme, passing
			if tt.readme != nil {
				broken = tt.readme(t)
			}
			if tt.output != nil {
				if out = tt.output(passing); out == passing {
					t.Fatal("the output did not change: update this test")
				}
			}
			var problems []string
			bw, err := parseWalkthrough(broken)
			if err != nil {
				problems = append(problems, err.Error())
			} else {
				problems = append(append(problems, bw.check()...), checkPromises(out, bw.Promises)...)
			}
			if len(problems) == 0 {
				t.Fatal("the broken walk-through passes")
			}
			if all := strings.Join(problems, "\n"); !strings.Contains(all, tt.want) {
				t.Errorf("the problems do not say %q:\n%s", tt.want, all)
			}
		})
	}

	// And for real, in bash, with no aicc dev to answer: the first command that fails stops the script, and
	// every promise is reported as not reached.
	t.Run("a failing command stops bash", func(t *testing.T) {
		requireReadmeTools(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dir := t.TempDir()
		tokens := `{"tenantId": "ten_x", "tenantAdminToken": "aicc_x", "sysadminToken": "aicc_y"}`
		if err := os.WriteFile(filepath.Join(dir, devTokensFile), []byte(tokens), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := runWalkthroughScript(ctx, dir, w.Script, "AICC=http://127.0.0.1:1", "DATA_DIR="+dir)
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("bash = %v, want a failure exit\n%s", err, out)
		}
		f := checkPromises(out, w.Promises)
		if len(f) != len(w.Promises) || !strings.Contains(f[0], "stopped before this promise") {
			t.Errorf("failures = %q, want every promise not reached\n%s", f, out)
		}
	})
}

// outputKeeping returns the output of a run that keeps every promise: each one's value, "…" as some text,
// then its marker.
func outputKeeping(promises []readmePromise) string {
	var b strings.Builder
	for i, p := range promises {
		fmt.Fprintf(&b, "%s\n\n%s\n", strings.ReplaceAll(p.Want, readmeAnything, "x"), fmt.Sprintf(readmeMarker, i))
	}
	return b.String()
}

// lintMetrics scrapes url and fails t for every problem Prometheus' metric lint finds, the checks of
// "promtool check metrics": names, units, suffixes, help texts.
func lintMetrics(t *testing.T, url string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	problems, err := promlint.New(resp.Body).Lint()
	if err != nil {
		t.Fatalf("lint %s: %v", url, err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}
