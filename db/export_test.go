package db_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

func TestMatchExportChannels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		chs := map[string]*aicc.Channel{}
		for i, name := range []string{"Sales_EU", "sales_us", "Support", "a_b", "Ops", "Sales_old"} {
			chs[name] = newChannel(t, s, a.ID, name, fmt.Sprint(1000+i))
		}
		for _, name := range []string{"Sales_EU", "Support", "a_b"} {
			require.NoError(t, s.SetOnboarding(ctx, chs[name].ID, aicc.Onboarding{Status: aicc.StatusActive, UpdatedAt: now}))
		}
		gone := chs["Sales_old"]
		require.NoError(t, s.MarkChannelDeleting(ctx, gone.ID, now))
		foreign := newChannel(t, s, b.ID, "sales_b", "2000")

		for _, tc := range []struct {
			sel  aicc.ExportSelection
			want int
		}{
			{aicc.ExportSelection{}, 5},
			{aicc.ExportSelection{Status: aicc.StatusActive}, 3},
			{aicc.ExportSelection{Status: aicc.StatusDeleting}, 0},
			{aicc.ExportSelection{Name: "SALES"}, 2},
			{aicc.ExportSelection{Name: "a_"}, 1},
			{aicc.ExportSelection{Name: "%"}, 0},
			{aicc.ExportSelection{Name: "s", Status: aicc.StatusActive}, 2},
		} {
			n, unknown, err := s.MatchExportChannels(ctx, a.ID, tc.sel)
			require.NoError(t, err)
			require.Equal(t, tc.want, n, "%+v", tc.sel)
			require.Empty(t, unknown)
			listed, _, err := s.ListChannels(ctx, a.ID, aicc.ChannelFilter{Status: tc.sel.Status, Name: tc.sel.Name})
			require.NoError(t, err)
			listed = slices.DeleteFunc(listed, func(ch *aicc.Channel) bool { return ch.Onboarding.Status == aicc.StatusDeleting })
			require.Len(t, listed, n, "the list filters alike: %+v", tc.sel)
		}

		ids := []string{chs["sales_us"].ID, chs["Sales_EU"].ID, chs["Sales_EU"].ID, chs["Ops"].ID, foreign.ID, gone.ID, "ch_missing"}
		missing := make([]string, 2500) // more than one query's worth
		for i := range missing {
			missing[i] = fmt.Sprintf("ch_none%04d", i)
		}
		wantUnknown := slices.Sorted(slices.Values(append([]string{foreign.ID, gone.ID, "ch_missing"}, missing...)))
		for _, tc := range []struct {
			sel  aicc.ExportSelection
			want int
		}{
			{aicc.ExportSelection{}, 3},
			{aicc.ExportSelection{Status: aicc.StatusActive}, 1},
			{aicc.ExportSelection{Name: "US"}, 1},
			{aicc.ExportSelection{Name: "nothing"}, 0},
		} {
			tc.sel.ChannelIDs = append(append([]string{}, ids...), missing...)
			n, unknown, err := s.MatchExportChannels(ctx, a.ID, tc.sel)
			require.NoError(t, err)
			require.Equal(t, tc.want, n, "%+v", tc.sel)
			require.Equal(t, wantUnknown, unknown, "another tenant's and deleting channels are unknown, failing a filter is not")
		}
		n, unknown, err := s.MatchExportChannels(ctx, b.ID, aicc.ExportSelection{ChannelIDs: []string{foreign.ID}})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Empty(t, unknown)
	})
}

func TestExportRecords(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		start := time.Now()
		seeded := seedChannels(t, s, a.ID, 2501, "a")
		foreign := seedChannels(t, s, b.ID, 20, "b")
		t.Logf("seeded %d channels in %v", len(seeded)+len(foreign), time.Since(start))
		gone := newChannel(t, s, a.ID, "zz gone", "gone")
		require.NoError(t, s.MarkChannelDeleting(ctx, gone.ID, now))
		withPages := []string{seeded[0], seeded[1200], seeded[2500]}
		for _, id := range withPages {
			for _, page := range []string{"30", "10", "20"} {
				addPage(t, s, &aicc.Channel{ID: id, TenantID: a.ID}, id+"-"+page)
			}
		}
		addPage(t, s, &aicc.Channel{ID: foreign[0], TenantID: b.ID}, "foreign-page")

		all := walkRecords(t, s, a.ID, aicc.ExportSelection{}, aicc.MaxExportFileRecords, []int{2000, 501, 0})
		require.Equal(t, slices.Sorted(slices.Values(seeded)), recordIDs(all), "every channel once, in ID order")
		for _, r := range all {
			if slices.Contains(withPages, r.ChannelID) {
				want := []aicc.ExportPage{}
				for _, page := range []string{"10", "20", "30"} {
					want = append(want, aicc.ExportPage{PageID: r.ChannelID + "-" + page, Name: "Page " + r.ChannelID + "-" + page})
				}
				require.Equal(t, want, r.Pages)
			} else {
				require.Equal(t, []aicc.ExportPage{}, r.Pages)
			}
		}

		// The filters select as they count.
		sel := aicc.ExportSelection{Name: "SEED 00", Status: aicc.StatusActive}
		n, _, err := s.MatchExportChannels(ctx, a.ID, sel)
		require.NoError(t, err)
		require.Equal(t, 10, n, "seed 0000 to 0099, every tenth active")
		got := walkRecords(t, s, a.ID, sel, 3, []int{3, 3, 3, 1, 0})
		for _, r := range got {
			require.Equal(t, aicc.StatusActive, r.Status)
		}

		// An ID selection returns the tenant's channels among the IDs, in ID order.
		ids := append(slices.Clone(seeded[100:125]), seeded[110], foreign[0], gone.ID, "ch_missing")
		got = walkRecords(t, s, a.ID, aicc.ExportSelection{ChannelIDs: ids}, 10, []int{10, 10, 5, 0})
		require.Equal(t, slices.Sorted(slices.Values(seeded[100:125])), recordIDs(got))
		got = walkRecords(t, s, b.ID, aicc.ExportSelection{}, 100, []int{20, 0})
		require.Equal(t, slices.Sorted(slices.Values(foreign)), recordIDs(got))
		require.Equal(t, []aicc.ExportPage{{PageID: "foreign-page", Name: "Page foreign-page"}}, got[slices.Index(recordIDs(got), foreign[0])].Pages)

		for _, limit := range []int{0, -1, aicc.MaxExportFileRecords + 1} {
			_, err := s.ExportRecords(ctx, a.ID, aicc.ExportSelection{}, "", limit)
			require.Error(t, err, limit)
		}
	})
}

func TestExportRecordFields(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		ch.Basic.WorkTime.NonWorkday = []aicc.TimeSegment{{Start: "09:00", End: "12:00"}}
		ch.Robot.Robot.Name = "Robbie"
		readAt := ch.UpdatedAt
		ch.UpdatedAt = now.Add(time.Hour)
		require.NoError(t, s.UpdateChannel(ctx, ch, readAt))
		require.NoError(t, s.SetOnboarding(ctx, ch.ID, aicc.Onboarding{Status: aicc.StatusActive, UpdatedAt: now}))
		addPage(t, s, ch, "200")
		addPage(t, s, ch, "100")
		stored, err := s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)

		got, err := s.ExportRecords(ctx, a.ID, aicc.ExportSelection{}, "", 1)
		require.NoError(t, err)
		require.Equal(t, []aicc.ExportRecord{{
			ChannelID: ch.ID, Name: "Sales", AppID: "1001", Algorithm: aicc.AlgorithmSHA256, Status: aicc.StatusActive,
			Basic: stored.Basic, Robot: stored.Robot,
			Pages:     []aicc.ExportPage{{PageID: "100", Name: "Page 100"}, {PageID: "200", Name: "Page 200"}},
			CreatedAt: norm(now), UpdatedAt: norm(now.Add(time.Hour)),
		}}, got)
		require.Equal(t, ch.Basic, got[0].Basic)
		require.Equal(t, "Robbie", got[0].Robot.Robot.Name)
		require.Equal(t, time.UTC, got[0].CreatedAt.Location())
	})
}

func TestExports(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		actor := aicc.AuditActor{Type: aicc.ActorToken, TokenID: "tok_1", Role: aicc.RoleTenantAdmin}
		e := &aicc.Export{
			TenantID: a.ID, Format: aicc.ExportXLSX, Total: 3, CreatedBy: actor, CreatedAt: now,
			Selection: aicc.ExportSelection{ChannelIDs: []string{"ch_2", "ch_1"}, Status: aicc.StatusActive, Name: "sales"},
		}
		require.NoError(t, s.CreateExport(ctx, e))
		require.Regexp(t, "^exp_", e.ID)
		require.Equal(t, &aicc.Export{
			ID: e.ID, TenantID: a.ID, Format: aicc.ExportXLSX, Status: aicc.ExportPending, Total: 3,
			Selection: aicc.ExportSelection{ChannelIDs: []string{"ch_2", "ch_1"}, Status: aicc.StatusActive, Name: "sales"},
			Files:     []aicc.ExportFile{}, CreatedBy: actor, CreatedAt: norm(now), UpdatedAt: norm(now),
		}, e, "defaults filled in")
		got, err := s.GetExport(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, e, got)
		_, err = s.GetExport(ctx, b.ID, e.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		_, err = s.GetExport(ctx, a.ID, "exp_missing")
		requireCode(t, err, aicc.ENOTFOUND)
		cli := &aicc.Export{TenantID: b.ID, Format: aicc.ExportCSV, CreatedBy: aicc.AuditActor{Type: aicc.ActorCLI, Command: "aicc export"}}
		require.NoError(t, s.CreateExport(ctx, cli))
		got, err = s.GetExport(ctx, b.ID, cli.ID)
		require.NoError(t, err)
		require.Equal(t, cli, got)
		require.Equal(t, aicc.ExportSelection{}, got.Selection, "no selection is every channel")

		started, finished := now.Add(time.Minute), now.Add(2*time.Minute)
		files := []aicc.ExportFile{
			{Name: "channels-0001.csv", Records: 2000, Bytes: 123456, SHA256: "ab"},
			{Name: "channels-0002.csv", Records: 1, Bytes: 99, SHA256: "cd"},
		}
		progress := aicc.ExportProgress{
			Status: aicc.ExportSuccess, Total: 2001, RecordsDone: 2001, FilesDone: 2, Files: files,
			StartedAt: started, FinishedAt: finished, ExpiresAt: finished.Add(aicc.DefaultExportRetention), UpdatedAt: finished,
		}
		require.NoError(t, s.SetExportProgress(ctx, e.ID, progress))
		require.NoError(t, s.SetExportProgress(ctx, e.ID, progress), "an overwrite, twice")
		want := *e
		want.Status, want.Total, want.RecordsDone, want.FilesDone, want.Files = aicc.ExportSuccess, 2001, 2001, 2, files
		want.StartedAt, want.FinishedAt, want.UpdatedAt = norm(started), norm(finished), norm(finished)
		want.ExpiresAt = norm(finished.Add(aicc.DefaultExportRetention))
		got, err = s.GetExport(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, &want, got)

		failed := aicc.ExportProgress{Status: aicc.ExportFailed, ErrorCode: aicc.EEXPORTTOOLARGE, Total: 2001, StartedAt: started}
		require.NoError(t, s.SetExportProgress(ctx, e.ID, failed))
		got, err = s.GetExport(ctx, a.ID, e.ID)
		require.NoError(t, err)
		require.Equal(t, aicc.EEXPORTTOOLARGE, got.ErrorCode)
		require.Equal(t, []aicc.ExportFile{}, got.Files)
		require.True(t, got.FinishedAt.IsZero() && got.ExpiresAt.IsZero(), "zero times are NULL")
		require.WithinDuration(t, time.Now(), got.UpdatedAt, time.Minute, "a zero UpdatedAt is now")
		require.Equal(t, e.Selection, got.Selection, "progress leaves the selection")
		requireCode(t, s.SetExportProgress(ctx, "exp_missing", progress), aicc.ENOTFOUND)
	})
}

func TestListExports(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		var created []*aicc.Export
		for i, minutes := range []int{0, 3, 1, 3, 2, 5, 4} {
			e := &aicc.Export{
				ID: fmt.Sprintf("exp_%d", i), TenantID: a.ID, Format: aicc.ExportCSV, CreatedAt: now.Add(time.Duration(minutes) * time.Minute),
			}
			require.NoError(t, s.CreateExport(ctx, e))
			created = append(created, e)
		}
		require.NoError(t, s.CreateExport(ctx, &aicc.Export{TenantID: b.ID, Format: aicc.ExportCSV, CreatedAt: now.Add(time.Hour)}))

		slices.SortFunc(created, func(x, y *aicc.Export) int {
			if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(y.ID, x.ID)
		})
		got := listAll(t, 2, func(opt aicc.ListOptions) ([]*aicc.Export, string, error) { return s.ListExports(ctx, a.ID, opt) })
		require.Equal(t, created, got, "newest first, ties by ID descending")
		require.Equal(t, []string{"exp_5", "exp_6", "exp_3", "exp_1"}, exportIDs(got[:4]))
		got, _, err := s.ListExports(ctx, b.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, b.ID, got[0].TenantID)
		_, _, err = s.ListExports(ctx, a.ID, aicc.ListOptions{Cursor: "not a cursor!"})
		requireField(t, err, aicc.EINVALID, "cursor")
	})
}

func TestExportsInStatus(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		at := func(minutes int) time.Time { return now.Add(time.Duration(minutes) * time.Minute) }
		for _, x := range []struct {
			id      string
			tenant  string
			status  aicc.ExportStatus
			updated int
		}{
			{"exp_a", a.ID, aicc.ExportRunning, 5},
			{"exp_b", b.ID, aicc.ExportRunning, 1},
			{"exp_c", a.ID, aicc.ExportRunning, 3},
			{"exp_d", a.ID, aicc.ExportRunning, 10},
			{"exp_e", a.ID, aicc.ExportPending, 0},
			{"exp_f", b.ID, aicc.ExportSuccess, 2},
		} {
			require.NoError(t, s.CreateExport(ctx, &aicc.Export{ID: x.id, TenantID: x.tenant, Format: aicc.ExportCSV, CreatedAt: now}))
			require.NoError(t, s.SetExportProgress(ctx, x.id, aicc.ExportProgress{Status: x.status, UpdatedAt: at(x.updated)}))
		}
		for _, tc := range []struct {
			status aicc.ExportStatus
			before time.Time
			limit  int
			want   []string
		}{
			{aicc.ExportRunning, at(10), 10, []string{"exp_b", "exp_c", "exp_a"}},
			{aicc.ExportRunning, at(11), 2, []string{"exp_b", "exp_c"}},
			{aicc.ExportRunning, at(1), 10, []string{}},
			{aicc.ExportPending, at(1), 10, []string{"exp_e"}},
			{aicc.ExportSuccess, at(3), 10, []string{"exp_f"}},
			{aicc.ExportFailed, at(60), 10, []string{}},
		} {
			got, err := s.ExportsInStatus(ctx, tc.status, tc.before, tc.limit)
			require.NoError(t, err)
			require.Equal(t, tc.want, exportIDs(got), "%s before %v", tc.status, tc.before)
		}
		got, err := s.ExportsInStatus(ctx, aicc.ExportRunning, at(2), 1)
		require.NoError(t, err)
		require.Equal(t, b.ID, got[0].TenantID)
		require.Equal(t, norm(at(1)), got[0].UpdatedAt)
	})
}

// seedRow is a channel as seedChannels inserts it, with no secrets.
type seedRow struct {
	bun.BaseModel `bun:"table:channels"`
	ID            string
	TenantID      string
	Name          string
	AppID         string `bun:"app_id"`
	Algorithm     string
	Basic         aicc.BasicConfig
	Robot         aicc.RobotConfig
	Status        string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// seedChannels inserts n channels of the tenant, 500 to a statement, named "Seed 0000" to "Seed n-1" with
// app IDs unique to prefix, every tenth active and the others awaiting verification, and returns their IDs.
func seedChannels(tb testing.TB, s *db.Store, tenantID string, n int, prefix string) []string {
	tb.Helper()
	def := aicc.DefaultChannel()
	ids := make([]string, 0, n)
	for batch := range slices.Chunk(make([]struct{}, n), 500) {
		rows := make([]seedRow, 0, len(batch))
		for range batch {
			i := len(ids)
			status := aicc.StatusAwaitingVerification
			if i%10 == 0 {
				status = aicc.StatusActive
			}
			ids = append(ids, aicc.NewID(aicc.PrefixChannel))
			rows = append(rows, seedRow{
				ID: ids[i], TenantID: tenantID, Name: fmt.Sprintf("Seed %04d", i), AppID: fmt.Sprintf("%s-%d", prefix, i),
				Algorithm: string(def.Algorithm), Basic: def.Basic, Robot: def.Robot, Status: string(status),
				CreatedAt: now, UpdatedAt: now,
			})
		}
		_, err := s.DB().NewInsert().Model(&rows).Exec(context.Background())
		require.NoError(tb, err)
	}
	return ids
}

// walkRecords reads the selection's records batch by batch, expecting batches of the sizes given (the last
// one 0), and checks that the IDs increase strictly across them.
func walkRecords(tb testing.TB, s *db.Store, tenantID string, sel aicc.ExportSelection, limit int, sizes []int) []aicc.ExportRecord {
	tb.Helper()
	var all []aicc.ExportRecord
	after := ""
	for i, size := range sizes {
		batch, err := s.ExportRecords(context.Background(), tenantID, sel, after, limit)
		require.NoError(tb, err)
		require.Len(tb, batch, size, "batch %d", i)
		for _, r := range batch {
			require.Greater(tb, r.ChannelID, after, "IDs increase strictly")
			after = r.ChannelID
		}
		all = append(all, batch...)
	}
	return all
}

func recordIDs(records []aicc.ExportRecord) []string {
	ids := make([]string, len(records))
	for i, r := range records {
		ids[i] = r.ChannelID
	}
	return ids
}

func exportIDs(es []*aicc.Export) []string {
	ids := []string{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// queryCounter counts the SELECTs a store runs.
type queryCounter struct{ selects int }

func (q *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (q *queryCounter) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	if strings.HasPrefix(strings.TrimSpace(e.Query), "SELECT") {
		q.selects++
	}
}

// TestMatchExportChannelsLooksUpEachIDOnce: a selection of IDs with filters is one query, which tells whether
// each channel found passes them, rather than a query per 1,000 IDs and a second one over the same IDs.
func TestMatchExportChannelsLooksUpEachIDOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ids := seedChannels(t, s, a.ID, 2500, "a")
		counter := &queryCounter{}
		//lint:ignore SA1019 the store's own *bun.DB must count; WithQueryHook returns a copy the store does not use
		s.DB().AddQueryHook(counter)
		overlong := "ch_" + strings.Repeat("x", aicc.MaxIDLength)
		sel := aicc.ExportSelection{ChannelIDs: slices.Concat(ids, []string{overlong, "ch_missing"}), Status: aicc.StatusAwaitingVerification, Name: "SEED 1"}
		n, unknown, err := s.MatchExportChannels(ctx, a.ID, sel)
		require.NoError(t, err)
		require.Equal(t, 900, n, "Seed 1000 to Seed 1999 but every tenth, which is active")
		require.Equal(t, []string{"ch_missing", overlong}, unknown)
		require.Equal(t, 1, counter.selects)

		// An ID longer than any names nothing: no query for it.
		counter.selects = 0
		n, unknown, err = s.MatchExportChannels(ctx, a.ID, aicc.ExportSelection{ChannelIDs: []string{overlong}})
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, []string{overlong}, unknown)
		require.Zero(t, counter.selects)

		// The store checks more than a selection the API accepts in as many queries as it takes.
		missing := make([]string, aicc.MaxExportSelection)
		for i := range missing {
			missing[i] = fmt.Sprintf("ch_none%05d", i)
		}
		sel.ChannelIDs = slices.Concat(ids, missing)
		counter.selects = 0
		n, unknown, err = s.MatchExportChannels(ctx, a.ID, sel)
		require.NoError(t, err)
		require.Equal(t, 900, n)
		require.Equal(t, missing, unknown)
		require.Equal(t, 2, counter.selects)
	})
}
