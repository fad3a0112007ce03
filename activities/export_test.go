package activities_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/export/exporttest"
)

// exportNow is the clock of the export activities in these tests.
var exportNow = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

// exportFixture is a migrated SQLite store with a tenant, export storage in memory that counts its writes, and
// the export activities over them.
type exportFixture struct {
	t      *testing.T
	ctx    context.Context
	store  *db.Store
	files  *countingFiles
	keys   *aicc.Keyring
	tenant string
}

func newExportFixture(t *testing.T) *exportFixture {
	t.Helper()
	ctx := context.Background()
	storage, err := export.OpenStorage(ctx, "mem://")
	require.NoError(t, err)
	t.Cleanup(func() { _ = storage.Close() })
	keys, err := aicc.NewKeyring(bytes.Repeat([]byte{9}, aicc.MasterKeySize))
	require.NoError(t, err)
	f := &exportFixture{t: t, ctx: ctx, store: dbtest.SQLite(t), keys: keys,
		files: &countingFiles{Storage: storage, puts: map[string]int{}, failOnce: map[string]bool{}}}
	f.tenant = f.newTenant("acme")
	return f
}

func (f *exportFixture) newTenant(name string) string {
	f.t.Helper()
	ten := &aicc.Tenant{Name: name, CreatedAt: exportNow}
	require.NoError(f.t, f.store.CreateTenant(f.ctx, ten))
	return ten.ID
}

// seed creates n channels of the tenant through the store, with no secrets, and returns their IDs in ID order.
// The creations share one transaction, Audited's (one entry for them all), which is several times faster than
// a commit each.
func (f *exportFixture) seed(tenantID string, n int) []string {
	f.t.Helper()
	start := time.Now()
	ids := make([]string, 0, n)
	entry := &aicc.AuditEntry{
		TenantID: tenantID, Actor: aicc.AuditActor{Type: aicc.ActorCLI, Command: "seed"}, Action: aicc.AuditChannelCreate,
		Target: aicc.AuditTarget{Type: aicc.TargetChannel, ID: "seed"}, At: exportNow,
	}
	err := f.store.Audited(f.ctx, entry, func(ctx context.Context) error {
		for i := range n {
			ch := aicc.DefaultChannel()
			ch.TenantID, ch.Name, ch.CreatedAt = tenantID, fmt.Sprintf("Seed %05d", i), exportNow
			ch.AppID = fmt.Sprintf("%s-%05d", tenantID, i) // app IDs are unique across tenants
			ch.Basic.TransferKeywords = []string{"agent", fmt.Sprint("kw", i%7)}
			if err := f.store.CreateChannel(ctx, &ch, aicc.ChannelSecrets{}); err != nil {
				return err
			}
			ids = append(ids, ch.ID)
		}
		return nil
	})
	require.NoError(f.t, err)
	f.t.Logf("seeded %d channels in %v", n, time.Since(start))
	slices.Sort(ids)
	return ids
}

// newExport stores a pending export of the tenant's channels sel matches, counted as the API counts them.
func (f *exportFixture) newExport(tenantID string, format aicc.ExportFormat, sel aicc.ExportSelection) *aicc.Export {
	f.t.Helper()
	n, unknown, err := f.store.MatchExportChannels(f.ctx, tenantID, sel)
	require.NoError(f.t, err)
	require.Empty(f.t, unknown)
	e := &aicc.Export{
		TenantID: tenantID, Selection: sel, Format: format, Total: n, CreatedAt: exportNow,
		CreatedBy: aicc.AuditActor{Type: aicc.ActorCLI, Command: "aicc export"},
	}
	require.NoError(f.t, f.store.CreateExport(f.ctx, e))
	return e
}

// env returns a fresh activity environment whose activities read exports from store (f.store when nil).
func (f *exportFixture) env(store aicc.ExportStore) (*testsuite.TestActivityEnvironment, *activities.Activities) {
	if store == nil {
		store = f.store
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	acts := &activities.Activities{Exports: store, ExportFiles: f.files, Now: func() time.Time { return exportNow }}
	env.RegisterActivity(acts)
	return env, acts
}

// write runs WriteExport for e in a fresh environment.
func (f *exportFixture) write(e *aicc.Export) ([]aicc.ExportFile, error) {
	f.t.Helper()
	env, acts := f.env(nil)
	return runWriteExport(env, acts, e)
}

func runWriteExport(env *testsuite.TestActivityEnvironment, acts *activities.Activities, e *aicc.Export) ([]aicc.ExportFile, error) {
	v, err := env.ExecuteActivity(acts.WriteExport, activities.ExportInput{TenantID: e.TenantID, ExportID: e.ID})
	if err != nil {
		return nil, err
	}
	var files []aicc.ExportFile
	return files, v.Get(&files)
}

// read returns the bytes of the export's file name.
func (f *exportFixture) read(exportID, name string) []byte {
	f.t.Helper()
	r, err := f.files.Open(f.ctx, export.Key(exportID, name))
	require.NoError(f.t, err, name)
	defer r.Close()
	b, err := io.ReadAll(r)
	require.NoError(f.t, err)
	return b
}

func (f *exportFixture) exists(exportID, name string) bool {
	f.t.Helper()
	ok, err := f.files.Exists(f.ctx, export.Key(exportID, name))
	require.NoError(f.t, err)
	return ok
}

// exportObjects are the names of every object of the export: its files, the manifest and the zip.
func exportObjects(files []aicc.ExportFile) []string {
	var all []string
	for _, file := range files {
		all = append(all, file.Name)
	}
	return append(all, export.ManifestName, export.ZipName)
}

// countingFiles is the export storage with every Put counted by key; a key in failOnce has its next Put fail
// midway, after part of the file was written, as when the worker or the store goes away.
type countingFiles struct {
	*export.Storage
	mu       sync.Mutex
	puts     map[string]int
	failOnce map[string]bool
}

func (c *countingFiles) Put(ctx context.Context, key string, write func(w io.Writer) error) error {
	c.mu.Lock()
	c.puts[key]++
	fail := c.failOnce[key]
	delete(c.failOnce, key)
	c.mu.Unlock()
	if !fail {
		return c.Storage.Put(ctx, key, write)
	}
	return c.Storage.Put(ctx, key, func(w io.Writer) error {
		return write(&brokenWriter{w: w, left: 4096})
	})
}

func (c *countingFiles) putsOf(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.puts[key]
}

func (c *countingFiles) totalPuts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.puts {
		n += p
	}
	return n
}

// brokenWriter takes left bytes, then fails.
type brokenWriter struct {
	w    io.Writer
	left int
}

func (b *brokenWriter) Write(p []byte) (int, error) {
	if len(p) > b.left {
		n, _ := b.w.Write(p[:b.left])
		b.left = 0
		return n, errors.New("connection reset by peer")
	}
	b.left -= len(p)
	return b.w.Write(p)
}

// checkExport checks everything the export wrote against files, what WriteExport returned: the split into
// files of aicc.MaxExportFileRecords, their names, each with its header row, sizes and checksums, the
// manifest and the zip. It returns the data rows of all files, in order, and requires their channel IDs to be
// wantIDs.
func (f *exportFixture) checkExport(e *aicc.Export, files []aicc.ExportFile, wantIDs []string) [][]string {
	t := f.t
	t.Helper()
	n := len(wantIDs)
	wantFiles := max(1, (n+aicc.MaxExportFileRecords-1)/aicc.MaxExportFileRecords)
	require.Len(t, files, wantFiles, "files for %d records", n)

	var rows [][]string
	var ids []string
	for i, file := range files {
		require.Equal(t, fmt.Sprintf("channels-%04d.%s", i+1, e.Format), file.Name)
		want := aicc.MaxExportFileRecords
		if i == len(files)-1 {
			want = n - i*aicc.MaxExportFileRecords
		}
		require.Equal(t, want, file.Records, file.Name)

		b := f.read(e.ID, file.Name)
		require.EqualValues(t, len(b), file.Bytes, file.Name)
		sum := sha256.Sum256(b)
		require.Equal(t, hex.EncodeToString(sum[:]), file.SHA256, file.Name)

		cells := exporttest.Cells(t, e.Format, b)
		require.NotEmpty(t, cells, file.Name)
		require.Equal(t, export.Columns(), cells[0], "%s starts with the header row", file.Name)
		require.Len(t, cells[1:], file.Records, file.Name)
		for _, row := range cells[1:] {
			ids = append(ids, row[0])
		}
		rows = append(rows, cells[1:]...)
	}
	if wantIDs == nil {
		wantIDs = []string{}
	}
	if ids == nil {
		ids = []string{}
	}
	require.Equal(t, wantIDs, ids, "every channel once, in ID order")

	var m export.Manifest
	manifest := f.read(e.ID, export.ManifestName)
	require.NoError(t, json.Unmarshal(manifest, &m))
	require.Equal(t, export.Manifest{
		SchemaVersion: aicc.ExportSchemaVersion, ExportID: e.ID, CreatedAt: e.CreatedAt.UTC(), Format: e.Format,
		Selection: e.Selection, Records: n, Files: files,
	}, m)

	zipped := f.read(e.ID, export.ZipName)
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	require.NoError(t, err)
	var entries []string
	for _, entry := range zr.File {
		entries = append(entries, entry.Name)
		r, err := entry.Open()
		require.NoError(t, err)
		b, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		require.Equal(t, f.read(e.ID, entry.Name), b, "the zip's %s is the file", entry.Name)
		if entry.Name != export.ManifestName {
			sum := sha256.Sum256(b)
			require.Equal(t, hex.EncodeToString(sum[:]), m.Files[slices.IndexFunc(m.Files, func(mf aicc.ExportFile) bool {
				return mf.Name == entry.Name
			})].SHA256, "the manifest's checksum of %s matches the zipped bytes", entry.Name)
		}
	}
	require.Equal(t, exportObjects(files)[:len(files)+1], entries, "the zip holds the files in order, then the manifest")
	return rows
}

// TestWriteExportSplit exports 0, 1, 2,000, 2,001 and 4,001 channels: files of 2,000 records at most, the last
// one short, an export of nothing one file with the header alone, every channel once in ID order, and the
// progress recorded in the store after each file.
func TestWriteExportSplit(t *testing.T) {
	f := newExportFixture(t)
	ids := f.seed(f.tenant, 4001)
	empty := f.newTenant("empty")
	other := f.newTenant("other")
	otherIDs := f.seed(other, 3) // never in f.tenant's exports

	every := func(from int) []string { // every other ID, from the index from
		var sel []string
		for i := from; i < len(ids); i += 2 {
			sel = append(sel, ids[i])
		}
		return sel
	}
	require.Len(t, every(1), 2000)
	require.Len(t, every(0), 2001)
	for _, tc := range []struct {
		name   string
		tenant string
		sel    []string // the selected channel IDs; none selects every channel of the tenant
		want   []string
		sizes  []int
	}{
		{"0", empty, nil, nil, []int{0}},
		{"1", f.tenant, ids[4000:], ids[4000:], []int{1}},
		{"2000", f.tenant, every(1), every(1), []int{2000}},
		{"2001", f.tenant, every(0), every(0), []int{2000, 1}},
		{"4001 all", f.tenant, nil, ids, []int{2000, 2000, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			e := f.newExport(tc.tenant, aicc.ExportCSV, aicc.ExportSelection{ChannelIDs: tc.sel})
			require.Equal(t, len(tc.want), e.Total)
			started := exportNow.Add(-time.Minute) // as the workflow records it
			require.NoError(t, f.store.SetExportProgress(f.ctx, e.ID, aicc.ExportProgress{
				Status: aicc.ExportRunning, Total: e.Total, StartedAt: started, UpdatedAt: started,
			}))
			store := &progressStore{Store: f.store}
			env, acts := f.env(store)

			files, err := runWriteExport(env, acts, e)
			require.NoError(t, err)

			var sizes []int
			for _, file := range files {
				sizes = append(sizes, file.Records)
			}
			require.Equal(t, tc.sizes, sizes)
			rows := f.checkExport(e, files, tc.want)
			for _, row := range rows {
				require.NotContains(t, otherIDs, row[0], "another tenant's channel")
			}
			if len(tc.want) == 0 {
				require.Equal(t, strings.Join(export.Columns(), ",")+"\n", string(f.read(e.ID, files[0].Name)),
					"an export of nothing is the header alone")
			}

			// The progress is recorded after each file, with the total the API counted.
			var steps, wantSteps []progressStep
			for _, p := range store.progress {
				steps = append(steps, progressStep{p.RecordsDone, p.FilesDone, p.Total})
				assert.Equal(t, aicc.ExportRunning, p.Status)
				assert.True(t, p.StartedAt.Equal(started), "the start is kept")
				assert.True(t, p.UpdatedAt.Equal(exportNow))
			}
			done := 0
			for i, size := range tc.sizes {
				done += size
				wantSteps = append(wantSteps, progressStep{done, i + 1, len(tc.want)})
			}
			require.Equal(t, wantSteps, steps)
			got, err := f.store.GetExport(f.ctx, tc.tenant, e.ID)
			require.NoError(t, err)
			assert.Equal(t, aicc.ExportRunning, got.Status, "WriteExport records progress; the workflow records the end")
			assert.Equal(t, len(tc.want), got.RecordsDone)
			assert.Equal(t, len(files), got.FilesDone)
			assert.Equal(t, len(tc.want), got.Total)
		})
	}
}

// progressStep is a progress WriteExport recorded: records done, files done and the total.
type progressStep struct{ records, files, total int }

// progressStore records every progress written to the store.
type progressStore struct {
	*db.Store
	mu       sync.Mutex
	progress []aicc.ExportProgress
}

func (s *progressStore) SetExportProgress(ctx context.Context, id string, p aicc.ExportProgress) error {
	s.mu.Lock()
	s.progress = append(s.progress, p)
	s.mu.Unlock()
	return s.Store.SetExportProgress(ctx, id, p)
}

// richChannels creates channels with awkward text in every setting, Pages, and a canary in every secret: the
// app secret, the verify token and the Page tokens. It returns the canaries.
func (f *exportFixture) richChannels(tenantID string) []string {
	f.t.Helper()
	var canaries []string
	for i, name := range []string{"Ventes, \"EU\"", "Support; 24/7", "Ünïcödé 客服", " leading space", "multi\nline"} {
		ch := aicc.DefaultChannel()
		ch.ID, ch.TenantID, ch.Name, ch.CreatedAt = aicc.NewID(aicc.PrefixChannel), tenantID, name, exportNow.Add(time.Duration(i)*time.Second)
		ch.AppID = fmt.Sprintf("%s-%d", tenantID, 9000+i)
		ch.Algorithm = aicc.AlgorithmSHA1
		ch.Basic.OUID, ch.Basic.SkillQueueID = "ou_"+fmt.Sprint(i), "sq_"+fmt.Sprint(i)
		ch.Basic.TransferKeywords = []string{"human", "a;b", `back\slash`, "agent, please"}
		ch.Basic.WorkTime.Workday = []aicc.TimeSegment{{Start: "08:00", End: "12:00"}, {Start: "13:00", End: "18:00"}}
		ch.Basic.WorkTime.NonWorkday = []aicc.TimeSegment{{Start: "10:00", End: "14:00"}}
		ch.Basic.NonWorkingTimeNotice = "We are closed. <b>Back</b> at 8 & later"
		ch.Basic.NoCustomerReply = aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 15, EndMessage: "Bye, \"friend\""}
		ch.Basic.SessionTransfer = aicc.SessionTransfer{Enabled: true, TargetSkillQueueIDs: []string{"sq_2", "sq_3"}}
		ch.Robot.Robot = aicc.IntelligentRobot{Enabled: true, AccessCode: "robot-code", Name: "Bot " + fmt.Sprint(i), Avatar: 3, Gender: aicc.GenderUnspecified}
		appSecret, verify := fmt.Sprintf("CANARY-APP-SECRET-%d-7f3a", i), fmt.Sprintf("CANARY-VERIFY-TOKEN-%d-91bc", i)
		canaries = append(canaries, appSecret, verify)
		require.NoError(f.t, f.store.CreateChannel(f.ctx, &ch, aicc.ChannelSecrets{
			AppSecret:   f.keys.Seal(appSecret, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), exportNow),
			VerifyToken: f.keys.Seal(verify, aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), exportNow),
		}))
		for j := range 2 {
			pageID := fmt.Sprint(100000 + 10*i + j)
			token := fmt.Sprintf("CANARY-PAGE-TOKEN-%s-e4d2", pageID)
			canaries = append(canaries, token)
			require.NoError(f.t, f.store.AddPage(f.ctx, &aicc.Page{
				PageID: pageID, ChannelID: ch.ID, TenantID: tenantID, Name: "Page " + pageID, CreatedAt: exportNow,
			}, f.keys.Seal(token, aicc.PageTokenOwner(pageID), exportNow)))
		}
	}
	return canaries
}

// allRecords reads every record of the selection from the store, in ID order.
func (f *exportFixture) allRecords(tenantID string, sel aicc.ExportSelection) []aicc.ExportRecord {
	f.t.Helper()
	var all []aicc.ExportRecord
	after := ""
	for {
		batch, err := f.store.ExportRecords(f.ctx, tenantID, sel, after, aicc.MaxExportFileRecords)
		require.NoError(f.t, err)
		if len(batch) == 0 {
			return all
		}
		all = append(all, batch...)
		after = batch[len(batch)-1].ChannelID
	}
}

// The three formats hold the same records, the store's; the same data exports to the same bytes, whatever the
// export's ID.
func TestWriteExportFormatsAndDeterminism(t *testing.T) {
	f := newExportFixture(t)
	f.richChannels(f.tenant)
	f.seed(f.tenant, 2001)
	records := f.allRecords(f.tenant, aicc.ExportSelection{})
	require.Len(t, records, 2006)
	var want [][]string
	var wantIDs []string
	for _, r := range records {
		want = append(want, export.Row(r))
		wantIDs = append(wantIDs, r.ChannelID)
	}

	cells := map[aicc.ExportFormat][][]string{}
	for _, format := range aicc.ExportFormats {
		t.Run(string(format), func(t *testing.T) {
			f.t = t
			first := f.newExport(f.tenant, format, aicc.ExportSelection{})
			firstFiles, err := f.write(first)
			require.NoError(t, err)
			cells[format] = f.checkExport(first, firstFiles, wantIDs)
			require.Equal(t, want, cells[format], "the files hold the store's records")

			second := f.newExport(f.tenant, format, aicc.ExportSelection{})
			secondFiles, err := f.write(second)
			require.NoError(t, err)
			require.NotEqual(t, first.ID, second.ID)
			require.Equal(t, firstFiles, secondFiles, "the same names, counts, sizes and checksums")
			for _, file := range firstFiles {
				require.Equal(t, f.read(first.ID, file.Name), f.read(second.ID, file.Name), "%s is byte-identical", file.Name)
			}
		})
	}
	f.t = t
	require.Equal(t, cells[aicc.ExportCSV], cells[aicc.ExportXLSX], "xlsx holds the csv's records")
	require.Equal(t, cells[aicc.ExportCSV], cells[aicc.ExportJSONL], "jsonl holds the csv's records")
}

// unzipped returns b and, when b is a zip (the export's zip, an XLSX file), what each entry holds, recursively,
// so that a search of it also searches compressed content.
func unzipped(t *testing.T, b []byte) [][]byte {
	t.Helper()
	out := [][]byte{b}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return out
	}
	for _, entry := range zr.File {
		r, err := entry.Open()
		require.NoError(t, err)
		content, err := io.ReadAll(r)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		out = append(out, unzipped(t, content)...)
	}
	return out
}

// No secret reaches an export: no app secret, verify token or Page token is in any file, the manifest or the
// zip, compressed or not.
func TestWriteExportCarriesNoSecret(t *testing.T) {
	f := newExportFixture(t)
	canaries := f.richChannels(f.tenant)
	require.Len(t, canaries, 5*4)

	// The canaries are in the store, so that their absence from the export means something.
	ch := f.allRecords(f.tenant, aicc.ExportSelection{})[0]
	sealed, err := f.store.ChannelSecret(f.ctx, ch.ChannelID, aicc.SecretAppSecret)
	require.NoError(t, err)
	value, err := f.keys.Open(sealed, aicc.ChannelSecretOwner(ch.ChannelID, aicc.SecretAppSecret))
	require.NoError(t, err)
	require.True(t, slices.Contains(canaries, value))
	require.Len(t, ch.Pages, 2, "the Pages are exported, their tokens are not")

	for _, format := range aicc.ExportFormats {
		t.Run(string(format), func(t *testing.T) {
			f.t = t
			e := f.newExport(f.tenant, format, aicc.ExportSelection{})
			files, err := f.write(e)
			require.NoError(t, err)
			var searched int
			for _, name := range exportObjects(files) {
				for _, b := range unzipped(t, f.read(e.ID, name)) {
					searched++
					require.NotContains(t, string(b), "CANARY", "%s holds a secret", name)
					for _, canary := range canaries {
						require.NotContains(t, string(b), canary, "%s holds a secret", name)
						require.NotContains(t, string(b), f.keys.Fingerprint(canary), "%s holds a secret's fingerprint", name)
					}
				}
			}
			require.Greater(t, searched, len(exportObjects(files)), "the zip's entries were searched too")
			require.Contains(t, string(f.read(e.ID, export.ZipName)), "channels-0001."+string(format))
			if format != aicc.ExportXLSX {
				require.Contains(t, string(f.read(e.ID, files[0].Name)), "Page 100000", "the Pages are exported")
			}
		})
	}
}

// exportPosition is what WriteExport heartbeats, read back for the retry.
type exportPosition struct {
	Files []aicc.ExportFile
	After string
}

// A WriteExport that fails mid-way, with the third of three files half written, resumes from its heartbeat:
// the first two files are not written again, and every record is in the files once.
func TestWriteExportResumesAfterTheLastWholeFile(t *testing.T) {
	f := newExportFixture(t)
	ids := f.seed(f.tenant, 5000)
	e := f.newExport(f.tenant, aicc.ExportCSV, aicc.ExportSelection{})
	key := func(n int) string { return export.Key(e.ID, export.FileName(aicc.ExportCSV, n)) }
	f.files.failOnce[key(3)] = true

	env, acts := f.env(nil)
	var (
		mu         sync.Mutex
		heartbeats []exportPosition
	)
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var pos exportPosition
		assert.NoError(t, details.Get(&pos))
		mu.Lock()
		defer mu.Unlock()
		heartbeats = append(heartbeats, pos)
	})
	_, err := runWriteExport(env, acts, e)
	require.ErrorContains(t, err, "connection reset by peer")
	require.True(t, f.exists(e.ID, export.FileName(aicc.ExportCSV, 2)))
	require.False(t, f.exists(e.ID, export.FileName(aicc.ExportCSV, 3)), "a file that failed is not left half written")
	require.False(t, f.exists(e.ID, export.ManifestName))
	require.False(t, f.exists(e.ID, export.ZipName))

	mu.Lock()
	require.NotEmpty(t, heartbeats)
	last := heartbeats[len(heartbeats)-1]
	heartbeats = nil
	mu.Unlock()
	require.Len(t, last.Files, 2, "the position after the second file")
	require.Equal(t, ids[3999], last.After)

	env.SetHeartbeatDetails(last)
	files, err := runWriteExport(env, acts, e)
	require.NoError(t, err)
	require.Len(t, files, 3)
	require.Equal(t, last.Files, files[:2], "the files of the first attempt, as they were")
	total := 0
	for _, file := range files {
		total += file.Records
	}
	require.Equal(t, 5000, total)
	f.checkExport(e, files, ids) // no duplicate, none missing
	assert.Equal(t, 1, f.files.putsOf(key(1)), "file 1 is not written again")
	assert.Equal(t, 1, f.files.putsOf(key(2)), "file 2 is not written again")
	assert.Equal(t, 2, f.files.putsOf(key(3)), "file 3: the failed write and the retry")
	assert.Equal(t, 1, f.files.putsOf(export.Key(e.ID, export.ManifestName)))
	assert.Equal(t, 1, f.files.putsOf(export.Key(e.ID, export.ZipName)))
	assert.Equal(t, 6, f.files.totalPuts())

	got, err := f.store.GetExport(f.ctx, f.tenant, e.ID)
	require.NoError(t, err)
	assert.Equal(t, 5000, got.RecordsDone)
	assert.Equal(t, 3, got.FilesDone)
}

// syntheticStore serves channels ch_000000, ch_000001, … up to n, without a database, for the limit; the
// export itself is the store's.
type syntheticStore struct {
	*db.Store
	n     int
	reads int
}

func (s *syntheticStore) ExportRecords(_ context.Context, _ string, _ aicc.ExportSelection, after string, limit int) ([]aicc.ExportRecord, error) {
	s.reads++
	next := 0
	if after != "" {
		_, err := fmt.Sscanf(after, "ch_%06d", &next)
		if err != nil {
			return nil, err
		}
		next++
	}
	batch := []aicc.ExportRecord{}
	for i := next; i < s.n && len(batch) < limit; i++ {
		batch = append(batch, aicc.ExportRecord{
			ChannelID: fmt.Sprintf("ch_%06d", i), Name: fmt.Sprint("Channel ", i), AppID: fmt.Sprint(i),
			Algorithm: aicc.AlgorithmSHA256, Status: aicc.StatusActive, Pages: []aicc.ExportPage{},
		})
	}
	return batch, nil
}

// An export holds at most aicc.MaxExportRecords channels: exactly that many is exported, one more (channels
// created since the export was asked for) fails it as EXPORT_TOO_LARGE, not retried, rather than truncating it.
func TestWriteExportLimit(t *testing.T) {
	f := newExportFixture(t)

	t.Run("at the limit", func(t *testing.T) {
		f.t = t
		e := f.newExport(f.tenant, aicc.ExportCSV, aicc.ExportSelection{})
		store := &syntheticStore{Store: f.store, n: aicc.MaxExportRecords}
		env, acts := f.env(store)
		files, err := runWriteExport(env, acts, e)
		require.NoError(t, err)
		require.Len(t, files, aicc.MaxExportRecords/aicc.MaxExportFileRecords)
		for _, file := range files {
			require.Equal(t, aicc.MaxExportFileRecords, file.Records)
		}
		require.True(t, f.exists(e.ID, export.ZipName))
	})

	t.Run("over the limit", func(t *testing.T) {
		f.t = t
		e := f.newExport(f.tenant, aicc.ExportCSV, aicc.ExportSelection{})
		store := &syntheticStore{Store: f.store, n: aicc.MaxExportRecords + 1}
		env, acts := f.env(store)
		before := f.files.totalPuts()
		_, err := runWriteExport(env, acts, e)
		appError(t, err, aicc.EEXPORTTOOLARGE, true)
		assert.Equal(t, aicc.MaxExportRecords/aicc.MaxExportFileRecords+1, store.reads, "it stops at the batch past the limit")
		assert.Equal(t, aicc.MaxExportRecords/aicc.MaxExportFileRecords, f.files.totalPuts()-before,
			"the files up to the limit, then nothing")
		assert.False(t, f.exists(e.ID, export.ManifestName), "no manifest of a truncated export")
		assert.False(t, f.exists(e.ID, export.ZipName), "no zip of a truncated export")
	})
}

// An export is read in its tenant: another tenant's ID finds nothing, and nothing is written.
func TestWriteExportInAnotherTenant(t *testing.T) {
	f := newExportFixture(t)
	f.seed(f.tenant, 3)
	e := f.newExport(f.tenant, aicc.ExportCSV, aicc.ExportSelection{})
	other := f.newTenant("other")
	env, acts := f.env(nil)
	_, err := env.ExecuteActivity(acts.WriteExport, activities.ExportInput{TenantID: other, ExportID: e.ID})
	appError(t, err, aicc.ENOTFOUND, false) // the workflow's retry policy stops on NOT_FOUND
	assert.Zero(t, f.files.totalPuts())
	got, err := f.store.GetExport(f.ctx, f.tenant, e.ID)
	require.NoError(t, err)
	assert.Equal(t, aicc.ExportPending, got.Status)
	assert.Zero(t, got.FilesDone)
}

// DeleteExportFiles removes every file of the export, and those of no other; it is idempotent.
func TestDeleteExportFiles(t *testing.T) {
	f := newExportFixture(t)
	store := &syntheticStore{Store: f.store, n: 2001}
	env, acts := f.env(store)
	doomed := f.newExport(f.tenant, aicc.ExportJSONL, aicc.ExportSelection{})
	kept := f.newExport(f.tenant, aicc.ExportJSONL, aicc.ExportSelection{})
	doomedFiles, err := runWriteExport(env, acts, doomed)
	require.NoError(t, err)
	keptFiles, err := runWriteExport(env, acts, kept)
	require.NoError(t, err)
	require.Len(t, doomedFiles, 2)
	for _, name := range exportObjects(doomedFiles) {
		require.True(t, f.exists(doomed.ID, name), name)
	}

	for range 2 {
		_, err := env.ExecuteActivity(acts.DeleteExportFiles, activities.ExportInput{TenantID: f.tenant, ExportID: doomed.ID})
		require.NoError(t, err)
		for _, name := range exportObjects(doomedFiles) {
			assert.False(t, f.exists(doomed.ID, name), "%s is deleted", name)
		}
	}
	for _, name := range exportObjects(keptFiles) {
		assert.True(t, f.exists(kept.ID, name), "another export's %s is kept", name)
	}
}

// RecordExport writes the workflow's progress; a progress with no total (the workflow does not know the count
// the API took) keeps the stored one, until the export succeeds with the count it wrote.
func TestRecordExport(t *testing.T) {
	f := newExportFixture(t)
	f.seed(f.tenant, 7)
	e := f.newExport(f.tenant, aicc.ExportCSV, aicc.ExportSelection{})
	require.Equal(t, 7, e.Total)
	env, acts := f.env(nil)
	record := func(p aicc.ExportProgress) *aicc.Export {
		t.Helper()
		_, err := env.ExecuteActivity(acts.RecordExport, activities.RecordExportInput{TenantID: f.tenant, ExportID: e.ID, Progress: p})
		require.NoError(t, err)
		got, err := f.store.GetExport(f.ctx, f.tenant, e.ID)
		require.NoError(t, err)
		return got
	}

	got := record(aicc.ExportProgress{Status: aicc.ExportRunning, StartedAt: exportNow, UpdatedAt: exportNow})
	assert.Equal(t, aicc.ExportRunning, got.Status)
	assert.Equal(t, 7, got.Total, "the API's count is kept while the export runs")
	assert.True(t, got.StartedAt.Equal(exportNow))

	files := []aicc.ExportFile{{Name: "channels-0001.csv", Records: 6, Bytes: 10, SHA256: "ab"}}
	later := exportNow.Add(time.Minute)
	got = record(aicc.ExportProgress{
		Status: aicc.ExportSuccess, Total: 6, RecordsDone: 6, FilesDone: 1, Files: files, StartedAt: exportNow,
		FinishedAt: later, ExpiresAt: later.Add(time.Hour), UpdatedAt: later,
	})
	assert.Equal(t, aicc.ExportSuccess, got.Status)
	assert.Equal(t, 6, got.Total, "a success states the count it wrote")
	assert.Equal(t, files, got.Files)
	assert.True(t, got.ExpiresAt.Equal(later.Add(time.Hour)))

	_, err := env.ExecuteActivity(acts.RecordExport, activities.RecordExportInput{TenantID: f.newTenant("x"), ExportID: e.ID,
		Progress: aicc.ExportProgress{Status: aicc.ExportFailed, ErrorCode: aicc.EINTERNAL}})
	appError(t, err, aicc.ENOTFOUND, false)
	got, err = f.store.GetExport(f.ctx, f.tenant, e.ID)
	require.NoError(t, err)
	assert.Equal(t, aicc.ExportSuccess, got.Status, "another tenant's ID changes nothing")
}

// metric returns the value of the counter, or the sample count of the histogram, name with the label result
// (or none), as the registry serves it.
func metric(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			matches := result == ""
			for _, l := range m.GetLabel() {
				matches = matches || l.GetName() == "result" && l.GetValue() == result
			}
			if !matches {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s{result=%q}", name, result)
	return 0
}

// An export is counted once by result, when it first finishes: a success cancelled during its retention and a
// retried RecordExport are not counted again; the bytes of the files are counted once they are all written.
func TestExportMetrics(t *testing.T) {
	f := newExportFixture(t)
	reg := prometheus.NewRegistry()
	env, acts := f.env(&syntheticStore{Store: f.store, n: 2001})
	acts.ExportMetrics = activities.NewExportMetrics(reg)
	e := f.newExport(f.tenant, aicc.ExportCSV, aicc.ExportSelection{})
	record := func(p aicc.ExportProgress) {
		t.Helper()
		_, err := env.ExecuteActivity(acts.RecordExport, activities.RecordExportInput{TenantID: f.tenant, ExportID: e.ID, Progress: p})
		require.NoError(t, err)
	}

	record(aicc.ExportProgress{Status: aicc.ExportRunning, StartedAt: exportNow})
	files, err := runWriteExport(env, acts, e)
	require.NoError(t, err)
	var bytes int64
	for _, file := range files {
		bytes += file.Bytes
	}
	assert.EqualValues(t, bytes, metric(t, reg, "aicc_export_bytes_total", ""))
	success := aicc.ExportProgress{
		Status: aicc.ExportSuccess, Total: 2001, RecordsDone: 2001, FilesDone: len(files), Files: files,
		StartedAt: exportNow, FinishedAt: exportNow.Add(3 * time.Second), ExpiresAt: exportNow.Add(time.Hour),
	}
	record(success)
	record(success) // a retry
	record(aicc.ExportProgress{Status: aicc.ExportCancelled, StartedAt: exportNow, FinishedAt: exportNow.Add(time.Minute)})

	assert.Equal(t, 1.0, metric(t, reg, "aicc_exports_total", "success"))
	assert.Equal(t, 0.0, metric(t, reg, "aicc_exports_total", "cancelled"), "a success cancelled later is one export")
	assert.Equal(t, 0.0, metric(t, reg, "aicc_exports_total", "failed"))
	assert.Equal(t, 2001.0, metric(t, reg, "aicc_export_records_total", ""))
	assert.Equal(t, 1.0, metric(t, reg, "aicc_export_duration_seconds", ""))

	other := f.newExport(f.tenant, aicc.ExportCSV, aicc.ExportSelection{})
	_, err = env.ExecuteActivity(acts.RecordExport, activities.RecordExportInput{TenantID: f.tenant, ExportID: other.ID,
		Progress: aicc.ExportProgress{Status: aicc.ExportFailed, ErrorCode: aicc.EINTERNAL}})
	require.NoError(t, err)
	assert.Equal(t, 1.0, metric(t, reg, "aicc_exports_total", "failed"))
}
