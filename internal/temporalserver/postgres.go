package temporalserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/tools/common/schema"
	toolsql "go.temporal.io/server/tools/sql"
)

// The embedded schemas (go.temporal.io/server/schema) of Postgres 12 and later, for the persistence and the
// visibility databases.
const (
	persistenceSchema = "postgresql/v12/temporal"
	visibilitySchema  = "postgresql/v12/visibility"
)

// Connection pool bounds of one service (frontend, history, matching and worker each open their own pools):
// with four services in the process, a pool of 6 and one of 3 stay far inside Postgres' default 100
// connections, beside the application's own processes on the same server.
const (
	persistenceMaxConns = 6
	visibilityMaxConns  = 3
)

// StartPostgres starts a server whose persistence and visibility are in Postgres. url is a libpq URL of a
// database on the server (postgres://user[:password]@host[:port]/name[?sslmode=…]): the persistence database is
// the URL's and the visibility database is "<name>_visibility". Both are created when missing and their schema
// set up or updated to this server's version by the Temporal SQL tool's code, from the schemas the server
// embeds. Two servers must not start on the same missing databases at once.
func StartPostgres(ctx context.Context, url string, o Options) (*Server, error) {
	o = o.withDefaults()
	persistence, err := postgresConfig(url)
	if err != nil {
		return nil, err
	}
	visibility := *persistence
	visibility.DatabaseName += "_visibility"
	visibility.ConnectAttributes = maps.Clone(persistence.ConnectAttributes)
	persistence.MaxConns, persistence.MaxIdleConns = persistenceMaxConns, persistenceMaxConns
	visibility.MaxConns, visibility.MaxIdleConns = visibilityMaxConns, visibilityMaxConns

	logger := serverLogger()
	if err := setupDatabase(persistence, persistenceSchema, logger); err != nil {
		return nil, fmt.Errorf("temporal persistence database %s: %w", persistence.DatabaseName, err)
	}
	if err := setupDatabase(&visibility, visibilitySchema, logger); err != nil {
		return nil, fmt.Errorf("temporal visibility database %s: %w", visibility.DatabaseName, err)
	}
	hostPort, err := frontendAddr(o.Port)
	if err != nil {
		return nil, err
	}
	return start(ctx, config.Persistence{
		DefaultStore: "postgres-default", VisibilityStore: "postgres-visibility",
		// Used only when the store is new: the count is written into it then and can never change.
		NumHistoryShards: int32(o.Shards),
		DataStores: map[string]config.DataStore{
			"postgres-default":    {SQL: persistence},
			"postgres-visibility": {SQL: &visibility},
		},
	}, hostPort, o)
}

// postgresConfig turns a libpq URL into the server's SQL configuration, on the pgx plugin: the URL's query
// parameters (sslmode, …) become connect attributes.
func postgresConfig(raw string) (*config.SQL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// Never quote the URL: it may hold a password.
		return nil, errors.New("temporal database: want a URL such as postgres://user@host:5432/temporal?sslmode=disable")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("temporal database: the URL names no database (%s)", u.Redacted())
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	c := &config.SQL{
		PluginName:        postgresql.PluginNamePGX,
		DatabaseName:      name,
		ConnectAddr:       host,
		ConnectProtocol:   "tcp",
		User:              u.User.Username(),
		ConnectAttributes: map[string]string{},
	}
	c.Password, _ = u.User.Password()
	for k, v := range u.Query() {
		if len(v) != 1 {
			return nil, fmt.Errorf("temporal database: the URL's parameter %s must have one value", k)
		}
		c.ConnectAttributes[k] = v[0]
	}
	if err := toolsql.ValidateConnectConfig(c); err != nil {
		return nil, fmt.Errorf("temporal database: %w", err)
	}
	return c, nil
}

// setupDatabase creates the database of cfg when it is missing, and sets up or updates its schema to the
// newest version of the embedded schema named schemaName: what temporal-sql-tool's create-database,
// setup-schema -v 0.0 and update-schema --schema-name do. The tool's command line (tools/sql.RunTool) is not
// used: it exits the process on an error.
func setupDatabase(cfg *config.SQL, schemaName string, logger log.Logger) error {
	create := *cfg
	if err := toolsql.DoCreateDatabase(&create, "", logger); err != nil { // a no-op when it exists
		return fmt.Errorf("create: %w", err)
	}
	conn, err := toolsql.NewConnection(cfg, logger)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Version 0.0 only creates the version tables (when missing); the update then applies every versioned
	// change after the version found.
	if err := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger).Run(); err != nil {
		return fmt.Errorf("setup schema: %w", err)
	}
	update := &schema.UpdateConfig{DBName: cfg.DatabaseName, SchemaName: schemaName}
	if err := schema.NewUpdateSchemaTask(conn, update, logger).Run(); err != nil {
		return fmt.Errorf("update schema: %w", err)
	}
	return nil
}
