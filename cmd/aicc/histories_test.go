package main

// Recording the histories of the workflows the end-to-end tests run, for the replay test of package workflows
// (workflows/replay_test.go): go test ./cmd/aicc -run EndToEnd -count=1 -record-histories

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"
)

var recordHistories = flag.Bool("record-histories", false,
	"write the histories of the workflows the end-to-end tests run to workflows/testdata")

// historiesDir is where recorded histories go, relative to this package's directory (go test's working
// directory).
var historiesDir = filepath.Join("..", "..", "workflows", "testdata")

// recordHistory writes the whole history of the workflow workflowID (its latest run) to
// workflows/testdata/<name>.json when -record-histories is set, after waiting for the workflow to close. It
// does nothing otherwise.
func (s *stack) recordHistory(ctx context.Context, workflowID, name string) {
	s.t.Helper()
	if *recordHistories {
		s.writeHistory(ctx, workflowID, name, true)
	}
}

// recordOpenHistory is recordHistory for a workflow that is still running and stays so (a conversation waits a
// day for its next event): it records the history so far, once the workflow has no workflow task and no
// activity pending, so that the file ends where the workflow waits. The replayer replays an open history.
func (s *stack) recordOpenHistory(ctx context.Context, workflowID, name string) {
	s.t.Helper()
	if *recordHistories {
		s.writeHistory(ctx, workflowID, name, false)
	}
}

func (s *stack) writeHistory(ctx context.Context, workflowID, name string, closed bool) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	runID := s.waitQuiet(ctx, workflowID, closed)

	hist := &historypb.History{}
	it := s.temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			s.t.Fatalf("history of %s: %v", workflowID, err)
		}
		hist.Events = append(hist.Events, ev)
	}
	if n := len(hist.Events); n < 3 {
		s.t.Fatalf("history of %s has %d events, want a whole run", workflowID, n)
	}
	switch last := hist.Events[len(hist.Events)-1].GetEventType(); {
	case closed && !isClosing(last):
		s.t.Fatalf("history of %s ends with %s, want the workflow closed", workflowID, last)
	case !closed && (last == enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED || last == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED):
		s.t.Fatalf("history of %s ends with %s, want the workflow waiting", workflowID, last)
	}

	out, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	if err != nil {
		s.t.Fatalf("history of %s as JSON: %v", workflowID, err)
	}
	// What the replayer reads back must be the very history recorded.
	back, err := client.HistoryFromJSON(bytes.NewReader(out), client.HistoryJSONOptions{})
	if err != nil || !proto.Equal(back, hist) {
		s.t.Fatalf("history of %s does not read back as recorded (%v)", workflowID, err)
	}
	// The file goes into git, and the key its payloads are encrypted under is in this package: no secret of the
	// test may be in it, in its JSON (payloads are base64 there), in its binary form (payloads verbatim), nor in
	// either once decrypted.
	bin, err := proto.Marshal(hist)
	if err != nil {
		s.t.Fatal(err)
	}
	decoded := s.history(ctx, workflowID).String()
	for what, secret := range s.knownSecrets() {
		if bytes.Contains(out, []byte(secret)) || bytes.Contains(bin, []byte(secret)) || strings.Contains(decoded, secret) {
			s.t.Fatalf("the %s appears in the history of %s; not recording it", what, workflowID)
		}
	}

	if err := os.MkdirAll(historiesDir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	path := filepath.Join(historiesDir, name+".json")
	if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("recorded the history of %s (%d events) in %s", workflowID, len(hist.Events), path)
}

// waitQuiet waits until the workflow's latest run is closed (closed) or waits with nothing pending (!closed),
// and returns that run's ID.
func (s *stack) waitQuiet(ctx context.Context, workflowID string, closed bool) string {
	s.t.Helper()
	var last string
	for {
		desc, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
		if err != nil {
			s.t.Fatalf("describe %s: %v", workflowID, err)
		}
		info := desc.GetWorkflowExecutionInfo()
		running := info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		switch {
		case closed && !running:
			return info.GetExecution().GetRunId()
		case !closed && !running:
			s.t.Fatalf("workflow %s is %s, want it running", workflowID, info.GetStatus())
		case !closed && desc.GetPendingWorkflowTask() == nil && len(desc.GetPendingActivities()) == 0:
			return info.GetExecution().GetRunId()
		}
		last = info.GetStatus().String()
		select {
		case <-ctx.Done():
			s.t.Fatalf("workflow %s still busy (%s): %v", workflowID, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func isClosing(t enumspb.EventType) bool {
	switch t {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
		enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return true
	}
	return false
}

// knownSecrets are the secrets a recorded history must not contain: every canary (app secrets, Page tokens;
// all start with "CANARY-") and every verify token the API handed out, which it shows once in the answer that
// creates a channel.
func (s *stack) knownSecrets() map[string]string {
	secrets := map[string]string{"canary": "CANARY-", "app secret": s.appSecret}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.responses {
		var created struct {
			MetaSetup struct {
				VerifyToken string `json:"verifyToken"`
			} `json:"metaSetup"`
		}
		if json.Unmarshal([]byte(a), &created) == nil && created.MetaSetup.VerifyToken != "" {
			secrets[fmt.Sprintf("verify token %d", len(secrets))] = created.MetaSetup.VerifyToken
		}
	}
	return secrets
}
