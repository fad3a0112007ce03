package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/db/dbtest"
)

var auditor = aicc.AuditActor{Type: aicc.ActorToken, TokenID: "tok_admin", Role: aicc.RoleTenantAdmin}

func auditEntry(tenantID, channelID string, action aicc.AuditAction, target aicc.AuditTarget) *aicc.AuditEntry {
	return &aicc.AuditEntry{
		TenantID: tenantID, ChannelID: channelID, Actor: auditor, Action: action, Target: target,
		Details: map[string]string{"k": "v"}, RequestID: "req-1", At: now,
	}
}

func listAudit(tb testing.TB, s *db.Store, f aicc.AuditFilter) []*aicc.AuditEntry {
	tb.Helper()
	return listAll(tb, 2, func(opt aicc.ListOptions) ([]*aicc.AuditEntry, string, error) {
		f.ListOptions = opt
		return s.ListAudit(context.Background(), f)
	})
}

func auditActions(es []*aicc.AuditEntry) []aicc.AuditAction {
	out := []aicc.AuditAction{}
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

func TestAuditedChanges(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		tn := newTenant(t, s, "tenant", now)
		other := newTenant(t, s, "other", now)
		ch := newChannel(t, s, tn.ID, "support", "app-1")
		taken := newChannel(t, s, tn.ID, "taken", "app-2")
		chTarget := aicc.AuditTarget{Type: aicc.TargetChannel, ID: ch.ID}

		// A change and its entry commit together; the entry gets an ID and is read back as written.
		e := auditEntry(tn.ID, ch.ID, aicc.AuditChannelUpdate, chTarget)
		u := *ch
		u.Name, u.UpdatedAt = "renamed", now.Add(time.Minute)
		require.NoError(t, s.Audited(ctx, e, func(ctx context.Context) error { return s.UpdateChannel(ctx, &u, ch.UpdatedAt) }))
		require.Positive(t, e.ID)
		got, err := s.GetChannel(ctx, tn.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, "renamed", got.Name)
		list := listAudit(t, s, aicc.AuditFilter{TenantID: tn.ID})
		require.Equal(t, []*aicc.AuditEntry{e}, list)

		// A change that fails leaves no entry, and its domain error comes through unchanged.
		bad := *ch
		bad.Name, bad.UpdatedAt = taken.Name, now
		err = s.Audited(ctx, auditEntry(tn.ID, ch.ID, aicc.AuditChannelUpdate, chTarget),
			func(ctx context.Context) error { return s.UpdateChannel(ctx, &bad, u.UpdatedAt) })
		requireField(t, err, aicc.ECHANNELNAMETAKEN, "name")
		err = s.Audited(ctx, auditEntry(tn.ID, "", aicc.AuditTenantCreate, aicc.AuditTarget{Type: aicc.TargetTenant, ID: "x"}),
			func(ctx context.Context) error { return s.CreateTenant(ctx, &aicc.Tenant{Name: "tenant"}) })
		requireField(t, err, aicc.ECONFLICT, "name")
		require.Len(t, listAudit(t, s, aicc.AuditFilter{TenantID: tn.ID}), 1)

		// A change that commits but whose entry does not append is rolled back with it: here the entry's
		// change writes, then the caller's own error after it aborts both.
		err = s.Audited(ctx, auditEntry(tn.ID, ch.ID, aicc.AuditVerifyTokenReplace, chTarget), func(ctx context.Context) error {
			sealed := keyring.Seal("new-verify", aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), now.Add(time.Hour))
			if err := s.SetChannelSecret(ctx, ch.ID, aicc.SecretVerifyToken, sealed); err != nil {
				return err
			}
			return aicc.Errorf(aicc.ECONFLICT, "changed my mind")
		})
		requireCode(t, err, aicc.ECONFLICT)
		got, err = s.GetChannel(ctx, tn.ID, ch.ID)
		require.NoError(t, err)
		require.Equal(t, ch.VerifyToken, got.VerifyToken, "the secret change was rolled back")
		require.Len(t, listAudit(t, s, aicc.AuditFilter{TenantID: tn.ID}), 1)

		// Every change method the API audits joins the transaction.
		page := &aicc.Page{PageID: "100", ChannelID: ch.ID, TenantID: tn.ID, CreatedAt: now}
		newCh := new(aicc.DefaultChannel())
		newCh.TenantID, newCh.Name, newCh.AppID, newCh.CreatedAt = tn.ID, "created", "app-3", now
		newCh.Basic.OUID, newCh.Basic.SkillQueueID = "ou_1", "sq_1"
		cert := &aicc.Certificate{Subject: "CN=x", SHA256: "ab", NotBefore: now, NotAfter: now.Add(time.Hour), PEM: "pem"}
		for _, c := range []struct {
			e      *aicc.AuditEntry
			change func(ctx context.Context) error
		}{
			{auditEntry(tn.ID, ch.ID, aicc.AuditVerifyTokenReplace, chTarget), func(ctx context.Context) error {
				return s.SetChannelSecret(ctx, ch.ID, aicc.SecretVerifyToken,
					keyring.Seal("v2", aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), now))
			}},
			{auditEntry(tn.ID, ch.ID, aicc.AuditPageAdd, aicc.AuditTarget{Type: aicc.TargetPage, ID: "100"}), func(ctx context.Context) error {
				return s.AddPage(ctx, page, keyring.Seal("t", aicc.PageTokenOwner("100"), now))
			}},
			{auditEntry(tn.ID, "", aicc.AuditChannelCreate, aicc.AuditTarget{Type: aicc.TargetChannel, ID: "new"}), func(ctx context.Context) error {
				return s.CreateChannel(ctx, newCh, aicc.ChannelSecrets{AppSecret: keyring.Seal("a", "o", now)})
			}},
			{auditEntry("", "", aicc.AuditCertificateUpload, aicc.AuditTarget{Type: aicc.TargetCertificate, ID: "c"}), func(ctx context.Context) error {
				return s.AddCertificate(ctx, cert)
			}},
			{auditEntry("", "", aicc.AuditTenantCreate, aicc.AuditTarget{Type: aicc.TargetTenant, ID: "t"}), func(ctx context.Context) error {
				return s.CreateTenant(ctx, &aicc.Tenant{Name: "third"})
			}},
			{auditEntry("", "", aicc.AuditTokenCreate, aicc.AuditTarget{Type: aicc.TargetToken, ID: "k"}), func(ctx context.Context) error {
				_, tok := aicc.NewAPIToken(other.ID, aicc.RoleTenantViewer, "v", now)
				return s.CreateToken(ctx, tok)
			}},
		} {
			require.NoError(t, s.Audited(ctx, c.e, c.change), "%s", c.e.Action)
		}
		_, err = s.GetPage(ctx, tn.ID, ch.ID, "100")
		require.NoError(t, err)

		// A change that writes nothing in the audit transaction is refused, and so is an incomplete entry.
		err = s.Audited(ctx, auditEntry(tn.ID, ch.ID, aicc.AuditChannelUpdate, chTarget), func(context.Context) error { return nil })
		require.ErrorContains(t, err, "made no write in the audit transaction")
		incomplete := auditEntry(tn.ID, ch.ID, aicc.AuditChannelUpdate, chTarget)
		incomplete.Actor = aicc.AuditActor{}
		ran := false
		err = s.Audited(ctx, incomplete, func(context.Context) error { ran = true; return nil })
		requireField(t, err, aicc.EINVALID, "actor")
		require.False(t, ran)

		// A nil change appends the entry alone.
		req := auditEntry(tn.ID, ch.ID, aicc.AuditChannelDeleteRequested, chTarget)
		require.NoError(t, s.Audited(ctx, req, nil))

		// A change of a channel being deleted is refused inside the transaction, and leaves no entry.
		require.NoError(t, s.MarkChannelDeleting(ctx, ch.ID, now))
		u.Name = "again"
		requireCode(t, s.Audited(ctx, auditEntry(tn.ID, ch.ID, aicc.AuditChannelUpdate, chTarget),
			func(ctx context.Context) error { return s.UpdateChannel(ctx, &u, u.UpdatedAt) }), aicc.ECHANNELDELETING)

		require.Equal(t, []aicc.AuditAction{
			aicc.AuditChannelDeleteRequested, aicc.AuditChannelCreate, aicc.AuditPageAdd, aicc.AuditVerifyTokenReplace,
			aicc.AuditChannelUpdate,
		}, auditActions(listAudit(t, s, aicc.AuditFilter{TenantID: tn.ID})))
		require.Equal(t, []aicc.AuditAction{
			aicc.AuditChannelDeleteRequested, aicc.AuditPageAdd, aicc.AuditVerifyTokenReplace, aicc.AuditChannelUpdate,
		}, auditActions(listAudit(t, s, aicc.AuditFilter{TenantID: tn.ID, ChannelID: ch.ID})))
		require.Equal(t, []aicc.AuditAction{aicc.AuditTokenCreate, aicc.AuditTenantCreate, aicc.AuditCertificateUpload},
			auditActions(listAudit(t, s, aicc.AuditFilter{})))
		require.Empty(t, listAudit(t, s, aicc.AuditFilter{TenantID: other.ID}))
		require.Empty(t, listAudit(t, s, aicc.AuditFilter{TenantID: other.ID, ChannelID: ch.ID}), "another tenant's channel")

		// Audited changes do not nest.
		err = s.Audited(ctx, auditEntry(tn.ID, "", aicc.AuditTenantCreate, chTarget), func(ctx context.Context) error {
			return s.Audited(ctx, auditEntry(tn.ID, "", aicc.AuditTenantCreate, chTarget), nil)
		})
		require.ErrorContains(t, err, "do not nest")
	})
}

func TestAuditList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		var want []int64
		for i := range 7 {
			e := auditEntry("ten_a", "ch_a", aicc.AuditChannelUpdate, aicc.AuditTarget{Type: aicc.TargetChannel, ID: "ch_a"})
			e.Details = map[string]string{aicc.DetailChangedFields: fmt.Sprint(i)}
			e.At = time.Time{} // now
			require.NoError(t, s.Audited(ctx, e, nil))
			require.False(t, e.At.IsZero())
			want = append([]int64{e.ID}, want...)
		}
		var ids []int64
		for _, e := range listAudit(t, s, aicc.AuditFilter{TenantID: "ten_a", ChannelID: "ch_a"}) {
			ids = append(ids, e.ID)
		}
		require.Equal(t, want, ids, "newest first")

		first, next, err := s.ListAudit(ctx, aicc.AuditFilter{TenantID: "ten_a", ListOptions: aicc.ListOptions{Limit: 7}})
		require.NoError(t, err)
		require.Len(t, first, 7)
		require.Empty(t, next, "no cursor after the last page")

		for _, bad := range []string{"!", "eA", "LTE", "MA"} { // not base64, "x", "-1", "0"
			_, _, err := s.ListAudit(ctx, aicc.AuditFilter{TenantID: "ten_a", ListOptions: aicc.ListOptions{Cursor: bad}})
			requireField(t, err, aicc.EINVALID, "cursor")
		}
	})
}

// TestAuditAppendOnly checks the database's side of the rule: no statement changes or deletes an entry.
func TestAuditAppendOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, s *db.Store) {
		ctx := context.Background()
		e := auditEntry("ten_a", "", aicc.AuditTenantCreate, aicc.AuditTarget{Type: aicc.TargetTenant, ID: "t"})
		require.NoError(t, s.Audited(ctx, e, nil))
		for _, q := range []string{
			"UPDATE audit_log SET action = 'x'",
			"DELETE FROM audit_log",
		} {
			_, err := s.DB().ExecContext(ctx, q)
			require.ErrorContains(t, err, "append-only", q)
		}
		if s.Dialect() == db.Postgres {
			_, err := s.DB().ExecContext(ctx, "TRUNCATE audit_log")
			require.ErrorContains(t, err, "append-only")
		}
		require.Equal(t, []*aicc.AuditEntry{e}, listAudit(t, s, aicc.AuditFilter{TenantID: "ten_a"}))
	})
}
