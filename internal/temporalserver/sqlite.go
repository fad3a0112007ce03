package temporalserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/uptrace/bun/driver/sqliteshim"
	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"

	"github.com/aiccfb/aicc/internal/sqlitewal"
)

// StartSQLite starts a server whose state lives in file, created with its schema when it does not exist, with
// one history shard.
func StartSQLite(ctx context.Context, file string, o Options) (*Server, error) {
	o = o.withDefaults()
	hostPort, err := frontendAddr(o.Port)
	if err != nil {
		return nil, err
	}
	sqlConf := &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: file,
		// Plain keys become PRAGMAs; mode is a URI parameter. WAL lets readers and the writer work side by
		// side, and synchronous=NORMAL is durable enough for a laptop (WAL is still crash-safe). The log is
		// checkpointed in the background: the server's one connection serves every service, and a commit that
		// checkpointed held them all while it copied the log and waited for fsync (a workflow's visibility row
		// writes the most pages, and paid it most often).
		ConnectAttributes: map[string]string{
			"mode": "rwc", "journal_mode": "wal", "synchronous": "NORMAL",
			"wal_autocheckpoint": strconv.Itoa(sqlitewal.MaxLogPages),
		},
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, err
		}
		if err := sqliteschema.SetupSchema(sqlConf); err != nil {
			_ = os.Remove(file) // half a schema would be skipped on the next start
			return nil, fmt.Errorf("temporal schema: %w", err)
		}
		if err := dropVisibilityIndexes(file); err != nil {
			_ = os.Remove(file)
			return nil, fmt.Errorf("temporal schema: %w", err)
		}
	}
	ns, err := sqliteschema.NewNamespaceConfig(clusterName, o.Namespace, false, nil)
	if err != nil {
		return nil, err
	}
	if err := sqliteschema.CreateNamespaces(sqlConf, ns); err != nil { // a no-op when it exists
		return nil, fmt.Errorf("temporal namespace: %w", err)
	}
	checkpoints, err := sqlitewal.Start(file)
	if err != nil {
		return nil, fmt.Errorf("temporal sqlite: %w", err)
	}
	s, err := start(ctx, config.Persistence{
		DefaultStore: "sqlite-default", VisibilityStore: "sqlite-default",
		// The shard count is written into the database when it is created and can never change.
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}},
	}, hostPort, o)
	if err != nil {
		_ = checkpoints.Close()
		return nil, err
	}
	s.checkpoints = checkpoints
	return s, nil
}

// visibilityIndexes are the indexes of Temporal's visibility table that a new SQLite store keeps: the Web UI's
// default order, its filters by workflow ID, type, status, task queue and execution time, the namespace division
// Temporal adds to every list, and the keyword search attributes (TenantId and ChannelId among them).
var visibilityIndexes = map[string]bool{
	"default_idx": true, "by_execution_time": true, "by_workflow_id": true, "by_workflow_type": true,
	"by_status": true, "by_task_queue": true, "by_temporal_namespace_division": true,
	"by_keyword_01": true, "by_keyword_02": true, "by_keyword_03": true, "by_keyword_04": true, "by_keyword_05": true,
	"by_keyword_06": true, "by_keyword_07": true, "by_keyword_08": true, "by_keyword_09": true, "by_keyword_10": true,
}

// dropVisibilityIndexes drops the other indexes of the visibility table of the new SQLite store at file. Temporal's
// schema has 58, most on columns computed from the row's search attributes JSON, and the visibility rows of new
// workflows took a quarter of the server's CPU (docs/benchmarks.md, "Delivery"); a query on a column without its
// index scans the table, which a developer's store keeps small.
func dropVisibilityIndexes(file string) error {
	conn, err := sql.Open(sqliteshim.ShimName, file)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.Query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL")
	if err != nil {
		return err
	}
	var drop []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		if !visibilityIndexes[name] {
			drop = append(drop, name)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, name := range drop {
		if _, err := conn.Exec(`DROP INDEX "` + name + `"`); err != nil {
			return err
		}
	}
	return nil
}
