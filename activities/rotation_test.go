package activities_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/db/dbtest"
)

// appCheckGraph is a Graph whose CheckApp runs meanwhile first: what happens while Meta is asked.
type appCheckGraph struct {
	aicc.Graph
	meanwhile func()
}

func (g *appCheckGraph) CheckApp(context.Context, aicc.AppCall) error {
	g.meanwhile()
	return nil
}

// The API removes a secret version when its request gives up waiting. One removed while Meta checks it is
// CONFLICT, as one missing at the start is: not NOT_FOUND, which the rotation reads as its channel gone.
func TestChangeAppSecretVersionGoneDuringTheCheck(t *testing.T) {
	ctx := context.Background()
	store := dbtest.SQLite(t)
	keyring, err := aicc.NewKeyring(bytes.Repeat([]byte{9}, aicc.MasterKeySize))
	require.NoError(t, err)
	tenant := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: "A", CreatedAt: testNow}
	require.NoError(t, store.CreateTenant(ctx, tenant))
	ch := new(aicc.DefaultChannel())
	ch.ID, ch.TenantID, ch.Name, ch.AppID, ch.CreatedAt = aicc.NewID(aicc.PrefixChannel), tenant.ID, "fb_main", appID, testNow
	ch.Basic.OUID, ch.Basic.SkillQueueID = "ou_1", "sq_1"
	require.NoError(t, store.CreateChannel(ctx, ch, aicc.ChannelSecrets{
		AppSecret:   keyring.Seal(appSecret, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret), testNow),
		VerifyToken: keyring.Seal("verify", aicc.ChannelSecretOwner(ch.ID, aicc.SecretVerifyToken), testNow),
	}))
	v := &aicc.SecretVersion{ID: aicc.NewID("sv"), TenantID: tenant.ID, ChannelID: ch.ID, Kind: aicc.SecretAppSecret, CreatedAt: testNow}
	v.Sealed = keyring.Seal("new-app-secret", aicc.SecretVersionOwner(v.ID), testNow)
	require.NoError(t, store.AddSecretVersion(ctx, v))

	g := &appCheckGraph{meanwhile: func() { require.NoError(t, store.DeleteSecretVersion(ctx, ch.ID, v.ID)) }}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	acts := &activities.Activities{Channels: store, Audit: store, Keyring: keyring, Graph: provider{g: g},
		Now: func() time.Time { return testNow }}
	env.RegisterActivity(acts)

	_, err = env.ExecuteActivity(acts.ChangeAppSecret, activities.ChangeAppSecretInput{
		TenantID: tenant.ID, ChannelID: ch.ID, VersionID: v.ID, PreviousUntil: testNow.Add(time.Hour),
		Requester: activities.Requester{Actor: aicc.AuditActor{Type: aicc.ActorToken, TokenID: "tok_1", Role: aicc.RoleTenantAdmin}},
	})
	appError(t, err, aicc.ECONFLICT, true)
	sealed, err := store.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
	require.NoError(t, err)
	value, err := keyring.Open(sealed, aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret))
	require.NoError(t, err)
	assert.Equal(t, appSecret, value, "the channel keeps its secret")
}
