package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/api"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/internal/ops"
	"github.com/aiccfb/aicc/meta"
)

// server is an HTTP server of this process on 127.0.0.1.
type server struct {
	target
	stop func() error
}

// serve serves h on a free port of 127.0.0.1.
func serve(h http.Handler) (*server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
	}
	return &server{stop: ops.Start("load target", srv, ln, 5*time.Second)}, "http://" + ln.Addr().String(), nil
}

// Close shuts the server down.
func (s *server) Close() error { return s.stop() }

// startSelf provisions a tenant, an active sha256 channel with a random app secret and nPages subscribed
// Pages directly through the store, and serves aicc's real API handler over it. The handler gets no Temporal
// client: the webhook POST only touches the database. configure, if any, changes the api.Server before it
// serves.
func startSelf(ctx context.Context, store *db.Store, runID string, nPages int, configure ...func(*api.Server)) (*server, error) {
	keyring, err := aicc.NewKeyring(aicc.RandomBytes(aicc.MasterKeySize))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	tenant := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: "load-" + runID, CreatedAt: now}
	if err := store.CreateTenant(ctx, tenant); err != nil {
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	ch := aicc.DefaultChannel()
	ch.ID, ch.TenantID, ch.Name, ch.AppID = aicc.NewID(aicc.PrefixChannel), tenant.ID, "load-"+runID, numericID(runID, 0)
	ch.Algorithm, ch.CreatedAt, ch.UpdatedAt = aicc.AlgorithmSHA256, now, now
	ch.Onboarding = aicc.Onboarding{Status: aicc.StatusActive, VerifiedAt: now, ActivatedAt: now, UpdatedAt: now}
	appSecret := hex.EncodeToString(aicc.RandomBytes(16))
	secrets := aicc.ChannelSecrets{
		AppSecret:   keyring.Seal(appSecret, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), now),
		VerifyToken: keyring.Seal(hex.EncodeToString(aicc.RandomBytes(16)), aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), now),
	}
	if err := store.CreateChannel(ctx, &ch, secrets); err != nil {
		return nil, fmt.Errorf("create channel: %w", err)
	}
	pages := make([]string, nPages)
	for i := range pages {
		pages[i] = numericID(runID, i+1)
		p := &aicc.Page{
			PageID: pages[i], ChannelID: ch.ID, TenantID: tenant.ID, Name: "Load " + strconv.Itoa(i+1), CreatedAt: now,
			State: aicc.PageState{Status: aicc.PageSubscribed, TokenHealth: aicc.TokenHealthy, UpdatedAt: now},
		}
		token := keyring.Seal("EAALoad"+hex.EncodeToString(aicc.RandomBytes(16)), aicc.PageTokenOwner(p.PageID), now)
		if err := store.AddPage(ctx, p, token); err != nil {
			return nil, fmt.Errorf("add page: %w", err)
		}
	}
	// The request log is formatted as aicc api formats it, and thrown away: its cost is aicc's, the terminal's
	// is not.
	srv := &api.Server{
		Store: store, Keyring: keyring, Webhooks: meta.Codec{},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Metrics: prometheus.NewRegistry(),
	}
	for _, fn := range configure {
		fn(srv)
	}
	s, base, err := serve(srv.Handler())
	if err != nil {
		return nil, err
	}
	s.target = target{
		name: "aicc", url: base + "/webhooks/facebook/" + ch.ID, channel: ch.ID, tenant: tenant.ID, secret: appSecret,
		pages: pages,
	}
	return s, nil
}

// numericID is a numeric Meta ID (app or Page) unique to the run.
func numericID(runID string, i int) string {
	sum := sha256.Sum256([]byte(runID))
	n := uint64(0)
	for _, b := range sum[:6] {
		n = n<<8 | uint64(b)
	}
	return fmt.Sprintf("8%014d%03d", n%1e14, i)
}

// baseline is the lighter floor of durable ingest, "baseline-body": a Gin handler that reads the body and
// stores it with one INSERT into load_baseline, in the same database and through the same connection pool as
// aicc's store. It stores one row per POST, not the inbox rows aicc stores; rowsBaseline does that.
type baseline struct {
	*server
	db *bun.DB
}

// baselineTable is the baseline's table, created for the run and dropped after it.
const baselineTable = "load_baseline"

// startBaseline creates load_baseline and serves the baseline handler.
func startBaseline(ctx context.Context, store *db.Store) (*baseline, error) {
	bdb := store.DB()
	ddl := `CREATE TABLE ` + baselineTable + ` (id bigserial PRIMARY KEY, dedup_key text NOT NULL UNIQUE,
		body bytea NOT NULL, received_at timestamptz NOT NULL)`
	if store.Dialect() == db.SQLite {
		ddl = `CREATE TABLE ` + baselineTable + ` (id INTEGER PRIMARY KEY AUTOINCREMENT, dedup_key TEXT NOT NULL UNIQUE,
		body BLOB NOT NULL, received_at TIMESTAMP NOT NULL)`
	}
	if _, err := bdb.ExecContext(ctx, "DROP TABLE IF EXISTS "+baselineTable); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if _, err := bdb.ExecContext(ctx, ddl); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	r := gin.New()
	r.POST("/baseline", func(c *gin.Context) {
		body, ok := readBaselineBody(c)
		if !ok {
			return
		}
		key := sha256.Sum256(body)
		_, err := bdb.ExecContext(c.Request.Context(), "INSERT INTO "+baselineTable+
			" (dedup_key, body, received_at) VALUES (?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
			hex.EncodeToString(key[:]), body, time.Now().UTC())
		if err != nil {
			c.Status(http.StatusServiceUnavailable)
			return
		}
		c.String(http.StatusOK, "EVENT_RECEIVED")
	})
	s, base, err := serve(r)
	if err != nil {
		return nil, err
	}
	s.target = target{name: "baseline-body", url: base + "/baseline"}
	return &baseline{server: s, db: bdb}, nil
}

// readBaselineBody reads a baseline request's body within aicc's default body limit, answering 400 or 413
// itself when it cannot.
func readBaselineBody(c *gin.Context) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, api.DefaultMaxBodyBytes+1))
	switch {
	case err != nil:
		c.Status(http.StatusBadRequest)
		return nil, false
	case len(body) > api.DefaultMaxBodyBytes:
		c.Status(http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return body, true
}

// verify checks that every acknowledged body is in load_baseline once.
func (b *baseline) verify(ctx context.Context, res *result) (*check, error) {
	var keys []string
	if err := b.db.NewSelect().Table(baselineTable).Column("dedup_key").Scan(ctx, &keys); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	stored := map[string]int{}
	for _, k := range keys {
		stored[k]++
	}
	var ids []identity
	for _, p := range res.posts {
		key := sha256.Sum256(p.body)
		ids = append(ids, identity{key: hex.EncodeToString(key[:]), acked: p.acked})
	}
	return compare("bodies", ids, stored), nil
}

// Close stops the handler and drops load_baseline.
func (b *baseline) Close(ctx context.Context) error {
	err := b.server.Close()
	if _, derr := b.db.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+baselineTable); derr != nil {
		err = errors.Join(err, fmt.Errorf("baseline: drop table: %w", derr))
	}
	return err
}
