package api_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/db"
	"github.com/aiccfb/aicc/meta/metatest"
	"github.com/aiccfb/aicc/workflows"
)

// rotationJSON is the Rotation JSON.
type rotationJSON struct {
	Status    string     `json:"status"`
	StartedAt *time.Time `json:"startedAt"`
	StartedBy *struct {
		Type    string `json:"type"`
		TokenID string `json:"tokenId"`
		Role    string `json:"role"`
	} `json:"startedBy"`
	PreviousUntil  *time.Time `json:"previousSecretAcceptedUntil"`
	PagesDone      []string   `json:"pagesDone"`
	PagesMissing   int        `json:"pagesMissing"`
	MissingPageIDs []string   `json:"missingPageIds"`
	Reminders      int        `json:"reminders"`
}

func appSecretPath(channelID string) string { return "/v1/channels/" + channelID + "/app-secret" }
func rotationPath(channelID string) string  { return "/v1/channels/" + channelID + "/rotation" }
func revokePath(channelID string) string {
	return "/v1/channels/" + channelID + "/rotation/revoke-previous"
}
func tokenSecretPath(channelID, pageID string) string {
	return "/v1/channels/" + channelID + "/pages/" + pageID + "/token-secret"
}

func (h *harness) put(path, token string, body any) *response {
	h.t.Helper()
	return h.do(request{method: http.MethodPut, path: path, token: token, body: body})
}

// changeAppSecret gives the channel a new app secret, with the default overlap unless body says otherwise.
func (h *harness) changeAppSecret(tn tenant, channelID string, body map[string]any) rotationJSON {
	h.t.Helper()
	r := h.put(appSecretPath(channelID), tn.Admin, body)
	requireStatus(h.t, r, http.StatusOK)
	var rot rotationJSON
	r.decode(h.t, &rot)
	return rot
}

// rotation returns the channel's rotation as GET .../rotation shows it.
func (h *harness) rotation(tn tenant, channelID string) rotationJSON {
	h.t.Helper()
	r := h.get(rotationPath(channelID), tn.Viewer)
	requireStatus(h.t, r, http.StatusOK)
	var rot rotationJSON
	r.decode(h.t, &rot)
	return rot
}

// changeTokenSecret gives the Page a new token, which Meta must accept.
func (h *harness) changeTokenSecret(tn tenant, channelID, pageID, token string) page {
	h.t.Helper()
	r := h.put(tokenSecretPath(channelID, pageID), tn.Admin, map[string]any{"tokenSecret": token})
	requireStatus(h.t, r, http.StatusOK)
	return decodePage(h.t, r)
}

// getPage returns the Page as the API shows it.
func (h *harness) getPage(tn tenant, channelID, pageID string) page {
	h.t.Helper()
	r := h.get(pagesPath(channelID)+"/"+pageID, tn.Viewer)
	requireStatus(h.t, r, http.StatusOK)
	return decodePage(h.t, r)
}

// pageToken returns the token of the one Page with the ID, as stored.
func (h *harness) pageToken(pageID string) string {
	h.t.Helper()
	var key struct{ TenantID, ChannelID string }
	require.NoError(h.t, h.store.(*db.Store).DB().NewSelect().Table("pages").Column("tenant_id", "channel_id").
		Where("page_id = ?", pageID).Scan(context.Background(), &key))
	sealed, err := h.store.PageToken(context.Background(), key.TenantID, key.ChannelID, pageID)
	require.NoError(h.t, err)
	token, err := h.keyring.Open(sealed, aicc.PageTokenOwner(pageID))
	require.NoError(h.t, err)
	return token
}

// signed posts a message event for the Page, signed with secret, and returns the answer.
func (h *harness) signed(channelID, pageID, mid, secret string) *response {
	h.t.Helper()
	body := metatest.NewPayload(metatest.NewEntry(pageID, metatest.Text(pageID, "9001", mid, "hi", ts0))).Encode()
	return h.postWebhook(channelID, body, signedBy(aicc.AlgorithmSHA256, secret, body))
}

// later moves the clock on a minute, so that what follows happens after what came before: the Pages' tokens
// are older than an app secret changed then.
func (h *harness) later() { *h.clock = h.now().Add(time.Minute) }

// lastVersionID is the secret version the latest Update-with-Start asked the rotation to put in use.
func (h *harness) lastVersionID() string {
	h.t.Helper()
	for i := len(h.temporal.Calls) - 1; i >= 0; i-- {
		c := h.temporal.Calls[i]
		if c.Method != "UpdateWithStartWorkflow" {
			continue
		}
		switch req := c.Arguments.Get(1).(client.UpdateWithStartWorkflowOptions).UpdateOptions.Args[0].(type) {
		case workflows.SetAppSecretRequest:
			return req.VersionID
		case workflows.SetPageTokenRequest:
			return req.VersionID
		}
	}
	h.t.Fatal("no rotation Update was sent")
	return ""
}

// requireNoVersion asserts that the store no longer holds the channel's secret version.
func (h *harness) requireNoVersion(channelID, versionID string) {
	h.t.Helper()
	_, err := h.store.SecretVersion(context.Background(), channelID, versionID)
	require.Equal(h.t, aicc.ENOTFOUND, aicc.ErrorCode(err), "secret version %s is left: %v", versionID, err)
}

// A new App Secret is checked with Meta before it is made current: one Meta refuses for the channel's app (a
// typo) is a 422 on appSecret, not quoted, and the channel keeps its App Secret, so Meta's webhooks still pass.
func TestChangeAppSecretRefusedByMeta(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	const app = "7000000000000009"
	h.flows.graph.AddApp(app, appSecret)
	body := channelBody(tn, "fb_main")
	body["appId"] = app
	id := h.createChannel(tn, body).Channel.ID
	before := h.getChannel(tn, id)

	const typo = "app-secret-0123456788"
	e := requireError(t, h.put(appSecretPath(id), tn.Admin, map[string]any{"appSecret": typo}),
		http.StatusUnprocessableEntity, aicc.EMETAAPPINVALID)
	assert.Contains(t, e.Fields, "appSecret")
	assert.NotContains(t, e.Message, typo)
	assert.Equal(t, before.AppSecret, h.getChannel(tn, id).AppSecret, "the channel keeps its App Secret")
	h.requireNoVersion(id, h.lastVersionID())
	assert.Equal(t, "none", h.rotation(tn, id).Status)

	// The app's real new secret, once Meta has it, is taken.
	h.flows.graph.AddApp(app, "app-secret-after-reset")
	assert.Equal(t, "complete", h.changeAppSecret(tn, id, map[string]any{"appSecret": "app-secret-after-reset"}).Status)
}

// TestChangeAppSecret checks the Edit step: the new secret is current, the rotation is pending until the
// channel's Pages get new tokens (complete at once without Pages), and the channel, its list entry and the
// rotation route show it.
func TestChangeAppSecret(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	adminID := h.tokenID(tn.Admin)
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001", "7002")
	empty := h.createChannel(tn, channelBody(tn, "fb_empty")).Channel.ID

	h.later()
	before := h.getChannel(tn, id)
	assert.Equal(t, "none", before.RotationStatus)
	rot := h.rotation(tn, id)
	assert.Equal(t, "none", rot.Status)
	assert.Nil(t, rot.StartedAt)
	assert.Nil(t, rot.PreviousUntil)
	assert.Empty(t, rot.PagesDone)

	rot = h.changeAppSecret(tn, id, map[string]any{"appSecret": "new-app-secret-1"})
	assert.Equal(t, "pending", rot.Status)
	require.NotNil(t, rot.StartedAt)
	assert.Equal(t, h.now(), *rot.StartedAt)
	require.NotNil(t, rot.StartedBy)
	assert.Equal(t, "api_token", rot.StartedBy.Type)
	assert.Equal(t, adminID, rot.StartedBy.TokenID)
	assert.Equal(t, "tenant-admin", rot.StartedBy.Role)
	require.NotNil(t, rot.PreviousUntil, "the previous secret is accepted for a while")
	assert.Equal(t, h.now().Add(24*time.Hour), *rot.PreviousUntil, "24 hours by default")
	assert.Equal(t, 2, rot.PagesMissing)
	assert.Equal(t, []string{"7001", "7002"}, rot.MissingPageIDs)
	assert.Empty(t, rot.PagesDone)
	assert.Equal(t, rot, h.rotation(tn, id), "the rotation route shows the same")

	after := h.getChannel(tn, id)
	assert.Equal(t, "pending", after.RotationStatus)
	assert.NotEqual(t, before.AppSecret.Fingerprint, after.AppSecret.Fingerprint)
	assert.Equal(t, h.keyring.Fingerprint("new-app-secret-1"), after.AppSecret.Fingerprint)
	open, err := h.store.ChannelSecret(context.Background(), id, aicc.SecretAppSecret)
	require.NoError(t, err)
	current, err := h.keyring.Open(open, aicc.ChannelSecretOwner(id, aicc.SecretAppSecret))
	require.NoError(t, err)
	assert.Equal(t, "new-app-secret-1", current)

	// Without Pages there is nothing to wait for.
	rot = h.changeAppSecret(tn, empty, map[string]any{"appSecret": "new-app-secret-2", "overlapSeconds": 604800})
	assert.Equal(t, "complete", rot.Status)
	assert.Zero(t, rot.PagesMissing)
	assert.Empty(t, rot.MissingPageIDs)
	require.NotNil(t, rot.PreviousUntil)
	assert.Equal(t, h.now().Add(7*24*time.Hour), *rot.PreviousUntil, "at most 7 days")
	assert.Equal(t, "complete", h.getChannel(tn, empty).RotationStatus)

	r := h.get("/v1/channels", tn.Viewer)
	requireStatus(t, r, http.StatusOK)
	var list struct {
		Items []channel `json:"items"`
	}
	r.decode(t, &list)
	statuses := map[string]string{}
	for _, c := range list.Items {
		statuses[c.ID] = c.RotationStatus
	}
	assert.Equal(t, map[string]string{id: "pending", empty: "complete"}, statuses)
}

// TestChangeAppSecretValidation checks that a bad request is refused with every broken field, changes
// nothing and reaches no workflow, and that PATCH refuses the app secret, naming the route to use.
func TestChangeAppSecretValidation(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.createChannel(tn, channelBody(tn, "fb_main")).Channel.ID
	before := h.getChannel(tn, id)
	calls := len(h.temporal.Calls)

	for name, tc := range map[string]struct {
		body   any
		fields []string
	}{
		"missing":             {map[string]any{}, []string{"appSecret"}},
		"empty":               {map[string]any{"appSecret": ""}, []string{"appSecret"}},
		"blank":               {map[string]any{"appSecret": "   "}, []string{"appSecret"}},
		"with a space":        {map[string]any{"appSecret": "new secret"}, []string{"appSecret"}},
		"too long":            {map[string]any{"appSecret": strings.Repeat("s", 4097)}, []string{"appSecret"}},
		"negative overlap":    {map[string]any{"appSecret": "new-secret", "overlapSeconds": -1}, []string{"overlapSeconds"}},
		"overlap over 7 days": {map[string]any{"appSecret": "new-secret", "overlapSeconds": 604801}, []string{"overlapSeconds"}},
		// 18446744074 s is 2^64 ns and a bit: multiplied into a Duration it would wrap to 0.29 s.
		"overlap that overflows": {map[string]any{"appSecret": "new-secret", "overlapSeconds": int64(18446744074)},
			[]string{"overlapSeconds"}},
		"fractional overlap": {`{"appSecret":"new-secret","overlapSeconds":1.5}`, []string{"overlapSeconds"}},
		"every field":        {map[string]any{"appSecret": "", "overlapSeconds": -5}, []string{"appSecret", "overlapSeconds"}},
		"unknown field":      {map[string]any{"appSecret": "new-secret", "previous": "x"}, []string{"previous"}},
	} {
		t.Run(name, func(t *testing.T) {
			h := h.on(t)
			e := requireError(t, h.put(appSecretPath(id), tn.Admin, tc.body), http.StatusBadRequest, aicc.EINVALID)
			var got []string
			for f := range e.Fields {
				got = append(got, f)
			}
			assert.ElementsMatch(t, tc.fields, got, "fields: %v", e.Fields)
		})
	}
	requireError(t, h.put(appSecretPath(id), tn.Admin, "not json"), http.StatusBadRequest, aicc.EINVALID)

	// PATCH refuses it, naming the route that keeps the previous secret accepted; nothing else changes.
	e := requireError(t, h.patch("/v1/channels/"+id, tn.Admin, map[string]any{"name": "fb_renamed", "appSecret": "new-secret"}),
		http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields["appSecret"], "PUT /v1/channels/"+id+"/app-secret")
	assert.NotContains(t, h.rec.bodies[len(h.rec.bodies)-1], "new-secret")
	requireError(t, h.patch("/v1/channels/"+id, tn.Admin, `{"name":"fb_renamed","appSecret":null}`),
		http.StatusBadRequest, aicc.EINVALID)

	assert.Len(t, h.temporal.Calls, calls, "no refused request reaches Temporal")
	after := h.getChannel(tn, id)
	assert.Equal(t, before.Name, after.Name)
	assert.Equal(t, before.AppSecret, after.AppSecret)
	assert.Equal(t, "none", after.RotationStatus)
}

// TestWebhookDuringRotation checks the overlap window as Meta sees it: webhooks signed with the previous
// secret are accepted until the window ends, even from the channel cache, and with the new one at once; a
// second change within the window keeps the original previous secret. The signature counter tells which
// secret matched.
func TestWebhookDuringRotation(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001")
	const newSecret = "new-app-secret-1"
	matches := func() (current, previous float64) {
		t.Helper()
		m := h.scrape()
		return h.metric(m, `aicc_webhook_signature_matches_total{secret="current"}`),
			h.metric(m, `aicc_webhook_signature_matches_total{secret="previous"}`)
	}

	requireReceived(t, h.signed(id, "7001", "m_1", appSecret)) // cached with the old secret
	cur, prev := matches()
	assert.Equal(t, []float64{1, 0}, []float64{cur, prev})

	rot := h.changeAppSecret(tn, id, map[string]any{"appSecret": newSecret, "overlapSeconds": 3600})
	until := *rot.PreviousUntil
	assert.Equal(t, h.now().Add(time.Hour), until)

	requireReceived(t, h.signed(id, "7001", "m_2", newSecret))
	requireReceived(t, h.signed(id, "7001", "m_3", appSecret))
	cur, prev = matches()
	assert.Equal(t, []float64{2, 1}, []float64{cur, prev})
	assert.Equal(t, 3, h.undelivered(), "each stored")
	requireRefused(t, h.signed(id, "7001", "m_x", "some-other-secret"))

	// A second change within the window (Meta reset the secret again): the secret it replaces, which Meta
	// signed with until then, is the previous one; the first, older secret is no longer accepted.
	h.changeAppSecret(tn, id, map[string]any{"appSecret": "new-app-secret-2", "overlapSeconds": 3600})
	requireReceived(t, h.signed(id, "7001", "m_4", newSecret))
	requireReceived(t, h.signed(id, "7001", "m_5", "new-app-secret-2"))
	requireRefused(t, h.signed(id, "7001", "m_6", appSecret))
	until = h.now().Add(time.Hour)

	// A second before the window's end, then at its end: the channel is cached in between, and its window ends
	// all the same.
	*h.clock = until.Add(-time.Second)
	requireReceived(t, h.signed(id, "7001", "m_7", newSecret))
	*h.clock = until
	rejected := h.metric(h.scrape(), `aicc_webhook_events_total{result="rejected_signature"}`)
	requireRefused(t, h.signed(id, "7001", "m_8", newSecret))
	assert.Equal(t, rejected+1, h.metric(h.scrape(), `aicc_webhook_events_total{result="rejected_signature"}`))
	requireReceived(t, h.signed(id, "7001", "m_9", "new-app-secret-2"))
	*h.clock = until.Add(time.Hour)
	requireRefused(t, h.signed(id, "7001", "m_10", newSecret))

	cur, prev = matches()
	assert.Equal(t, []float64{4, 3}, []float64{cur, prev})
	assert.Equal(t, 7, h.undelivered())
}

// TestZeroOverlap checks the cut-over for a leaked secret: the old secret is refused at once, even by a
// channel the webhook route has cached.
func TestZeroOverlap(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001")
	requireReceived(t, h.signed(id, "7001", "m_1", appSecret))

	rot := h.changeAppSecret(tn, id, map[string]any{"appSecret": "new-app-secret-1", "overlapSeconds": 0})
	assert.Nil(t, rot.PreviousUntil, "no previous secret is accepted")
	requireRefused(t, h.signed(id, "7001", "m_2", appSecret))
	requireReceived(t, h.signed(id, "7001", "m_3", "new-app-secret-1"))
	_, _, err := h.store.PreviousAppSecret(context.Background(), id)
	assert.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(err), "no previous secret is kept")
	requireError(t, h.post(revokePath(id), tn.Admin, nil), http.StatusConflict, aicc.ENOPREVIOUSSECRET)
}

// TestRevokePreviousAppSecret checks that revoke-previous ends the window at once, and that there is nothing to
// revoke on a channel whose app secret never changed, or once revoked.
func TestRevokePreviousAppSecret(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001")
	empty := h.createChannel(tn, channelBody(tn, "fb_empty")).Channel.ID

	e := requireError(t, h.post(revokePath(id), tn.Admin, nil), http.StatusConflict, aicc.ENOPREVIOUSSECRET)
	assert.NotEmpty(t, e.Message)

	h.later()
	h.changeAppSecret(tn, id, map[string]any{"appSecret": "new-app-secret-1"})
	requireReceived(t, h.signed(id, "7001", "m_1", appSecret))
	r := h.post(revokePath(id), tn.Admin, nil)
	requireStatus(t, r, http.StatusOK)
	var rot rotationJSON
	r.decode(t, &rot)
	assert.Nil(t, rot.PreviousUntil)
	assert.Equal(t, "pending", rot.Status, "the Pages still miss their token")
	assert.Equal(t, rot, h.rotation(tn, id))
	requireRefused(t, h.signed(id, "7001", "m_2", appSecret))
	requireReceived(t, h.signed(id, "7001", "m_3", "new-app-secret-1"))
	_, _, err := h.store.PreviousAppSecret(context.Background(), id)
	assert.Equal(t, aicc.ENOTFOUND, aicc.ErrorCode(err))
	requireError(t, h.post(revokePath(id), tn.Admin, nil), http.StatusConflict, aicc.ENOPREVIOUSSECRET)

	// A complete rotation ends with its window: a second revoke finds no rotation running.
	h.changeAppSecret(tn, empty, map[string]any{"appSecret": "new-app-secret-2"})
	requireStatus(t, h.post(revokePath(empty), tn.Admin, nil), http.StatusOK)
	requireError(t, h.post(revokePath(empty), tn.Admin, nil), http.StatusConflict, aicc.ENOPREVIOUSSECRET)
	assert.Equal(t, "complete", h.rotation(tn, empty).Status)
}

// TestChangeTokenSecret checks the Configuration step: a token Meta accepts for this Page replaces the old one,
// which the Page keeps when Meta refuses the new one or it is another Page's.
func TestChangeTokenSecret(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001", "7002")
	before := h.getPage(tn, id, "7001")
	h.flows.graph.AddPage("7001", "Shop", "new-token-7001")
	h.flows.graph.AddPage("7999", "Someone else's", "token-of-7999")

	p := h.changeTokenSecret(tn, id, "7001", "new-token-7001")
	assert.Equal(t, "7001", p.PageID)
	assert.NotEqual(t, before.TokenSecret.Fingerprint, p.TokenSecret.Fingerprint)
	assert.Equal(t, h.keyring.Fingerprint("new-token-7001"), p.TokenSecret.Fingerprint)
	assert.Equal(t, "healthy", p.TokenHealth)
	assert.Equal(t, before.Status, p.Status, "still subscribed")
	assert.Equal(t, "new-token-7001", h.pageToken("7001"))
	h.requireNoVersion(id, h.lastVersionID())
	assert.Equal(t, "none", h.getChannel(tn, id).RotationStatus, "a token change alone is no rotation")

	// Refused: 422 on tokenSecret, and the old token stays.
	for _, tc := range []struct{ name, token string }{
		{"another Page's", "token-of-7999"}, // Meta accepts it, but for Page 7999
		{"unknown to Meta", "bogus-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := h.on(t)
			before := h.getPage(tn, id, "7002")
			e := requireError(t, h.put(tokenSecretPath(id, "7002"), tn.Admin, map[string]any{"tokenSecret": tc.token}),
				http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
			assert.NotEmpty(t, e.Fields["tokenSecret"])
			after := h.getPage(tn, id, "7002")
			assert.Equal(t, before.TokenSecret, after.TokenSecret, "the old token stays")
			assert.Equal(t, "token-7002", h.pageToken("7002"))
			assert.Equal(t, before.Status, after.Status)
			h.requireNoVersion(id, h.lastVersionID())
		})
	}
	assert.Equal(t, "healthy", h.getPage(tn, id, "7002").TokenHealth, "a refused new token says nothing of the one in use")

	requireError(t, h.put(tokenSecretPath(id, "7777"), tn.Admin, map[string]any{"tokenSecret": "new-token"}),
		http.StatusNotFound, aicc.ENOTFOUND)
	e := requireError(t, h.put(tokenSecretPath(id, "7002"), tn.Admin, map[string]any{"tokenSecret": ""}),
		http.StatusBadRequest, aicc.EINVALID)
	assert.Contains(t, e.Fields, "tokenSecret")
	requireError(t, h.put(tokenSecretPath(id, "7002"), tn.Admin, map[string]any{"tokenSecret": "two words"}),
		http.StatusBadRequest, aicc.EINVALID)
}

// TestRotationCompletes checks the two steps together: after the app secret changed (at Meta, then here), the
// rotation is pending until every Page has a token accepted under the new secret.
func TestRotationCompletes(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001", "7002")
	const newSecret = "new-app-secret-1"
	h.flows.graph.ResetAppSecret(newSecret) // reset in Meta for Developers
	h.flows.graph.AddPage("7001", "Shop", "new-token-7001")
	h.flows.graph.AddPage("7002", "Outlet", "new-token-7002")

	// Meta checks a token's appsecret_proof under its new secret: the app secret goes first.
	e := requireError(t, h.put(tokenSecretPath(id, "7001"), tn.Admin, map[string]any{"tokenSecret": "new-token-7001"}),
		http.StatusUnprocessableEntity, aicc.EMETAINVALIDPARAM)
	assert.NotEmpty(t, e.Message)
	assert.Equal(t, "token-7001", h.pageToken("7001"), "the old token stays")

	h.later()
	h.changeAppSecret(tn, id, map[string]any{"appSecret": newSecret})
	h.changeTokenSecret(tn, id, "7001", "new-token-7001")
	rot := h.rotation(tn, id)
	assert.Equal(t, "pending", rot.Status)
	assert.Equal(t, []string{"7001"}, rot.PagesDone)
	assert.Equal(t, 1, rot.PagesMissing)
	assert.Equal(t, []string{"7002"}, rot.MissingPageIDs)
	assert.Equal(t, "pending", h.getChannel(tn, id).RotationStatus)

	p := h.changeTokenSecret(tn, id, "7002", "new-token-7002")
	assert.Equal(t, "healthy", p.TokenHealth)
	rot = h.rotation(tn, id)
	assert.Equal(t, "complete", rot.Status)
	assert.Equal(t, []string{"7001", "7002"}, rot.PagesDone)
	assert.Zero(t, rot.PagesMissing)
	assert.Empty(t, rot.MissingPageIDs)
	assert.NotNil(t, rot.PreviousUntil, "the window goes on")
	assert.Equal(t, "complete", h.getChannel(tn, id).RotationStatus)
	// The Pages still receive.
	requireReceived(t, h.signed(id, "7002", "m_1", newSecret))

	// The window over, a Page token changed later is no rotation: the route still shows the completed one.
	requireStatus(t, h.post(revokePath(id), tn.Admin, nil), http.StatusOK)
	h.flows.graph.AddPage("7001", "Shop", "newer-token-7001")
	h.changeTokenSecret(tn, id, "7001", "newer-token-7001")
	rot = h.rotation(tn, id)
	assert.Equal(t, "complete", rot.Status)
	assert.NotNil(t, rot.StartedAt)
}

// TestRotationAudit checks the audit entries of the rotation's changes: who, what, and fingerprints only.
func TestRotationAudit(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	adminID := h.tokenID(tn.Admin)
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001")
	channelLog := "/v1/channels/" + id + "/audit"
	newSecret := "CANARY-app-secret-" + hex.EncodeToString(aicc.RandomBytes(8))
	newToken := "CANARY-page-token-" + hex.EncodeToString(aicc.RandomBytes(8))
	h.flows.graph.ResetAppSecret(newSecret)
	h.flows.graph.AddPage("7001", "Shop", newToken)
	old := h.getChannel(tn, id).AppSecret.Fingerprint

	e := h.audited(channelLog, tn.Viewer, func() { h.changeAppSecret(tn, id, map[string]any{"appSecret": newSecret}) })
	requireActor(t, e, adminID, "tenant-admin")
	assert.Equal(t, "channel.app_secret.change", e.Action)
	assert.Equal(t, id, e.ChannelID)
	assert.Equal(t, "channel", e.Target.Type)
	assert.Equal(t, id, e.Target.ID)
	assert.Equal(t, h.getChannel(tn, id).AppSecret.Fingerprint, e.Details["appSecretFingerprint"])
	assert.Equal(t, old, e.Details["previousFingerprint"])
	assert.Equal(t, h.now().Add(24*time.Hour).Format(time.RFC3339), e.Details["previousUntil"])
	assert.Equal(t, h.now(), e.At)

	e = h.audited(channelLog, tn.Viewer, func() { h.changeTokenSecret(tn, id, "7001", newToken) })
	requireActor(t, e, adminID, "tenant-admin")
	assert.Equal(t, "page.token_secret.change", e.Action)
	assert.Equal(t, "page", e.Target.Type)
	assert.Equal(t, "7001", e.Target.ID)
	assert.Equal(t, h.getPage(tn, id, "7001").TokenSecret.Fingerprint, e.Details["tokenSecretFingerprint"])

	h.notAudited(channelLog, tn.Viewer, func() {
		requireError(t, h.put(tokenSecretPath(id, "7001"), tn.Admin, map[string]any{"tokenSecret": newToken + "-refused"}),
			http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
		requireError(t, h.put(appSecretPath(id), tn.Admin, map[string]any{"appSecret": newSecret, "overlapSeconds": -1}),
			http.StatusBadRequest, aicc.EINVALID)
	})

	e = h.audited(channelLog, tn.Viewer, func() { requireStatus(t, h.post(revokePath(id), tn.Admin, nil), http.StatusOK) })
	requireActor(t, e, adminID, "tenant-admin")
	assert.Equal(t, "channel.rotation.revoke_previous", e.Action)
	assert.Equal(t, old, e.Details["previousFingerprint"])
	h.notAudited(channelLog, tn.Viewer, func() {
		requireError(t, h.post(revokePath(id), tn.Admin, nil), http.StatusConflict, aicc.ENOPREVIOUSSECRET)
	})

	for _, e := range h.auditLog("/v1/audit", tn.Viewer) {
		for k, v := range e.Details {
			for _, secret := range []string{newSecret, newToken, appSecret, "token-7001"} {
				assert.NotContains(t, v, secret, "%s %s", e.Action, k)
			}
		}
	}
}

// TestRotationSecretsNeverLeak walks a rotation through every route with canary secrets and checks that they
// appear in no response body, log line (the activities' included), workflow input or Update, or metric.
func TestRotationSecretsNeverLeak(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_canary", aicc.AlgorithmSHA256, "7001", "7002")
	newSecret := "CANARY-app-secret-" + hex.EncodeToString(aicc.RandomBytes(8))
	newToken := "CANARY-page-token-" + hex.EncodeToString(aicc.RandomBytes(8))
	refused := "CANARY-refused-token-" + hex.EncodeToString(aicc.RandomBytes(8))
	h.flows.graph.ResetAppSecret(newSecret)
	h.flows.graph.AddPage("7001", "Shop", newToken)

	h.changeAppSecret(tn, id, map[string]any{"appSecret": newSecret})
	// Mistyped, then fixed: both changes go through the rotation.
	requireError(t, h.put(appSecretPath(id), tn.Admin, map[string]any{"appSecret": newSecret, "overlapSeconds": -1}),
		http.StatusBadRequest, aicc.EINVALID)
	requireError(t, h.patch("/v1/channels/"+id, tn.Admin, map[string]any{"appSecret": newSecret}),
		http.StatusBadRequest, aicc.EINVALID)
	h.changeTokenSecret(tn, id, "7001", newToken)
	requireError(t, h.put(tokenSecretPath(id, "7002"), tn.Admin, map[string]any{"tokenSecret": refused}),
		http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
	requireError(t, h.put(tokenSecretPath(id, "7002"), tn.Admin, map[string]any{"tokenSecret": refused + " x"}),
		http.StatusBadRequest, aicc.EINVALID)
	h.flows.failNext("UpdateWithStartWorkflow", serviceerror.NewUnavailable("connection refused"))
	requireError(t, h.put(tokenSecretPath(id, "7002"), tn.Admin, map[string]any{"tokenSecret": refused}),
		http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	requireReceived(t, h.signed(id, "7001", "m_1", newSecret))
	requireReceived(t, h.signed(id, "7001", "m_2", appSecret))
	requireRefused(t, h.signed(id, "7001", "m_3", refused))
	h.rotation(tn, id)
	h.getChannel(tn, id)
	requireStatus(t, h.get("/v1/channels", tn.Viewer), http.StatusOK)
	requireStatus(t, h.get(pagesPath(id), tn.Viewer), http.StatusOK)
	h.auditLog("/v1/channels/"+id+"/audit", tn.Viewer)
	requireStatus(t, h.post(revokePath(id), tn.Admin, nil), http.StatusOK)
	metrics := h.scrape()

	logs := h.logs.String()
	require.Contains(t, logs, "app secret changed")
	require.Contains(t, logs, "page token refused")
	require.Contains(t, logs, "Graph call failed", "the activities' log lines are read too")
	updates := strings.Join(h.rec.starts, "\n")
	require.Contains(t, updates, workflows.UpdateSetAppSecret)
	require.Contains(t, updates, workflows.UpdateSetPageToken)
	require.Contains(t, updates, workflows.UpdateRevokePrevious)
	for _, secret := range []string{newSecret, newToken, refused, appSecret} {
		for i, b := range h.rec.bodies {
			assert.NotContains(t, b, secret, "response %d", i)
		}
		assert.NotContains(t, logs, secret)
		assert.NotContains(t, updates, secret, "workflow starts and Updates")
		assert.NotContains(t, metrics, secret)
	}
}

// TestRotationTenantIsolation checks that another tenant's token finds none of the rotation's routes on the
// channel, and that a viewer may read the rotation but not change it; neither reaches Temporal.
func TestRotationTenantIsolation(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	id := h.webhookChannel(a, "fb_a", aicc.AlgorithmSHA256, "7001")
	h.changeAppSecret(a, id, map[string]any{"appSecret": "new-app-secret-1"})
	before := h.getChannel(a, id)

	writes := []request{
		{method: http.MethodPut, path: appSecretPath(id), body: map[string]any{"appSecret": "stolen-secret"}},
		{method: http.MethodPost, path: revokePath(id)},
		{method: http.MethodPut, path: tokenSecretPath(id, "7001"), body: map[string]any{"tokenSecret": "stolen-token"}},
	}
	calls := len(h.temporal.Calls)
	for _, rq := range append([]request{{method: http.MethodGet, path: rotationPath(id), token: b.Viewer}}, writes...) {
		if rq.token == "" {
			rq.token = b.Admin
		}
		e := requireError(t, h.do(rq), http.StatusNotFound, aicc.ENOTFOUND)
		missing := rq
		missing.path = strings.ReplaceAll(rq.path, id, "ch_missing")
		assert.Equal(t, e, requireError(t, h.do(missing), http.StatusNotFound, aicc.ENOTFOUND), "as for no channel")
	}
	for _, rq := range writes {
		rq.token = a.Viewer
		requireError(t, h.do(rq), http.StatusForbidden, aicc.EFORBIDDEN)
	}
	assert.Len(t, h.temporal.Calls, calls, "no refused request reaches Temporal")

	after := h.getChannel(a, id)
	assert.Equal(t, before.AppSecret, after.AppSecret)
	assert.Equal(t, "token-7001", h.pageToken("7001"))
	assert.NotNil(t, h.rotation(a, id).PreviousUntil, "not revoked")
}

// TestRotationOnDeletingChannel checks that a channel being deleted refuses every change of its secrets,
// without asking Temporal, and still shows its rotation.
func TestRotationOnDeletingChannel(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001")
	h.later()
	h.changeAppSecret(tn, id, map[string]any{"appSecret": "new-app-secret-1"})
	requireStatus(t, h.delete("/v1/channels/"+id, tn.Admin), http.StatusAccepted)

	calls := len(h.temporal.Calls)
	for _, rq := range []request{
		{method: http.MethodPut, path: appSecretPath(id), body: map[string]any{"appSecret": "new-app-secret-2"}},
		{method: http.MethodPost, path: revokePath(id)},
		{method: http.MethodPut, path: tokenSecretPath(id, "7001"), body: map[string]any{"tokenSecret": "new-token"}},
	} {
		rq.token = tn.Admin
		e := requireError(t, h.do(rq), http.StatusConflict, aicc.ECHANNELDELETING)
		assert.NotEmpty(t, e.Message)
	}
	assert.Len(t, h.temporal.Calls, calls, "a refused change starts nothing")
	assert.Equal(t, h.keyring.Fingerprint("new-app-secret-1"), h.getChannel(tn, id).AppSecret.Fingerprint)
	assert.Equal(t, "pending", h.rotation(tn, id).Status)
}

// TestRotationWhenTemporalFails checks that a change Temporal does not take is a 503 that leaves nothing
// behind: the sealed secret version is removed, and the channel keeps its secrets.
func TestRotationWhenTemporalFails(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	id := h.webhookChannel(tn, "fb_main", aicc.AlgorithmSHA256, "7001")
	before := h.getChannel(tn, id)

	h.flows.failNext("UpdateWithStartWorkflow", serviceerror.NewUnavailable("connection refused"))
	r := h.put(appSecretPath(id), tn.Admin, map[string]any{"appSecret": "new-app-secret-1"})
	requireError(t, r, http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	assert.NotContains(t, string(r.Body), "connection refused")
	h.requireNoVersion(id, h.lastVersionID())
	after := h.getChannel(tn, id)
	assert.Equal(t, before.AppSecret, after.AppSecret)
	assert.Equal(t, "none", after.RotationStatus)
	requireReceived(t, h.signed(id, "7001", "m_1", appSecret))

	h.flows.graph.AddPage("7001", "Shop", "new-token-7001")
	h.flows.failNext("UpdateWithStartWorkflow", client.NewWorkflowUpdateServiceTimeoutOrCanceledError(context.DeadlineExceeded))
	requireError(t, h.put(tokenSecretPath(id, "7001"), tn.Admin, map[string]any{"tokenSecret": "new-token-7001"}),
		http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	h.requireNoVersion(id, h.lastVersionID())
	assert.Equal(t, "token-7001", h.pageToken("7001"))

	// Once Temporal answers again, the same change goes through.
	h.changeAppSecret(tn, id, map[string]any{"appSecret": "new-app-secret-1"})
	h.flows.failNext("UpdateWorkflow", serviceerror.NewUnavailable("connection refused"))
	requireError(t, h.post(revokePath(id), tn.Admin, nil), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	h.flows.failNext("QueryWorkflow", serviceerror.NewUnavailable("connection refused"))
	requireError(t, h.get(rotationPath(id), tn.Viewer), http.StatusServiceUnavailable, aicc.EUNAVAILABLE)
	assert.NotNil(t, h.rotation(tn, id).PreviousUntil, "not revoked")
}

// TestRotationMetrics checks the rotation gauges, read from the store by each refresh.
func TestRotationMetrics(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	pending := h.webhookChannel(tn, "fb_pending", aicc.AlgorithmSHA256, "7001")
	complete := h.createChannel(tn, channelBody(tn, "fb_complete")).Channel.ID

	m := h.scrape()
	assert.Zero(t, h.metric(m, `aicc_secret_rotations{status="pending"}`), "present from the start")
	assert.Zero(t, h.metric(m, `aicc_secret_rotations{status="complete"}`), "present from the start")
	assert.Zero(t, h.metric(m, `aicc_secret_rotations_reminded`))
	assert.Zero(t, h.metric(m, `aicc_secret_rotation_oldest_pending_seconds`))

	h.later()
	h.changeAppSecret(tn, pending, map[string]any{"appSecret": "new-app-secret-1"})
	*h.clock = h.now().Add(90 * time.Minute)
	h.changeAppSecret(tn, complete, map[string]any{"appSecret": "new-app-secret-2"})
	m = h.scrape()
	assert.Equal(t, float64(1), h.metric(m, `aicc_secret_rotations{status="pending"}`))
	assert.Equal(t, float64(1), h.metric(m, `aicc_secret_rotations{status="complete"}`))
	assert.Equal(t, float64(90*60), h.metric(m, `aicc_secret_rotation_oldest_pending_seconds`))
	assert.Zero(t, h.metric(m, `aicc_secret_rotations_reminded`))

	// The Page's new token completes it.
	h.flows.graph.ResetAppSecret("new-app-secret-1")
	h.flows.graph.AddPage("7001", "Shop", "new-token-7001")
	h.changeTokenSecret(tn, pending, "7001", "new-token-7001")
	m = h.scrape()
	assert.Zero(t, h.metric(m, `aicc_secret_rotations{status="pending"}`))
	assert.Equal(t, float64(2), h.metric(m, `aicc_secret_rotations{status="complete"}`))
	assert.Zero(t, h.metric(m, `aicc_secret_rotation_oldest_pending_seconds`))
}
