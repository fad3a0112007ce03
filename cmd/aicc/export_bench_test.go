package main

// BenchmarkExport is issue 10's export benchmark: a full CSV export of N channels through the Export workflow
// on Postgres, against the floor Postgres itself sets, COPY (SELECT <the same columns>) TO STDOUT WITH CSV of
// the same rows, and the export's peak memory. Results and method are in docs/benchmarks.md. It needs
// Postgres and skips without it:
//
//	psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench_export'
//	AICC_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/bench_export?sslmode=disable' \
//	  go test ./cmd/aicc/ -run '^$' -bench '^BenchmarkExport$' -benchtime 5x -timeout 60m
//	psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE bench_export'

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporal"
	"go.temporal.io/server/temporaltest"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/internal/codec"
	"github.com/aiccfb/aicc/worker"
	"github.com/aiccfb/aicc/workflows"
)

// exportBenchSizes are the numbers of channels the issue asks the benchmark for.
var exportBenchSizes = []int{10_000, 100_000}

// BenchmarkExport runs, for each size, on a tenant seeded with that many channels (and nothing else in the
// tables), per iteration: the COPY floor into io.Discard, then our export end to end (timed: what the API
// does for POST /v1/exports, then polling the export's row until the workflow records success), sampling the
// heap every 10 ms while it runs, then WriteExport alone in Temporal's test activity environment. ns/op is our
// export; the other figures are reported as metrics:
//
//   - s/export: ours, end to end; s/copy: the floor; ratio: the one over the other;
//   - s/write: WriteExport alone (the files, manifest.json and export.zip, without the workflow);
//   - s/zip: building export.zip from the stored files, which WriteExport does last and the floor does not;
//   - cpu-go-s/export, cpu-pg-s/export, cpu-go-s/copy, cpu-pg-s/copy: the CPU time (user and system) this
//     process (worker, in-memory Temporal server, the polling) and the Postgres processes of this machine used
//     during each, when Postgres runs here, where the wall-clock time goes;
//   - heap-peak-MB: the largest heap in use (objects, live or garbage not yet collected, and the unused part of
//     their spans) seen during our export, sampled every 10 ms, in a process that also holds the in-memory
//     Temporal server; heap-growth-MB: that less the heap in use right after a GC before the export. Under
//     GOGC=100 the heap grows to about twice what the last GC found live before the next GC, so these follow
//     the live heap rather than the records;
//   - live-peak-MB, live-growth-MB: the same for the heap the GCs during the export marked live, which is what
//     the export holds: flat in the number of records if it streams;
//   - mapped-growth-MB: the same for all memory the Go runtime maps and has not released (what the OS can see
//     of it, short of pages never touched); 0 when the export fits in what the process had mapped already.
//
// Before the timed iterations, one export and one COPY of the same rows are compared cell by cell, so the
// floor is known to select what the export writes; they also warm Postgres' buffers for both.
func BenchmarkExport(b *testing.B) {
	bench := newExportBench(b)
	for _, n := range exportBenchSizes {
		b.Run("records="+strconv.Itoa(n), func(b *testing.B) { bench.run(b, n) })
	}
}

// exportBench is the stack the benchmark exports through: a Postgres store on a schema of its own, an
// in-memory Temporal server and the real worker, as aicc serve wires them (payload codec included), with
// export files in a temporary directory.
type exportBench struct {
	store    *db.Store
	temporal client.Client
	acts     *activities.Activities
	files    *export.Storage
}

// newExportBench starts the stack; it skips the benchmark when AICC_TEST_POSTGRES_URL is unset.
func newExportBench(b *testing.B) *exportBench {
	b.Helper()
	ctx := context.Background()
	store := dbtest.Postgres(b) // skips without Postgres
	logger := slog.New(slog.DiscardHandler)

	// temporaltest.WithT takes a *testing.T only, so the server is stopped here. Without one, Stop logs a failed
	// shutdown through a nil *testing.T: that panic is no failure of the benchmark, whose figures are out.
	ts := temporaltest.NewServer(
		// The last WithDynamicConfigClient wins, so devDynamicConfig repeats temporaltest's own key.
		temporaltest.WithBaseServerOptions(temporal.WithDynamicConfigClient(devDynamicConfig())))
	b.Cleanup(func() {
		defer func() { _ = recover() }()
		ts.Stop()
	})
	reg := newRegistry()
	metricsHandler, closeMetrics := temporalMetrics(reg, logger)
	b.Cleanup(func() { _ = closeMetrics.Close() })
	keyring, err := aicc.NewKeyring(aicc.RandomBytes(aicc.MasterKeySize))
	if err != nil {
		b.Fatal(err)
	}
	// Payloads encrypted, as aicc api and worker send them.
	pc, err := codec.New(aicc.RandomBytes(aicc.MasterKeySize))
	if err != nil {
		b.Fatal(err)
	}
	tc := ts.NewClientWithOptions(client.Options{
		Logger: sdklog.NewStructuredLogger(logger), MetricsHandler: metricsHandler,
		DataConverter: pc.DataConverter(), FailureConverter: pc.FailureConverter(),
	})
	if err := worker.RegisterSearchAttributes(ctx, tc, ts.GetDefaultNamespace()); err != nil {
		b.Fatalf("RegisterSearchAttributes: %v", err)
	}
	files, err := export.OpenStorage(ctx, "file://"+filepath.ToSlash(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = files.Close() })
	// An export calls no Graph API: no provider.
	acts := newActivities(store, keyring, nil, files, reg)
	w := worker.New(tc, acts, sdkworker.Options{})
	if err := w.Start(); err != nil {
		b.Fatalf("worker start: %v", err)
	}
	b.Cleanup(w.Stop)
	return &exportBench{store: store, temporal: tc, acts: acts, files: files}
}

// run is one size's benchmark.
func (e *exportBench) run(b *testing.B, n int) {
	ctx := context.Background()
	tenantID := e.seed(b, n)

	// The check, which also warms the database for both sides.
	ex, _ := e.export(b, tenantID)
	var floor bytes.Buffer
	if _, err := e.copyFloor(ctx, &floor, tenantID); err != nil {
		b.Fatalf("COPY floor: %v", err)
	}
	e.compare(b, ex, &floor, n)
	e.cancel(b, ex)

	var ours, floors, writes, zips time.Duration
	var oursCPU, floorCPU cpuTime
	var peak, growth memory // the most seen over the iterations
	for b.Loop() {
		b.StopTimer()
		cpu := readCPU()
		tCopy, err := e.copyFloor(ctx, io.Discard, tenantID)
		if err != nil {
			b.Fatalf("COPY floor: %v", err)
		}
		floorCPU = floorCPU.add(readCPU().sub(cpu))
		runtime.GC() // the heap before our export holds only what the process keeps

		sampler := sampleHeap(10 * time.Millisecond)
		cpu = readCPU()
		b.StartTimer()
		ex, tExport := e.export(b, tenantID)
		b.StopTimer()
		oursCPU = oursCPU.add(readCPU().sub(cpu))
		m := sampler.stop()
		peak, growth = peak.max(m.peak), growth.max(m.growth())
		tZip := e.zip(b, ex)
		e.cancel(b, ex)

		tWrite := e.writeAlone(b, tenantID)
		b.Logf("copy %.3fs, export %.3fs (export.zip %.3fs), WriteExport alone %.3fs, live heap +%.1f MB",
			tCopy.Seconds(), tExport.Seconds(), tZip.Seconds(), tWrite.Seconds(), mb(m.growth().live))
		floors, ours, zips, writes = floors+tCopy, ours+tExport, zips+tZip, writes+tWrite
		b.StartTimer()
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.ReportMetric(per(ours), "s/export")
	b.ReportMetric(per(floors), "s/copy")
	b.ReportMetric(ours.Seconds()/floors.Seconds(), "ratio")
	b.ReportMetric(per(writes), "s/write")
	b.ReportMetric(per(zips), "s/zip")
	if floorCPU.self > 0 && floorCPU.postgres > 0 { // on Linux, Postgres on this machine
		b.ReportMetric(per(oursCPU.self), "cpu-go-s/export")
		b.ReportMetric(per(oursCPU.postgres), "cpu-pg-s/export")
		b.ReportMetric(per(floorCPU.self), "cpu-go-s/copy")
		b.ReportMetric(per(floorCPU.postgres), "cpu-pg-s/copy")
	}
	b.ReportMetric(mb(peak.heap), "heap-peak-MB")
	b.ReportMetric(mb(growth.heap), "heap-growth-MB")
	b.ReportMetric(mb(peak.live), "live-peak-MB")
	b.ReportMetric(mb(growth.live), "live-growth-MB")
	b.ReportMetric(mb(growth.mapped), "mapped-growth-MB")
}

// export does what the API does for POST /v1/exports {format: csv} (count the selection, store the export
// pending, start its workflow) and waits for the workflow to record success, polling the export's row every
// 10 ms as a client polling GET /v1/exports/{id} would. It returns the export and the time from the count to
// the success being visible.
func (e *exportBench) export(b *testing.B, tenantID string) (*aicc.Export, time.Duration) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	var sel aicc.ExportSelection
	total, _, err := e.store.MatchExportChannels(ctx, tenantID, sel)
	if err != nil {
		b.Fatalf("MatchExportChannels: %v", err)
	}
	now := time.Now()
	ex := &aicc.Export{
		ID: aicc.NewID(aicc.PrefixExport), TenantID: tenantID, Selection: sel, Format: aicc.ExportCSV,
		Status: aicc.ExportPending, Total: total, CreatedBy: aicc.CLIActor("export benchmark"), CreatedAt: now, UpdatedAt: now,
	}
	if err := e.store.CreateExport(ctx, ex); err != nil {
		b.Fatalf("CreateExport: %v", err)
	}
	if err := workflows.StartExport(ctx, e.temporal, workflows.ExportInput{TenantID: tenantID, ExportID: ex.ID}); err != nil {
		b.Fatalf("StartExport: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		got, err := e.store.GetExport(ctx, tenantID, ex.ID)
		if err != nil {
			b.Fatalf("GetExport: %v", err)
		}
		switch {
		case got.Status == aicc.ExportSuccess:
			return got, time.Since(start)
		case got.Status.Finished():
			b.Fatalf("export %s ended %s (%s)", ex.ID, got.Status, got.ErrorCode)
		case time.Now().After(deadline):
			b.Fatalf("export %s still %s after 10 minutes", ex.ID, got.Status)
		}
	}
}

// cancel ends the export's workflow, which deletes its files, so that iterations do not pile them up.
func (e *exportBench) cancel(b *testing.B, ex *aicc.Export) {
	b.Helper()
	in := workflows.ExportInput{TenantID: ex.TenantID, ExportID: ex.ID}
	if _, err := workflows.CancelExport(context.Background(), e.temporal, in); err != nil {
		b.Fatalf("CancelExport: %v", err)
	}
}

// zip times what WriteExport does after the files: reading them back from storage into a zip, here into
// io.Discard rather than storage.
func (e *exportBench) zip(b *testing.B, ex *aicc.Export) time.Duration {
	b.Helper()
	ctx := context.Background()
	names := make([]string, 0, len(ex.Files)+1)
	for _, f := range ex.Files {
		names = append(names, f.Name)
	}
	names = append(names, export.ManifestName)
	start := time.Now()
	err := export.WriteZip(ctx, io.Discard, func(name string) (io.ReadCloser, error) {
		return e.files.Open(ctx, export.Key(ex.ID, name))
	}, names)
	if err != nil {
		b.Fatalf("WriteZip: %v", err)
	}
	return time.Since(start)
}

// writeAlone stores a pending export and times WriteExport on it in Temporal's test activity environment:
// the activity's own work (read, write the files, manifest.json and export.zip, record progress), without the
// workflow, the task queue or the polling. The files are deleted afterwards.
func (e *exportBench) writeAlone(b *testing.B, tenantID string) time.Duration {
	b.Helper()
	ctx := context.Background()
	ex := &aicc.Export{TenantID: tenantID, Format: aicc.ExportCSV, CreatedBy: aicc.CLIActor("export benchmark")}
	if err := e.store.CreateExport(ctx, ex); err != nil {
		b.Fatalf("CreateExport: %v", err)
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(e.acts)
	in := activities.ExportInput{TenantID: tenantID, ExportID: ex.ID}
	start := time.Now()
	if _, err := env.ExecuteActivity(e.acts.WriteExport, in); err != nil {
		b.Fatalf("WriteExport: %v", err)
	}
	d := time.Since(start)
	if err := e.acts.DeleteExportFiles(ctx, in); err != nil {
		b.Fatalf("DeleteExportFiles: %v", err)
	}
	return d
}

// copyFloor writes COPY (SELECT <the export's columns>) TO STDOUT WITH CSV of the tenant's channels to w on
// one connection of the store's pool and returns how long it took.
func (e *exportBench) copyFloor(ctx context.Context, w io.Writer, tenantID string) (time.Duration, error) {
	// The COPY statement takes no parameters; the tenant ID is ours, made of [a-z0-9_].
	sql := "COPY (" + strings.Replace(floorSelect, "$1", "'"+tenantID+"'", 1) + ") TO STDOUT WITH CSV"
	var d time.Duration
	err := e.raw(ctx, func(conn *pgx.Conn) error {
		start := time.Now()
		_, err := conn.PgConn().CopyTo(ctx, w, sql)
		d = time.Since(start)
		return err
	})
	return d, err
}

// raw runs fn on a pgx connection of the store's pool.
func (e *exportBench) raw(ctx context.Context, fn func(*pgx.Conn) error) error {
	conn, err := e.store.DB().DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T, not pgx's", driverConn)
		}
		return fn(c.Conn())
	})
}

// floorSelect selects, for the tenant $1, the cells export.Row gives, in export.Columns' order and the
// export's channel order: JSON fields extracted with ->> (missing strings as "", a missing avatar as 0, as Go
// decodes them), lists joined with "; " after escaping "\" and ";" as the export does, time segments as
// start-end, the Pages' IDs and names aggregated by Page ID, times in UTC to the second. Empty cells are ""
// rather than NULL, so that both sides parse to the same strings. Like the export, it leaves out channels being
// deleted.
const floorSelect = `
SELECT c.id, c.name, c.app_id, c.algorithm, c.status,
  coalesce(c.basic->>'ouId', ''),
  coalesce(c.basic->>'skillQueueId', ''),
  coalesce((SELECT string_agg(replace(replace(v, '\', '\\'), ';', '\;'), '; ' ORDER BY o)
    FROM jsonb_array_elements_text(c.basic->'transferKeywords') WITH ORDINALITY AS t(v, o)), ''),
  coalesce((SELECT string_agg(replace(replace((s->>'start') || '-' || (s->>'end'), '\', '\\'), ';', '\;'), '; ' ORDER BY o)
    FROM jsonb_array_elements(c.basic->'workTime'->'workday') WITH ORDINALITY AS t(s, o)), ''),
  coalesce((SELECT string_agg(replace(replace((s->>'start') || '-' || (s->>'end'), '\', '\\'), ';', '\;'), '; ' ORDER BY o)
    FROM jsonb_array_elements(c.basic->'workTime'->'nonWorkday') WITH ORDINALITY AS t(s, o)), ''),
  coalesce(c.basic->>'serviceCalendarId', ''),
  coalesce(c.basic->>'nonWorkingTimeNotice', ''),
  c.basic->'lastAgentMode'->>'enabled',
  c.basic->'lastAgentMode'->>'windowMinutes',
  c.basic->'noCustomerReplyEnd'->>'enabled',
  c.basic->'noCustomerReplyEnd'->>'timeoutMinutes',
  coalesce(c.basic->'noCustomerReplyEnd'->>'endMessage', ''),
  c.basic->'noAgentReplyTransfer'->>'enabled',
  c.basic->'noAgentReplyTransfer'->>'timeoutSeconds',
  coalesce(c.basic->'noAgentReplyTransfer'->>'targetSkillQueueId', ''),
  coalesce(c.basic->'noAgentReplyTransfer'->>'notice', ''),
  c.basic->'sessionTransfer'->>'enabled',
  coalesce((SELECT string_agg(replace(replace(v, '\', '\\'), ';', '\;'), '; ' ORDER BY o)
    FROM jsonb_array_elements_text(c.basic->'sessionTransfer'->'targetSkillQueueIds') WITH ORDINALITY AS t(v, o)), ''),
  c.robot->'intelligentRobot'->>'enabled',
  coalesce(c.robot->'intelligentRobot'->>'accessCode', ''),
  coalesce(c.robot->'intelligentRobot'->>'name', ''),
  coalesce(c.robot->'intelligentRobot'->>'avatar', '0'),
  coalesce(c.robot->'intelligentRobot'->>'gender', ''),
  c.robot->'robotAssistant'->>'enabled',
  coalesce(c.robot->'robotAssistant'->>'accessCode', ''),
  coalesce(c.robot->'robotAssistant'->>'silentAgentSkillQueueId', ''),
  coalesce(string_agg(replace(replace(p.page_id, '\', '\\'), ';', '\;'), '; ' ORDER BY p.page_id), ''),
  coalesce(string_agg(replace(replace(p.name, '\', '\\'), ';', '\;'), '; ' ORDER BY p.page_id), ''),
  to_char(c.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
  to_char(c.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
FROM channels c LEFT JOIN pages p ON p.channel_id = c.id
WHERE c.tenant_id = $1 AND c.status <> 'deleting'
GROUP BY c.id
ORDER BY c.id`

// compare checks that the floor's CSV and the export's files hold the same n rows, cell for cell, and that
// every file starts with export.Columns.
func (e *exportBench) compare(b *testing.B, ex *aicc.Export, floor io.Reader, n int) {
	b.Helper()
	ctx := context.Background()
	want := csv.NewReader(floor)
	header := export.Columns()
	rows := 0
	for _, f := range ex.Files {
		r, err := e.files.Open(ctx, export.Key(ex.ID, f.Name))
		if err != nil {
			b.Fatalf("open %s: %v", f.Name, err)
		}
		got := csv.NewReader(r)
		if h, err := got.Read(); err != nil || !slices.Equal(h, header) {
			b.Fatalf("%s: header %q (%v), want %q", f.Name, h, err, header)
		}
		for {
			g, err := got.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatalf("%s: %v", f.Name, err)
			}
			w, err := want.Read()
			if err != nil {
				b.Fatalf("floor row %d: %v", rows+1, err)
			}
			for i := range header {
				if g[i] != w[i] {
					b.Fatalf("row %d (%s) column %s: export %q, floor %q", rows+1, g[0], header[i], g[i], w[i])
				}
			}
			rows++
		}
		_ = r.Close()
	}
	if _, err := want.Read(); !errors.Is(err, io.EOF) {
		b.Fatalf("the floor has more rows than the export's %d", rows)
	}
	if rows != n {
		b.Fatalf("export and floor hold %d rows, want %d", rows, n)
	}
}

// seed creates a tenant with n channels of realistic configuration and about one Page per 10 channels
// (every 10th channel one, every 100th a second), with pgx's COPY FROM, then VACUUMs and ANALYZEs the tables
// as autovacuum would, so that it does not start during the measurements. Its channels, Pages and exports are
// deleted when the size's benchmark ends. The configuration is random but the same for every run (a fixed
// seed); the IDs are not.
func (e *exportBench) seed(b *testing.B, n int) string {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	now := time.Now().UTC()
	tenant := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: "export bench " + strconv.Itoa(n), CreatedAt: now}
	if err := e.store.CreateTenant(ctx, tenant); err != nil {
		b.Fatalf("CreateTenant: %v", err)
	}
	b.Cleanup(func() {
		for _, table := range []string{"pages", "channels", "exports"} {
			if _, err := e.store.DB().ExecContext(context.Background(), "DELETE FROM "+table+" WHERE tenant_id = ?", tenant.ID); err != nil {
				b.Errorf("delete %s: %v", table, err)
			}
		}
	})

	rng := rand.New(rand.NewPCG(uint64(n), 10))
	pools := newSeedPools()
	channels := make([][]any, n)
	var pages [][]any
	for i := range n {
		id := aicc.NewID(aicc.PrefixChannel)
		created := now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		updated := created.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		status := aicc.StatusActive
		switch r := rng.IntN(100); {
		case r < 5:
			status = aicc.StatusDisabled
		case r < 8:
			status = aicc.StatusAwaitingVerification
		}
		algorithm := aicc.AlgorithmSHA256
		if rng.IntN(10) == 0 {
			algorithm = aicc.AlgorithmSHA1
		}
		channels[i] = []any{
			id, tenant.ID, fmt.Sprintf("Support %s %06d", pools.regions[i%len(pools.regions)], i),
			strconv.FormatInt(1_000_000_000_000_000+int64(n)*1_000_000+int64(i), 10), string(algorithm),
			pools.basic(rng), pools.robot(rng), string(status), created, updated,
		}
		for k := range pagesOf(i) {
			pageID := strconv.FormatInt(100_000_000_000_000+int64(n)*1_000_000+int64(i)*10+int64(k), 10)
			pages = append(pages, []any{
				pageID, id, tenant.ID, fmt.Sprintf("Acme %s Store %d", pools.regions[(i+k)%len(pools.regions)], i/10+k),
				"key_1", aicc.RandomBytes(60), fmt.Sprintf("%x", aicc.RandomBytes(8)), updated, created,
			})
		}
	}
	err := e.raw(ctx, func(conn *pgx.Conn) error {
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"channels"}, []string{
			"id", "tenant_id", "name", "app_id", "algorithm", "basic", "robot", "status", "created_at", "updated_at",
		}, pgx.CopyFromRows(channels))
		if err != nil {
			return fmt.Errorf("copy channels: %w", err)
		}
		_, err = conn.CopyFrom(ctx, pgx.Identifier{"pages"}, []string{
			"page_id", "channel_id", "tenant_id", "name", "token_key_id", "token_ciphertext", "token_fingerprint",
			"token_updated_at", "created_at",
		}, pgx.CopyFromRows(pages))
		if err != nil {
			return fmt.Errorf("copy pages: %w", err)
		}
		_, err = conn.Exec(ctx, "VACUUM (ANALYZE) channels, pages")
		return err
	})
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	b.Logf("seeded %d channels and %d Pages in %v", n, len(pages), time.Since(start).Round(time.Millisecond))
	return tenant.ID
}

// pagesOf is how many Pages the i-th seeded channel has: one in ten has one, one in a hundred two.
func pagesOf(i int) int {
	switch {
	case i%100 == 0:
		return 2
	case i%10 == 0:
		return 1
	}
	return 0
}

// seedPools are the tenant's organisation units, skill queues and calendars that seeded channels refer to,
// and the words their settings are made of.
type seedPools struct {
	ous, queues, calendars []string
	regions, keywords      []string
}

func newSeedPools() *seedPools {
	ids := func(prefix string, k int) []string {
		s := make([]string, k)
		for i := range s {
			s[i] = aicc.NewID(prefix)
		}
		return s
	}
	return &seedPools{
		ous: ids(aicc.PrefixOU, 20), queues: ids(aicc.PrefixQueue, 50), calendars: ids(aicc.PrefixCalendar, 5),
		regions:  []string{"EMEA", "APAC", "LATAM", "North America", "Nordics", "DACH", "Benelux", "Iberia"},
		keywords: []string{"agent", "human", "人工", "operator", "talk to someone", "help; now", "representative", "客服"},
	}
}

func (p *seedPools) pick(rng *rand.Rand, from []string) string { return from[rng.IntN(len(from))] }

// basic returns a Basic Configuration as a tenant would set it: most features on, notices of a sentence or two
// (with commas, so that CSV quotes them), one to four keywords, a workday in two segments.
func (p *seedPools) basic(rng *rand.Rand) aicc.BasicConfig {
	keywords := slices.Clone(p.keywords)
	rng.Shuffle(len(keywords), func(i, j int) { keywords[i], keywords[j] = keywords[j], keywords[i] })
	b := aicc.BasicConfig{
		OUID: p.pick(rng, p.ous), SkillQueueID: p.pick(rng, p.queues), TransferKeywords: keywords[:1+rng.IntN(4)],
		WorkTime: aicc.WorkTime{
			Workday:    []aicc.TimeSegment{{Start: "08:00", End: "12:00"}, {Start: "13:00", End: "18:00"}},
			NonWorkday: []aicc.TimeSegment{},
		},
		NonWorkingTimeNotice: "Our agents are available Monday to Friday, 08:00–18:00. Leave a message, and we will get back to you.",
		LastAgent:            aicc.LastAgentMode{Enabled: rng.IntN(2) == 0, WindowMinutes: 30 + rng.IntN(1410)},
		NoCustomerReply: aicc.NoCustomerReplyEnd{
			Enabled: true, TimeoutMinutes: 10 + rng.IntN(50),
			EndMessage: "Thank you for contacting us. This conversation has ended, as we have not heard from you.",
		},
		NoAgentReply:    aicc.NoAgentReplyTransfer{Enabled: rng.IntN(3) > 0, TimeoutSeconds: 60 + rng.IntN(240)},
		SessionTransfer: aicc.SessionTransfer{TargetSkillQueueIDs: []string{}},
	}
	if rng.IntN(2) == 0 {
		b.WorkTime.NonWorkday = []aicc.TimeSegment{{Start: "10:00", End: "16:00"}}
	}
	if rng.IntN(3) > 0 {
		b.ServiceCalendarID = p.pick(rng, p.calendars)
	}
	if b.NoAgentReply.Enabled {
		b.NoAgentReply.TargetSkillQueueID = p.pick(rng, p.queues)
		b.NoAgentReply.Notice = "All our agents are busy; we are transferring you to another team."
	}
	if rng.IntN(2) == 0 {
		b.SessionTransfer.Enabled = true
		for range 1 + rng.IntN(3) {
			if q := p.pick(rng, p.queues); !slices.Contains(b.SessionTransfer.TargetSkillQueueIDs, q) {
				b.SessionTransfer.TargetSkillQueueIDs = append(b.SessionTransfer.TargetSkillQueueIDs, q)
			}
		}
	}
	return b
}

// robot returns a Robot Configuration: the robot on for four channels in five, the assistant for one in two.
func (p *seedPools) robot(rng *rand.Rand) aicc.RobotConfig {
	genders := []aicc.Gender{aicc.GenderFemale, aicc.GenderMale, aicc.GenderUnspecified}
	r := aicc.RobotConfig{Robot: aicc.IntelligentRobot{Avatar: 1 + rng.IntN(aicc.RobotAvatars), Gender: genders[rng.IntN(3)]}}
	if rng.IntN(5) > 0 {
		r.Robot.Enabled, r.Robot.AccessCode = true, fmt.Sprintf("rb-%05d", rng.IntN(100_000))
		r.Robot.Name = []string{"Ada", "Max", "Mei", "Sam", "Noor"}[rng.IntN(5)]
	}
	if rng.IntN(2) == 0 {
		r.Assistant = aicc.RobotAssistant{
			Enabled: true, AccessCode: fmt.Sprintf("as-%05d", rng.IntN(100_000)), SilentAgentSkillQueueID: p.pick(rng, p.queues),
		}
	}
	return r
}

// memory is what the Go runtime reports of the process's memory, in bytes.
type memory struct {
	heap   uint64 // heap in use: objects, live or not yet collected, plus unused bytes of their spans (MemStats.HeapInuse)
	live   uint64 // heap the last GC marked live
	mapped uint64 // everything the runtime maps and has not released to the OS (MemStats.Sys less HeapReleased)
}

// memMetrics are the runtime/metrics readMem reads; runtime/metrics, unlike ReadMemStats, stops no goroutine.
var memMetrics = []string{
	"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/gc/heap/live:bytes",
	"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes",
}

func readMem(s []metrics.Sample) memory {
	metrics.Read(s)
	v := func(i int) uint64 { return s[i].Value.Uint64() }
	return memory{heap: v(0) + v(1), live: v(2), mapped: v(3) - v(4)}
}

func (m memory) max(o memory) memory {
	return memory{heap: max(m.heap, o.heap), live: max(m.live, o.live), mapped: max(m.mapped, o.mapped)}
}

// memPeak is the memory before an export, just after a GC, and the most seen while it ran.
type memPeak struct{ base, peak memory }

// growth is how much each measure rose above its base.
func (p memPeak) growth() memory {
	return memory{heap: p.peak.heap - p.base.heap, live: p.peak.live - p.base.live, mapped: p.peak.mapped - p.base.mapped}
}

// heapSampler reads the memory at a fixed interval until stopped.
type heapSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	mem  memPeak
}

// sampleHeap records the memory now as the base and starts sampling every interval.
func sampleHeap(interval time.Duration) *heapSampler {
	s := make([]metrics.Sample, len(memMetrics))
	for i, name := range memMetrics {
		s[i].Name = name
	}
	h := &heapSampler{done: make(chan struct{})}
	h.mem.base = readMem(s)
	h.mem.peak = h.mem.base
	h.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			h.mem.peak = h.mem.peak.max(readMem(s))
			select {
			case <-h.done:
				return
			case <-t.C:
			}
		}
	})
	return h
}

// stop ends the sampling, after one last sample, and returns what it saw.
func (h *heapSampler) stop() memPeak {
	close(h.done)
	h.wg.Wait()
	return h.mem
}

// cpuTime is CPU time (user and system) used by this process and by the processes named postgres.
type cpuTime struct{ self, postgres time.Duration }

func (c cpuTime) add(o cpuTime) cpuTime { return cpuTime{c.self + o.self, c.postgres + o.postgres} }
func (c cpuTime) sub(o cpuTime) cpuTime { return cpuTime{c.self - o.self, c.postgres - o.postgres} }

// readCPU reads, from /proc/PID/stat, the CPU time used so far by this process and by every process of this
// machine named postgres, in clock ticks of 10 ms. Postgres processes that end in between are lost to the
// difference; the pool keeps its connections, so its backends live through a benchmark. Without /proc (not
// Linux), both are zero.
func readCPU() cpuTime {
	c := cpuTime{self: procCPU("/proc/self/stat", "")}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		c.postgres += procCPU(path, "postgres")
	}
	return c
}

// procCPU returns the user and system time of the process whose /proc stat file is at path, when its
// command is named comm or comm is ""; otherwise, or when it cannot tell, zero.
func procCPU(path, comm string) time.Duration {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0 // ended
	}
	// pid (comm) state ppid … utime stime: the 14th and 15th fields, counting from pid.
	open, end := bytes.IndexByte(raw, '('), bytes.LastIndexByte(raw, ')')
	if open < 0 || end < open || comm != "" && string(raw[open+1:end]) != comm {
		return 0
	}
	f := strings.Fields(string(raw[end+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

func mb(n uint64) float64 { return float64(n) / (1 << 20) }
