package db_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
)

// TestSQLiteLogCheckpointedInBackground: what webhooks write reaches the database file within a second or two,
// though no commit is large enough to checkpoint the write-ahead log itself; the log does not grow forever.
func TestSQLiteLogCheckpointedInBackground(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "app.db")
	s, err := db.Open(ctx, "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	before := fileSize(t, path)
	text := strings.Repeat("x", 1000)
	for batch := range 4 {
		events := make([]aicc.InboxEvent, aicc.MaxWebhookUpdates)
		for i := range events {
			events[i] = event("ch", "page", fmt.Sprint(i%10), fmt.Sprintf("m%d-%d", batch, i), int64(i))
			events[i].TenantID, events[i].Text = "tn", text
		}
		if _, err := s.StoreEvents(ctx, events); err != nil {
			t.Fatal(err)
		}
	}
	const stored = 4 << 20 // about 4 MiB of rows: 1,000 pages more than the file had
	deadline := time.Now().Add(10 * time.Second)
	for fileSize(t, path) < before+stored {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d bytes, log %d bytes: the log was not checkpointed into the file",
				fileSize(t, path), fileSize(t, path+"-wal"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
