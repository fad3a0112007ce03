package temporalserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.temporal.io/server/common/config"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	sqliteschema "go.temporal.io/server/schema/sqlite"
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
		// side, and synchronous=NORMAL is durable enough for a laptop (WAL is still crash-safe).
		ConnectAttributes: map[string]string{"mode": "rwc", "journal_mode": "wal", "synchronous": "NORMAL"},
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
	return start(ctx, config.Persistence{
		DefaultStore: "sqlite-default", VisibilityStore: "sqlite-default",
		// The shard count is written into the database when it is created and can never change.
		NumHistoryShards: 1,
		DataStores:       map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}},
	}, hostPort, o)
}
