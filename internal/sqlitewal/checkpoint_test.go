package sqlitewal_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/aiccfb/aicc/internal/sqlitewal"
)

// TestCheckpointer: what a connection whose own checkpoints wait for MaxLogPages commits reaches the database
// file within seconds while a Checkpointer runs, and not without one.
func TestCheckpointer(t *testing.T) {
	for _, background := range []bool{false, true} {
		t.Run(fmt.Sprintf("background=%v", background), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wal.db")
			conn, err := sql.Open(sqliteshim.ShimName, path+fmt.Sprintf(
				"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(%d)", sqlitewal.MaxLogPages))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetMaxOpenConns(1)
			if _, err := conn.Exec("CREATE TABLE t (v TEXT)"); err != nil {
				t.Fatal(err)
			}
			if background {
				c, err := sqlitewal.Start(path)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			row := strings.Repeat("x", 4000)
			for range 1000 { // about 1,000 pages, in commits of one page
				if _, err := conn.Exec("INSERT INTO t VALUES (?)", row); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(10 * sqlitewal.Every)
			for fileSize(t, path) < 1000*4096 && time.Now().Before(deadline) {
				time.Sleep(sqlitewal.Every / 10)
			}
			if got := fileSize(t, path) >= 1000*4096; got != background {
				t.Fatalf("database file %d bytes, log %d bytes: checkpointed %v, want %v",
					fileSize(t, path), fileSize(t, path+"-wal"), got, background)
			}
		})
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
