package db_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
)

// now has nanoseconds on purpose: the store keeps microseconds and must hand back what it keeps.
var now = time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)

func TestTenantsAndTokens(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		// Created out of order, at times whose fractions SQLite stores with different lengths (".5", none).
		want := make([]*aicc.Tenant, 5)
		for _, i := range []int{3, 0, 4, 1, 2} {
			at := now.Truncate(time.Second).Add(time.Duration(i) * 500 * time.Millisecond)
			want[i] = newTenant(t, s, fmt.Sprintf("tenant%d", i), at)
		}
		got, err := s.GetTenant(ctx, want[2].ID)
		require.NoError(t, err)
		require.Equal(t, want[2], got)
		nanos := newTenant(t, s, "nanos", now.Add(time.Hour))
		require.Equal(t, 123456000, nanos.CreatedAt.Nanosecond(), "stored to the microsecond")
		want = append(want, nanos)

		_, err = s.GetTenant(ctx, "ten_missing")
		requireCode(t, err, aicc.ENOTFOUND)
		requireField(t, s.CreateTenant(ctx, &aicc.Tenant{Name: "tenant1"}), aicc.ECONFLICT, "name")

		require.Equal(t, want, listAll(t, 2, func(opt aicc.ListOptions) ([]*aicc.Tenant, string, error) {
			return s.ListTenants(ctx, opt)
		}))

		_, sysadmin := aicc.NewAPIToken("", aicc.RoleSysadmin, "ops", now)
		secret, admin := aicc.NewAPIToken(want[0].ID, aicc.RoleTenantAdmin, "console", now)
		for _, tok := range []*aicc.APIToken{sysadmin, admin} {
			require.NoError(t, s.CreateToken(ctx, tok))
		}
		for _, tok := range []*aicc.APIToken{sysadmin, admin} {
			got, err := s.FindToken(ctx, tok.Hash, now)
			require.NoError(t, err)
			require.Equal(t, tok, got)
		}
		got2, err := s.FindToken(ctx, aicc.HashToken(secret), now)
		require.NoError(t, err)
		require.Equal(t, want[0].ID, got2.TenantID)
		_, err = s.FindToken(ctx, aicc.HashToken("aicc_unknown"), now)
		requireCode(t, err, aicc.ENOTFOUND)
	})
}

func TestDirectory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)

		var ous []*aicc.OU
		for i := range 3 {
			ou := &aicc.OU{TenantID: a.ID, Name: fmt.Sprintf("ou%d", i), CreatedAt: now}
			if i > 0 {
				ou.ParentID = ous[0].ID
			}
			require.NoError(t, s.CreateOU(ctx, ou))
			ous = append(ous, ou)
		}
		bOU := &aicc.OU{TenantID: b.ID, Name: "ou0"}
		require.NoError(t, s.CreateOU(ctx, bOU), "names are unique per tenant")
		requireField(t, s.CreateOU(ctx, &aicc.OU{TenantID: a.ID, Name: "ou1"}), aicc.ECONFLICT, "name")
		got, err := s.GetOU(ctx, a.ID, ous[1].ID)
		require.NoError(t, err)
		require.Equal(t, ous[1], got)
		require.Equal(t, ous[0].ID, got.ParentID)
		_, err = s.GetOU(ctx, b.ID, ous[1].ID)
		requireCode(t, err, aicc.ENOTFOUND)
		// Equal creation times: the ID breaks the tie, and the walk still sees each OU once.
		slices.SortFunc(ous, func(x, y *aicc.OU) int { return strings.Compare(x.ID, y.ID) })
		require.Equal(t, ous, listAll(t, 2, func(opt aicc.ListOptions) ([]*aicc.OU, string, error) {
			return s.ListOUs(ctx, a.ID, opt)
		}))

		q := &aicc.SkillQueue{
			TenantID: a.ID, Name: "Sales", AccessCode: "1001", OUID: ous[0].ID,
			MaxWaitSeconds: 60, MaxQueued: 100, WrapUpSeconds: 0, CreatedAt: now,
		}
		require.NoError(t, s.CreateSkillQueue(ctx, q))
		gotQ, err := s.GetSkillQueue(ctx, a.ID, q.ID)
		require.NoError(t, err)
		require.Equal(t, q, gotQ)
		_, err = s.GetSkillQueue(ctx, b.ID, q.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		dup := *q
		dup.ID, dup.Name = "", "Sales again"
		requireField(t, s.CreateSkillQueue(ctx, &dup), aicc.ECONFLICT, "accessCode")
		dup.TenantID, dup.ID = b.ID, ""
		require.NoError(t, s.CreateSkillQueue(ctx, &dup), "access codes are unique per tenant")
		gotQs, next, err := s.ListSkillQueues(ctx, a.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []*aicc.SkillQueue{q}, gotQs)
		require.Empty(t, next)

		c := &aicc.ServiceCalendar{
			TenantID: a.ID, Name: "China", TimeZone: "Asia/Shanghai",
			WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday},
			RestDates:            []string{"2026-10-01", "2026-10-02"}, MakeUpWorkDates: []string{"2026-09-27"},
		}
		require.NoError(t, s.CreateServiceCalendar(ctx, c))
		empty := &aicc.ServiceCalendar{TenantID: a.ID, Name: "Empty", TimeZone: "UTC", CreatedAt: c.CreatedAt.Add(time.Second)}
		require.NoError(t, s.CreateServiceCalendar(ctx, empty))
		for _, want := range []*aicc.ServiceCalendar{c, empty} {
			got, err := s.GetServiceCalendar(ctx, a.ID, want.ID)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		_, err = s.GetServiceCalendar(ctx, b.ID, c.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		requireField(t, s.CreateServiceCalendar(ctx, &aicc.ServiceCalendar{TenantID: a.ID, Name: "China", TimeZone: "UTC"}),
			aicc.ECONFLICT, "name")
		gotCs, _, err := s.ListServiceCalendars(ctx, a.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []*aicc.ServiceCalendar{c, empty}, gotCs)

		// Tenant b sees only its own rows.
		bOUs, _, err := s.ListOUs(ctx, b.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []*aicc.OU{bOU}, bOUs)
		bQueues, _, err := s.ListSkillQueues(ctx, b.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []*aicc.SkillQueue{&dup}, bQueues)
		bCalendars, _, err := s.ListServiceCalendars(ctx, b.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Empty(t, bCalendars)

		// A channel's references, one query per kind: tenant b's OU and queue, and IDs of nothing, are absent.
		counter := &queryCounter{}
		//lint:ignore SA1019 the store's own *bun.DB must count; WithQueryHook returns a copy the store does not use
		s.DB().AddQueryHook(counter)
		refs, err := s.GetRefs(ctx, a.ID, []string{ous[2].ID, bOU.ID, "ou_none"},
			[]string{q.ID, dup.ID, "sq_none"}, []string{empty.ID, c.ID})
		require.NoError(t, err)
		require.Equal(t, 3, counter.selects)
		require.Equal(t, map[string]*aicc.OU{ous[2].ID: ous[2]}, refs.OUs)
		require.Equal(t, map[string]*aicc.SkillQueue{q.ID: q}, refs.SkillQueues)
		require.Equal(t, map[string]*aicc.ServiceCalendar{c.ID: c, empty.ID: empty}, refs.Calendars)
		counter.selects = 0
		refs, err = s.GetRefs(ctx, a.ID, nil, nil, nil)
		require.NoError(t, err)
		require.Zero(t, counter.selects, "no IDs, no query")
		require.Empty(t, refs.OUs)
		refs, err = s.GetRefs(ctx, a.ID, nil, []string{strings.Repeat("x", aicc.MaxIDLength+1)}, nil)
		require.NoError(t, err)
		require.Zero(t, counter.selects, "an ID longer than any names nothing, without a query")
		require.Empty(t, refs.SkillQueues)
	})
}

func TestChannelCreateAndSecrets(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		ch := newChannel(t, s, a.ID, "Sales_EU", "1001")

		got, err := s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, ch, got)
		require.True(t, got.AppSecret.Set)
		require.Equal(t, keyring.Fingerprint("app-secret-"+ch.ID), got.AppSecret.Fingerprint)
		require.Equal(t, now.Truncate(time.Microsecond), got.AppSecret.UpdatedAt)
		require.True(t, got.VerifyToken.Set)
		require.Equal(t, aicc.KeywordList{"sales", "agent"}, got.Basic.TransferKeywords)
		require.Equal(t, aicc.StatusAwaitingVerification, got.Onboarding.Status)

		found, err := s.FindChannel(ctx, ch.ID)
		require.NoError(t, err)
		require.Equal(t, ch, found)
		_, err = s.GetChannel(ctx, b.ID, ch.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		_, err = s.FindChannel(ctx, "ch_missing")
		requireCode(t, err, aicc.ENOTFOUND)

		sealed, err := s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
		require.NoError(t, err)
		value, err := keyring.Open(sealed, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret))
		require.NoError(t, err)
		require.Equal(t, "app-secret-"+ch.ID, value)
		_, err = s.ChannelSecret(ctx, "ch_missing", aicc.SecretAppSecret)
		requireCode(t, err, aicc.ENOTFOUND)

		requireField(t, errOf(createChannel(s, a.ID, "Sales_EU", "2002")), aicc.ECHANNELNAMETAKEN, "name")
		require.NoError(t, errOf(createChannel(s, b.ID, "Other", "1001")), "an app ID is not claimed by a channel (TestClaimApp)")
		require.NoError(t, errOf(createChannel(s, b.ID, "Sales_EU", "2002")), "names are unique per tenant")
		require.Zero(t, got.AppClaimedAt, "a new channel claims nothing")

		// A channel whose verify token is not generated yet.
		noToken := &aicc.Channel{TenantID: a.ID, Name: "NoToken", AppID: "3003", Algorithm: aicc.AlgorithmSHA1}
		require.NoError(t, s.CreateChannel(ctx, noToken, aicc.ChannelSecrets{AppSecret: keyring.Seal("x", "o", now)}))
		got, err = s.GetChannel(ctx, a.ID, noToken.ID)
		require.NoError(t, err)
		require.True(t, got.AppSecret.Set)
		require.Equal(t, aicc.SecretInfo{}, got.VerifyToken)
		require.Equal(t, got.CreatedAt, got.UpdatedAt)
	})
}

func TestChannelList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		names := []string{"g_x", "Sales_EU", "a_b", "axb", "sales_us", "Support", "c100"}
		for i, name := range names {
			ch := newChannel(t, s, a.ID, name, fmt.Sprint(1000+i))
			if i%2 == 0 {
				require.NoError(t, s.SetOnboarding(ctx, ch.ID, aicc.Onboarding{Status: aicc.StatusActive, UpdatedAt: now}))
			}
		}
		newChannel(t, s, b.ID, "b_only", "2000")

		all := listAll(t, 3, func(opt aicc.ListOptions) ([]*aicc.Channel, string, error) {
			return s.ListChannels(ctx, a.ID, aicc.ChannelFilter{ListOptions: opt})
		})
		require.Equal(t, []string{"Sales_EU", "Support", "a_b", "axb", "c100", "g_x", "sales_us"}, channelNames(all))
		for _, ch := range all {
			require.True(t, ch.AppSecret.Set, "list shows secret info")
			require.Equal(t, a.ID, ch.TenantID)
		}

		for _, tc := range []struct {
			filter aicc.ChannelFilter
			want   []string
		}{
			{aicc.ChannelFilter{Status: aicc.StatusActive}, []string{"a_b", "c100", "g_x", "sales_us"}},
			{aicc.ChannelFilter{Status: aicc.StatusFailed}, []string{}},
			{aicc.ChannelFilter{Name: "SALES"}, []string{"Sales_EU", "sales_us"}},
			{aicc.ChannelFilter{Name: "a_"}, []string{"a_b"}},
			{aicc.ChannelFilter{Name: "%"}, []string{}},
			{aicc.ChannelFilter{Name: "s", Status: aicc.StatusActive}, []string{"sales_us"}},
			{aicc.ChannelFilter{Name: "s", ListOptions: aicc.ListOptions{Limit: 1}}, []string{"Sales_EU"}},
			{aicc.ChannelFilter{ListOptions: aicc.ListOptions{Limit: aicc.MaxListLimit + 1}}, channelNames(all)},
		} {
			got, _, err := s.ListChannels(ctx, a.ID, tc.filter)
			require.NoError(t, err)
			require.Equal(t, tc.want, channelNames(got), "filter %+v", tc.filter)
		}

		_, _, err := s.ListChannels(ctx, a.ID, aicc.ChannelFilter{ListOptions: aicc.ListOptions{Cursor: "not a cursor!"}})
		requireField(t, err, aicc.EINVALID, "cursor")
		_, next, err := s.ListChannels(ctx, a.ID, aicc.ChannelFilter{ListOptions: aicc.ListOptions{Limit: 1}})
		require.NoError(t, err)
		_, _, err = s.ListOUs(ctx, a.ID, aicc.ListOptions{Cursor: next})
		requireField(t, err, aicc.EINVALID, "cursor")
	})
}

func TestChannelUpdateAndOnboarding(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		newChannel(t, s, a.ID, "Taken", "1002")

		ch.Name = "Sales_EU"
		ch.Basic.TransferKeywords = []string{"human"}
		ch.Robot.Robot.Enabled = true
		readAt := ch.UpdatedAt
		ch.UpdatedAt = now.Add(time.Hour)
		require.NoError(t, s.UpdateChannel(ctx, ch, readAt))
		got, err := s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, ch, got)

		other := *ch
		other.TenantID = b.ID
		other.Name = "Hijacked"
		requireCode(t, s.UpdateChannel(ctx, &other, ch.UpdatedAt), aicc.ENOTFOUND)
		other = *ch
		other.Name = "Taken"
		requireField(t, s.UpdateChannel(ctx, &other, ch.UpdatedAt), aicc.ECHANNELNAMETAKEN, "name")
		// A change read before this one was written is refused, not written over it.
		other = *ch
		other.Name, other.UpdatedAt = "Sales_stale", now.Add(2*time.Hour)
		requireCode(t, s.UpdateChannel(ctx, &other, readAt), aicc.ECONFLICT)
		got, err = s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, ch, got)

		o := aicc.Onboarding{
			Status: aicc.StatusActive, Step: "done",
			VerifiedAt: now.Add(time.Minute), ActivatedAt: now.Add(2 * time.Minute), UpdatedAt: now.Add(2 * time.Minute),
		}
		for range 2 {
			require.NoError(t, s.SetOnboarding(ctx, ch.ID, o))
		}
		got, err = s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		want := o
		for _, at := range []*time.Time{&want.VerifiedAt, &want.ActivatedAt, &want.UpdatedAt} {
			*at = at.Truncate(time.Microsecond)
		}
		require.Equal(t, want, got.Onboarding)

		failed := aicc.Onboarding{Status: aicc.StatusFailed, ErrorCode: "FACEBOOK_CERTIFICATE_MISSING", UpdatedAt: now}
		require.NoError(t, s.SetOnboarding(ctx, ch.ID, failed))
		got, err = s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, aicc.Onboarding{Status: aicc.StatusFailed, ErrorCode: "FACEBOOK_CERTIFICATE_MISSING",
			UpdatedAt: now.Truncate(time.Microsecond)}, got.Onboarding, "zero times clear the columns")

		requireCode(t, s.SetOnboarding(ctx, "ch_missing", o), aicc.ENOTFOUND)
	})
}

func TestPagesAndDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		ch2 := newChannel(t, s, a.ID, "Support", "1002")
		chB := newChannel(t, s, b.ID, "Sales", "2001")

		var pages []*aicc.Page
		for _, id := range []string{"300", "100", "200"} {
			pages = append(pages, addPage(t, s, ch, id))
		}
		require.True(t, pages[0].Token.Set)
		require.Equal(t, keyring.Fingerprint("token-300"), pages[0].Token.Fingerprint)

		got := listAll(t, 2, func(opt aicc.ListOptions) ([]*aicc.Page, string, error) {
			return s.ListPages(ctx, a.ID, ch.ID, opt)
		})
		require.Equal(t, []*aicc.Page{pages[1], pages[2], pages[0]}, got)
		_, _, err := s.ListPages(ctx, b.ID, ch.ID, aicc.ListOptions{})
		requireCode(t, err, aicc.ENOTFOUND)

		requireField(t, s.AddPage(ctx, &aicc.Page{PageID: "100", ChannelID: ch.ID, TenantID: a.ID},
			keyring.Seal("t", "o", now)), aicc.EPAGECONNECTED, "pageId")
		// A Page ID is not claimed by being added (TestClaimPage): other channels may have it too, and their
		// Pages are theirs.
		for _, target := range []*aicc.Channel{ch2, chB} {
			p := addPage(t, s, target, "100")
			require.Zero(t, p.ClaimedAt)
			require.NoError(t, s.RemovePage(ctx, target.TenantID, target.ID, "100"))
		}
		requireCode(t, s.AddPage(ctx, &aicc.Page{PageID: "999", ChannelID: ch.ID, TenantID: b.ID},
			keyring.Seal("t", "o", now)), aicc.ENOTFOUND)

		requireCode(t, s.RemovePage(ctx, b.ID, ch.ID, "200"), aicc.ENOTFOUND)
		requireCode(t, s.RemovePage(ctx, a.ID, ch2.ID, "200"), aicc.ENOTFOUND)
		require.NoError(t, s.RemovePage(ctx, a.ID, ch.ID, "200"))
		requireCode(t, s.RemovePage(ctx, a.ID, ch.ID, "200"), aicc.ENOTFOUND)

		requireCode(t, s.DeleteChannel(ctx, b.ID, ch.ID), aicc.ENOTFOUND)
		left, _, err := s.ListPages(ctx, a.ID, ch.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Len(t, left, 2, "a delete from another tenant deletes nothing")

		require.NoError(t, s.DeleteChannel(ctx, a.ID, ch.ID))
		_, err = s.GetChannel(ctx, a.ID, ch.ID)
		requireCode(t, err, aicc.ENOTFOUND)
		_, err = s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
		requireCode(t, err, aicc.ENOTFOUND)
		requireCode(t, s.DeleteChannel(ctx, a.ID, ch.ID), aicc.ENOTFOUND)
		addPage(t, s, chB, "100") // the deleted channel's Page is free again
		require.NoError(t, errOf(createChannel(s, b.ID, "Reused", "1001")), "and so is its app ID")
	})
}

// A channel holds at most aicc.MaxChannelPages Pages; another channel is not affected, and a removal frees a
// place.
func TestChannelPagesBounded(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		full, other := newChannel(t, s, a.ID, "Full", "1001"), newChannel(t, s, a.ID, "Other", "1002")
		for i := range aicc.MaxChannelPages {
			addPage(t, s, full, strconv.Itoa(1000+i))
		}
		p := &aicc.Page{PageID: "9999", ChannelID: full.ID, TenantID: a.ID, CreatedAt: now}
		requireCode(t, s.AddPage(ctx, p, keyring.Seal("token", aicc.PageTokenOwner(p.PageID), now)), aicc.ECONFLICT)
		addPage(t, s, other, "9999")

		require.NoError(t, s.RemovePage(ctx, a.ID, full.ID, "1000"))
		addPage(t, s, full, "9999")
	})
}

func TestPageState(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		ch2 := newChannel(t, s, a.ID, "Support", "1002")
		chB := newChannel(t, s, b.ID, "Sales", "2001")
		us := now.Truncate(time.Microsecond)

		fresh := addPage(t, s, ch, "100")
		require.Equal(t, aicc.PageState{Status: aicc.PageConnecting, TokenHealth: aicc.TokenHealthy, UpdatedAt: us},
			fresh.State, "an empty state starts as connecting and healthy, at the creation time")
		subscribed := addPageWith(t, s, ch, "200", aicc.PageState{
			Status: aicc.PageSubscribed, TokenHealth: aicc.TokenDegraded, TokenHealthReason: aicc.EMETARATELIMITED,
			UpdatedAt: now.Add(time.Minute),
		})
		require.Equal(t, aicc.PageState{Status: aicc.PageSubscribed, TokenHealth: aicc.TokenDegraded,
			TokenHealthReason: aicc.EMETARATELIMITED, UpdatedAt: us.Add(time.Minute)}, subscribed.State)
		other := addPageWith(t, s, ch2, "300", aicc.PageState{Status: aicc.PageSubscribed})
		addPageWith(t, s, chB, "400", aicc.PageState{Status: aicc.PageSubscribed, TokenHealth: aicc.TokenReauthRequired})

		for _, want := range []*aicc.Page{fresh, subscribed} {
			got, err := s.GetPage(ctx, a.ID, ch.ID, want.PageID)
			require.NoError(t, err)
			require.Equal(t, want, got)
		}
		listed, _, err := s.ListPages(ctx, a.ID, ch.ID, aicc.ListOptions{})
		require.NoError(t, err)
		require.Equal(t, []*aicc.Page{fresh, subscribed}, listed)
		for _, key := range [][3]string{
			{b.ID, ch.ID, "100"},  // another tenant
			{b.ID, chB.ID, "100"}, // another tenant's channel
			{a.ID, ch2.ID, "100"}, // another channel of the tenant
			{a.ID, ch.ID, "999"},  // no such Page
		} {
			_, err := s.GetPage(ctx, key[0], key[1], key[2])
			requireCode(t, err, aicc.ENOTFOUND)
		}

		sealed, err := s.PageToken(ctx, a.ID, ch2.ID, "300")
		require.NoError(t, err)
		require.Equal(t, other.Token, sealed.Info())
		token, err := keyring.Open(sealed, aicc.PageTokenOwner("300"))
		require.NoError(t, err)
		require.Equal(t, "token-300", token)
		for _, key := range [][3]string{{a.ID, ch.ID, "999"}, {a.ID, ch.ID, "300"}, {b.ID, ch2.ID, "300"}} {
			_, err = s.PageToken(ctx, key[0], key[1], key[2])
			requireCode(t, err, aicc.ENOTFOUND)
		}

		// The status setter leaves the token health alone, and the health setter the status.
		require.NoError(t, s.SetPageStatus(ctx, a.ID, ch.ID, "200", aicc.PageSubscriptionFailed, aicc.EMETAPERMISSION, now.Add(time.Hour)))
		want := *subscribed
		want.State.Status, want.State.Reason, want.State.UpdatedAt = aicc.PageSubscriptionFailed, aicc.EMETAPERMISSION, us.Add(time.Hour)
		got, err := s.GetPage(ctx, a.ID, ch.ID, "200")
		require.NoError(t, err)
		require.Equal(t, &want, got)

		require.NoError(t, s.SetPageTokenHealth(ctx, a.ID, ch.ID, "200", aicc.TokenReauthRequired, aicc.EMETATOKENINVALID, now.Add(2*time.Hour)))
		want.State.TokenHealth, want.State.TokenHealthReason, want.State.UpdatedAt = aicc.TokenReauthRequired, aicc.EMETATOKENINVALID, us.Add(2*time.Hour)
		got, err = s.GetPage(ctx, a.ID, ch.ID, "200")
		require.NoError(t, err)
		require.Equal(t, &want, got)
		h, err := s.PageTokenHealth(ctx, a.ID, ch.ID, "200")
		require.NoError(t, err)
		require.Equal(t, aicc.TokenReauthRequired, h)
		h, err = s.PageTokenHealth(ctx, a.ID, ch.ID, "100")
		require.NoError(t, err)
		require.Equal(t, aicc.TokenHealthy, h)

		unchanged, err := s.GetPage(ctx, a.ID, ch.ID, "100")
		require.NoError(t, err)
		require.Equal(t, fresh, unchanged, "the setters change only their Page")

		// A zero time records now.
		before := time.Now().Add(-time.Second)
		require.NoError(t, s.SetPageTokenHealth(ctx, a.ID, ch.ID, "100", aicc.TokenHealthy, "", time.Time{}))
		got, err = s.GetPage(ctx, a.ID, ch.ID, "100")
		require.NoError(t, err)
		require.WithinRange(t, got.State.UpdatedAt, before, time.Now().Add(time.Second))

		// Every Page method names the Page by tenant, channel and Page ID: another channel's Page, or a Page of
		// the channel named with another tenant, is not found.
		for _, key := range [][3]string{{a.ID, ch.ID, "999"}, {a.ID, ch.ID, "300"}, {b.ID, ch2.ID, "300"}, {b.ID, ch.ID, "100"}} {
			requireCode(t, s.SetPageStatus(ctx, key[0], key[1], key[2], aicc.PageSubscribed, "", now), aicc.ENOTFOUND)
			requireCode(t, s.SetPageTokenHealth(ctx, key[0], key[1], key[2], aicc.TokenDegraded, aicc.EMETAUNAVAILABLE, now), aicc.ENOTFOUND)
			_, err = s.PageTokenHealth(ctx, key[0], key[1], key[2])
			requireCode(t, err, aicc.ENOTFOUND)
		}

		for _, tc := range []struct {
			channelID string
			status    aicc.PageStatus
			want      int
		}{
			{ch.ID, aicc.PageConnecting, 1},
			{ch.ID, aicc.PageSubscribed, 0},
			{ch.ID, aicc.PageSubscriptionFailed, 1},
			{ch2.ID, aicc.PageSubscribed, 1},
			{chB.ID, aicc.PageSubscribed, 1},
			{"ch_missing", aicc.PageSubscribed, 0},
		} {
			n, err := s.CountPages(ctx, tc.channelID, tc.status)
			require.NoError(t, err)
			require.Equal(t, tc.want, n, "%s %s", tc.channelID, tc.status)
		}
		counts, err := s.CountPagesByTokenHealth(ctx)
		require.NoError(t, err)
		require.Equal(t, map[aicc.TokenHealth]int{aicc.TokenHealthy: 2, aicc.TokenReauthRequired: 2}, counts,
			"healths no Page has are absent")

		require.NoError(t, s.RemovePage(ctx, a.ID, ch.ID, "100"))
		require.NoError(t, s.DeleteChannel(ctx, b.ID, chB.ID))
		counts, err = s.CountPagesByTokenHealth(ctx)
		require.NoError(t, err)
		require.Equal(t, map[aicc.TokenHealth]int{aicc.TokenHealthy: 1, aicc.TokenReauthRequired: 1}, counts)
	})
}

// legacyPage is a pages row as written before the page state migration.
type legacyPage struct {
	bun.BaseModel    `bun:"table:pages"`
	PageID           string
	ChannelID        string
	TenantID         string
	Name             string
	TokenKeyID       string
	TokenCiphertext  []byte
	TokenFingerprint string
	TokenUpdatedAt   time.Time
	CreatedAt        time.Time
}

func TestPageStateDefaults(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		token := keyring.Seal("token-100", aicc.PageTokenOwner("100"), now)
		_, err := s.DB().NewInsert().Model(&legacyPage{
			PageID: "100", ChannelID: ch.ID, TenantID: a.ID, Name: "Old", TokenKeyID: token.KeyID,
			TokenCiphertext: token.Ciphertext, TokenFingerprint: token.Fingerprint, TokenUpdatedAt: now, CreatedAt: now,
		}).Exec(ctx)
		require.NoError(t, err)
		got, err := s.GetPage(ctx, a.ID, ch.ID, "100")
		require.NoError(t, err)
		require.Equal(t, aicc.PageState{Status: aicc.PageConnecting, TokenHealth: aicc.TokenHealthy}, got.State)
	})
}

func TestChannelTokenHealth(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a, b := newTenant(t, s, "a", now), newTenant(t, s, "b", now)
		none := newChannel(t, s, a.ID, "None", "1000")
		healthy := newChannel(t, s, a.ID, "Healthy", "1001")
		degraded := newChannel(t, s, a.ID, "Degraded", "1002")
		reauth := newChannel(t, s, a.ID, "Reauth", "1003")
		chB := newChannel(t, s, b.ID, "Other", "2000")

		addPage(t, s, healthy, "100")
		addPage(t, s, healthy, "101")
		addPage(t, s, degraded, "200")
		addPageWith(t, s, degraded, "201", aicc.PageState{TokenHealth: aicc.TokenDegraded})
		addPage(t, s, degraded, "202")
		addPageWith(t, s, reauth, "300", aicc.PageState{TokenHealth: aicc.TokenDegraded})
		addPage(t, s, reauth, "301")
		addPageWith(t, s, reauth, "302", aicc.PageState{TokenHealth: aicc.TokenReauthRequired})
		addPageWith(t, s, chB, "400", aicc.PageState{TokenHealth: aicc.TokenReauthRequired})

		want := map[string]aicc.TokenHealth{
			none.ID: "", healthy.ID: aicc.TokenHealthy, degraded.ID: aicc.TokenDegraded, reauth.ID: aicc.TokenReauthRequired,
		}
		check := func() {
			t.Helper()
			for id, h := range want {
				got, err := s.GetChannel(ctx, a.ID, id)
				require.NoError(t, err)
				require.Equal(t, h, got.TokenHealth, got.Name)
				got, err = s.FindChannel(ctx, id)
				require.NoError(t, err)
				require.Equal(t, h, got.TokenHealth, got.Name)
			}
			list := listAll(t, 2, func(opt aicc.ListOptions) ([]*aicc.Channel, string, error) {
				return s.ListChannels(ctx, a.ID, aicc.ChannelFilter{ListOptions: opt})
			})
			require.Len(t, list, len(want))
			for _, ch := range list {
				require.Equal(t, want[ch.ID], ch.TokenHealth, ch.Name)
			}
		}
		check()

		// The health follows the Pages: a recovered token, a Page gone, the last Page gone.
		require.NoError(t, s.SetPageTokenHealth(ctx, a.ID, reauth.ID, "302", aicc.TokenHealthy, "", now))
		want[reauth.ID] = aicc.TokenDegraded
		require.NoError(t, s.SetPageTokenHealth(ctx, a.ID, healthy.ID, "101", aicc.TokenReauthRequired, aicc.EMETATOKENINVALID, now))
		want[healthy.ID] = aicc.TokenReauthRequired
		require.NoError(t, s.RemovePage(ctx, a.ID, degraded.ID, "201"))
		want[degraded.ID] = aicc.TokenHealthy
		check()
		for _, id := range []string{"200", "202"} {
			require.NoError(t, s.RemovePage(ctx, a.ID, degraded.ID, id))
		}
		want[degraded.ID] = ""
		check()

		got, err := s.GetChannel(ctx, b.ID, chB.ID)
		require.NoError(t, err)
		require.Equal(t, aicc.TokenReauthRequired, got.TokenHealth)
	})
}

func TestSetChannelSecret(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		a := newTenant(t, s, "a", now)
		ch := newChannel(t, s, a.ID, "Sales", "1001")
		owner := aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret)
		later := now.Add(time.Hour)

		require.NoError(t, s.SetChannelSecret(ctx, ch.ID, aicc.SecretAppSecret, keyring.Seal("rotated", owner, later)))
		got, err := s.GetChannel(ctx, a.ID, ch.ID)
		require.NoError(t, err)
		require.True(t, got.AppSecret.Set)
		require.Equal(t, keyring.Fingerprint("rotated"), got.AppSecret.Fingerprint)
		require.NotEqual(t, ch.AppSecret.Fingerprint, got.AppSecret.Fingerprint)
		require.Equal(t, later.Truncate(time.Microsecond), got.AppSecret.UpdatedAt)
		require.Equal(t, ch.VerifyToken, got.VerifyToken, "the other secret is left alone")
		sealed, err := s.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
		require.NoError(t, err)
		value, err := keyring.Open(sealed, owner)
		require.NoError(t, err)
		require.Equal(t, "rotated", value)

		// A channel without a verify token gets one.
		noToken := &aicc.Channel{TenantID: a.ID, Name: "NoToken", AppID: "3003", Algorithm: aicc.AlgorithmSHA256}
		require.NoError(t, s.CreateChannel(ctx, noToken, aicc.ChannelSecrets{AppSecret: keyring.Seal("x", "o", now)}))
		tokenOwner := aicc.ChannelSecretOwner(noToken.ID, aicc.SecretVerifyToken)
		require.NoError(t, s.SetChannelSecret(ctx, noToken.ID, aicc.SecretVerifyToken, keyring.Seal("verify", tokenOwner, now)))
		got, err = s.GetChannel(ctx, a.ID, noToken.ID)
		require.NoError(t, err)
		require.True(t, got.VerifyToken.Set)
		require.Equal(t, keyring.Fingerprint("verify"), got.VerifyToken.Fingerprint)
		sealed, err = s.ChannelSecret(ctx, noToken.ID, aicc.SecretVerifyToken)
		require.NoError(t, err)
		value, err = keyring.Open(sealed, tokenOwner)
		require.NoError(t, err)
		require.Equal(t, "verify", value)

		requireCode(t, s.SetChannelSecret(ctx, "ch_missing", aicc.SecretAppSecret, keyring.Seal("x", "o", now)), aicc.ENOTFOUND)
		_, err = s.ChannelSecret(ctx, "ch_missing", aicc.SecretAppSecret)
		requireCode(t, err, aicc.ENOTFOUND)
		require.Error(t, s.SetChannelSecret(ctx, ch.ID, aicc.SecretAppSecret, aicc.SealedSecret{}), "no ciphertext")
	})
}

func TestCertificates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		var certs []*aicc.Certificate
		for i, days := range []int{30, 365, 90} {
			c := &aicc.Certificate{
				Subject: fmt.Sprintf("CN=graph%d.facebook.com", i), Issuer: "CN=DigiCert",
				NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, days),
				SHA256: fmt.Sprintf("%064x", i), PEM: "-----BEGIN CERTIFICATE-----\n…",
			}
			require.NoError(t, s.AddCertificate(ctx, c))
			certs = append(certs, c)
		}
		got, err := s.ListCertificates(ctx)
		require.NoError(t, err)
		require.Equal(t, []*aicc.Certificate{certs[1], certs[2], certs[0]}, got)

		dup := *certs[0]
		dup.ID = ""
		requireField(t, s.AddCertificate(ctx, &dup), aicc.ECONFLICT, "pem")
	})
}

var keyring = func() *aicc.Keyring {
	k, err := aicc.NewKeyring(make([]byte, aicc.MasterKeySize))
	if err != nil {
		panic(err)
	}
	return k
}()

func newTenant(tb testing.TB, s *db.Store, name string, at time.Time) *aicc.Tenant {
	tb.Helper()
	t := &aicc.Tenant{Name: name, CreatedAt: at}
	require.NoError(tb, s.CreateTenant(context.Background(), t))
	return t
}

// createChannel creates a channel with sealed secrets and returns it as stored.
func createChannel(s *db.Store, tenantID, name, appID string) (*aicc.Channel, error) {
	ch := new(aicc.DefaultChannel())
	ch.ID, ch.TenantID, ch.Name, ch.AppID, ch.CreatedAt = aicc.NewID(aicc.PrefixChannel), tenantID, name, appID, now
	ch.Basic.OUID, ch.Basic.SkillQueueID, ch.Basic.TransferKeywords = "ou_1", "sq_1", []string{"sales", "agent"}
	ch.Onboarding = aicc.Onboarding{Status: aicc.StatusAwaitingVerification, Step: "await_meta_verification"}
	return ch, s.CreateChannel(context.Background(), ch, aicc.ChannelSecrets{
		AppSecret:   keyring.Seal("app-secret-"+ch.ID, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), now),
		VerifyToken: keyring.Seal("verify-"+ch.ID, aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), now),
	})
}

func newChannel(tb testing.TB, s *db.Store, tenantID, name, appID string) *aicc.Channel {
	tb.Helper()
	ch, err := createChannel(s, tenantID, name, appID)
	require.NoError(tb, err)
	return ch
}

func addPage(tb testing.TB, s *db.Store, ch *aicc.Channel, pageID string) *aicc.Page {
	tb.Helper()
	return addPageWith(tb, s, ch, pageID, aicc.PageState{})
}

func addPageWith(tb testing.TB, s *db.Store, ch *aicc.Channel, pageID string, state aicc.PageState) *aicc.Page {
	tb.Helper()
	p := &aicc.Page{PageID: pageID, ChannelID: ch.ID, TenantID: ch.TenantID, Name: "Page " + pageID, State: state, CreatedAt: now}
	require.NoError(tb, s.AddPage(context.Background(), p, keyring.Seal("token-"+pageID, aicc.PageTokenOwner(pageID), now)))
	return p
}

// listAll walks a list page by page and fails if a page is larger than limit or a cursor comes after the last.
func listAll[T any](tb testing.TB, limit int, list func(aicc.ListOptions) ([]T, string, error)) []T {
	tb.Helper()
	var all []T
	opt := aicc.ListOptions{Limit: limit}
	for range 100 {
		page, next, err := list(opt)
		require.NoError(tb, err)
		require.LessOrEqual(tb, len(page), limit)
		all = append(all, page...)
		if next == "" {
			return all
		}
		require.Len(tb, page, limit, "only the last page may be short")
		opt.Cursor = next
	}
	tb.Fatal("the list does not end")
	return nil
}

func channelNames(chs []*aicc.Channel) []string {
	names := []string{}
	for _, ch := range chs {
		names = append(names, ch.Name)
	}
	return names
}

func requireCode(tb testing.TB, err error, want string) {
	tb.Helper()
	require.Error(tb, err)
	require.Equal(tb, want, aicc.ErrorCode(err), "error: %v", err)
}

func requireField(tb testing.TB, err error, code, field string) {
	tb.Helper()
	requireCode(tb, err, code)
	var e *aicc.Error
	require.ErrorAs(tb, err, &e)
	require.Contains(tb, e.Fields, field)
}

// errOf drops a result and keeps its error.
func errOf[T any](_ T, err error) error { return err }

// A Postgres store opens at most DefaultMaxOpenConns connections, or what SetMaxOpenConns says.
func TestPostgresPoolIsBounded(t *testing.T) {
	s := dbtest.Postgres(t)
	if got := s.DB().Stats().MaxOpenConnections; got != db.DefaultMaxOpenConns {
		t.Errorf("max open connections = %d, want %d", got, db.DefaultMaxOpenConns)
	}
	s.SetMaxOpenConns(8)
	if got := s.DB().Stats().MaxOpenConnections; got != 8 {
		t.Errorf("max open connections after SetMaxOpenConns(8) = %d", got)
	}
}
