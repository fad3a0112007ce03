package workflows_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/codec"
	"github.com/aiccfb/aicc/worker"
)

// registeredTypes records the names RegisterWorkflows registers workflows under.
type registeredTypes []string

func (r *registeredTypes) RegisterWorkflowWithOptions(_ any, options workflow.RegisterOptions) {
	*r = append(*r, options.Name)
}

// TestReplay replays every history in testdata (recorded from the end-to-end tests of cmd/aicc, see
// testdata/README.md) against the workflows as the worker registers them: a change to a workflow that would
// break a running execution fails here with a nondeterminism error. Every registered workflow type must have a
// history, and every history must be of a registered type.
// historyCodec decrypts the payloads of the histories the end-to-end tests record: their stack encrypts them
// under this fixed key (historyCodecKey in cmd/aicc/e2e_test.go). Histories recorded before the codec have
// plain payloads, which it passes on.
var historyCodec = func() *codec.Codec {
	c, err := codec.New(bytes.Repeat([]byte{0xa1}, aicc.MasterKeySize))
	if err != nil {
		panic(err)
	}
	return c
}()

func TestReplay(t *testing.T) {
	var registered registeredTypes
	worker.RegisterWorkflows(&registered)
	if len(registered) == 0 {
		t.Fatal("RegisterWorkflows registered no workflow")
	}

	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	replayed := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read %s: %v", file, err)
			}
			if len(hist.GetEvents()) == 0 {
				t.Fatalf("%s has no events", file)
			}
			wfType := hist.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
			if !slices.Contains(registered, wfType) {
				t.Fatalf("%s is a history of workflow type %q, which the worker does not register (it registers %v)",
					file, wfType, registered)
			}
			replayed[wfType] = true

			replayer, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{
				DataConverter: historyCodec.DataConverter(), FailureConverter: historyCodec.FailureConverter(),
			})
			if err != nil {
				t.Fatal(err)
			}
			worker.RegisterWorkflows(replayer)
			if err := replayer.ReplayWorkflowHistory(testLogger(t), hist); err != nil {
				t.Fatalf("replaying %s (%s, %d events): %v", file, wfType, len(hist.GetEvents()), err)
			}
		})
	}
	for _, name := range registered {
		if !replayed[name] {
			t.Errorf("testdata has no history of workflow type %q: record one from an end-to-end test (testdata/README.md)", name)
		}
	}
}

// testLogger sends the replayer's warnings and errors to the test's log.
func testLogger(t *testing.T) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// An encrypted history replays only with the codec: its payloads are unreadable without the key, so the replay
// above proves the codec is applied, not bypassed.
func TestEncryptedHistoryNeedsTheCodec(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "secret-rotation-complete.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replayer := sdkworker.NewWorkflowReplayer()
	worker.RegisterWorkflows(replayer)
	if err := replayer.ReplayWorkflowHistory(testLogger(t), hist); err == nil {
		t.Fatal("an encrypted history replayed without the codec")
	}
}
