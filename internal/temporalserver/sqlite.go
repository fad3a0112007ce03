package temporalserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

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
		// checkpointed held them all while it copied the log and waited for fsync (a workflow's visibility row,
		// with its ~50 indexes, writes the most pages, and paid it most often).
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
