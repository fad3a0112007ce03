package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
)

// Ownership before claim (issue 13): an app ID and a Page ID are public, so typing one claims nothing. A
// channel claims its app once Meta confirmed the App Secret, and a Page once Meta confirmed its token is that
// Page's; a conflict is told only to whoever proved, in the same words whoever holds the claim.

// claimedApp reports whether the channel claimed its app.
func (h *harness) claimedApp(tn tenant, channelID string) bool {
	h.t.Helper()
	ch, err := h.store.GetChannel(context.Background(), tn.ID, channelID)
	require.NoError(h.t, err)
	return !ch.AppClaimedAt.IsZero()
}

// claimedPage reports whether the Page is the channel's and claimed by it.
func (h *harness) claimedPage(tn tenant, channelID, pageID string) bool {
	h.t.Helper()
	p, err := h.store.GetPage(context.Background(), tn.ID, channelID, pageID)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		return false
	}
	require.NoError(h.t, err)
	return !p.ClaimedAt.IsZero()
}

func TestAppClaims(t *testing.T) {
	h := newHarness(t)
	a, b := h.newTenant("A"), h.newTenant("B")
	const ownerApp = "7000000000000001"
	h.flows.graph.AddApp(ownerApp, appSecret)

	// Another tenant types the owner's app ID with a secret of its own: Meta refuses it, and nothing is claimed.
	squat := channelBody(b, "squat")
	squat["appId"], squat["appSecret"] = ownerApp, "not-the-owners-secret-0123"
	sq := h.createChannel(b, squat).Channel
	assert.Equal(t, string(aicc.StatusFailed), sq.Status)
	assert.Equal(t, aicc.EMETAAPPINVALID, sq.Onboarding["errorCode"])
	assert.False(t, h.claimedApp(b, sq.ID))
	e := requireError(t, h.post("/v1/channels/"+sq.ID+"/onboarding", b.Admin, nil), http.StatusUnprocessableEntity, aicc.EMETAAPPINVALID)
	assert.Contains(t, e.Fields, "appSecret")
	assert.NotContains(t, e.Message, "not-the-owners-secret")

	// The owner is not locked out: its channel proves the secret and claims the app.
	mine := channelBody(a, "mine")
	mine["appId"] = ownerApp
	owner := h.createChannel(a, mine).Channel
	assert.Equal(t, string(aicc.StatusAwaitingVerification), owner.Status)
	assert.True(t, h.claimedApp(a, owner.ID))

	// Whoever proves the secret afterwards learns only that the app is connected to another channel, in the same
	// words for the owner's own second channel and for another tenant's.
	conflict := func(tn tenant, name string) apiError {
		t.Helper()
		body := channelBody(tn, name)
		body["appId"] = ownerApp
		c := h.createChannel(tn, body).Channel
		assert.Equal(t, string(aicc.StatusFailed), c.Status)
		assert.Equal(t, aicc.EAPPCONNECTED, c.Onboarding["errorCode"])
		assert.False(t, h.claimedApp(tn, c.ID))
		return requireError(t, h.post("/v1/channels/"+c.ID+"/onboarding", tn.Admin, nil), http.StatusConflict, aicc.EAPPCONNECTED)
	}
	own, foreign := conflict(a, "mine_again"), conflict(b, "theirs")
	assert.Equal(t, own, foreign)
	assert.Equal(t, aicc.MsgAppConnected, own.Message)

	// The owner's channel deleted, its app is free for whoever proves it next: the squatter still cannot.
	require.NoError(t, h.store.DeleteChannel(context.Background(), a.ID, owner.ID))
	requireError(t, h.post("/v1/channels/"+sq.ID+"/onboarding", b.Admin, nil), http.StatusUnprocessableEntity, aicc.EMETAAPPINVALID)
	assert.False(t, h.claimedApp(b, sq.ID))
}

// Meta unavailable while the App Secret is checked: the channel fails with Meta's code and claims nothing;
// started again once Meta answers, it proves and claims the app.
// A channel that has not claimed its app adds no Page: the app's subscription to it would deliver its messages
// to the channel that holds the app.
func TestPagesNeedTheAppClaimed(t *testing.T) {
	h := newHarness(t)
	a := h.newTenant("A")
	const app, page = "7000000000000002", "8000000000000003"
	h.flows.graph.AddApp(app, appSecret)
	h.flows.graph.AddPage(page, "Second Page", "EAAB-second-page-token")
	owner := channelBody(a, "owner")
	owner["appId"] = app
	h.createChannel(a, owner)
	second := channelBody(a, "second")
	second["appId"] = app
	ch := h.createChannel(a, second).Channel
	require.Equal(t, aicc.EAPPCONNECTED, ch.Onboarding["errorCode"])

	e := requireError(t, h.post(pagesPath(ch.ID), a.Admin, map[string]any{"pageId": page, "tokenSecret": "EAAB-second-page-token"}),
		http.StatusConflict, aicc.ECONFLICT)
	assert.Equal(t, aicc.MsgAppNotClaimed, e.Message)
	assert.False(t, h.pageExists(a, ch.ID, page))
	assert.Empty(t, h.flows.graph.Subscription(page), "the app is not subscribed to the Page")
}

func TestAppClaimWaitsForMeta(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	h.flows.graph.FailNext(1, metatest.FailServerError)
	c := h.createChannel(tn, channelBody(tn, "fb_main")).Channel
	assert.Equal(t, aicc.EMETAUNAVAILABLE, c.Onboarding["errorCode"])
	assert.False(t, h.claimedApp(tn, c.ID))

	requireStatus(t, h.post("/v1/channels/"+c.ID+"/onboarding", tn.Admin, nil), http.StatusAccepted)
	assert.True(t, h.claimedApp(tn, c.ID))
}

func TestPageClaims(t *testing.T) {
	h := newHarness(t, withWorkflowWait(5*time.Second))
	a, b := h.newTenant("A"), h.newTenant("B")
	chA := h.createChannel(a, channelBody(a, "fb_a")).Channel.ID
	chA2 := h.createChannel(a, channelBody(a, "fb_a2")).Channel.ID
	chB := h.createChannel(b, channelBody(b, "fb_b")).Channel.ID
	const ownerPage, ownerToken = "8000000000000001", "EAAB-owner-page-token"
	const otherPage, otherToken = "8000000000000002", "EAAB-squatters-own-page-token"
	h.flows.graph.AddPage(ownerPage, "Owner's Page", ownerToken)
	h.flows.graph.AddPage(otherPage, "Squatter's Page", otherToken)
	h.flows.setConnect(h.flows.realConnect) // the real ConnectPage, with the real activities, against the fake Meta

	// Another tenant adds the owner's Page ID with the token of another Page (its own): refused, not kept.
	e := requireError(t, h.post(pagesPath(chB), b.Admin, map[string]any{"pageId": ownerPage, "tokenSecret": otherToken}),
		http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
	assert.Contains(t, e.Fields, "tokenSecret")
	assert.False(t, h.pageExists(b, chB, ownerPage))
	// And with no valid token at all.
	requireError(t, h.post(pagesPath(chB), b.Admin, map[string]any{"pageId": ownerPage, "tokenSecret": "EAAB-made-up"}),
		http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)

	// Meta failing during the token check, through all 5 attempts, leaves the Page subscription_failed,
	// claiming nothing.
	h.flows.graph.FailNext(5, metatest.FailServerError)
	r := h.post(pagesPath(chB), b.Admin, map[string]any{"pageId": ownerPage, "tokenSecret": otherToken})
	requireStatus(t, r, http.StatusCreated)
	p := decodePage(t, r)
	assert.Equal(t, "subscription_failed", p.Status)
	assert.Equal(t, aicc.EMETAUNAVAILABLE, p.StatusReason)
	assert.False(t, h.claimedPage(b, chB, ownerPage))

	// So the owner is not locked out: its token is confirmed, and the Page claimed.
	r = h.post(pagesPath(chA), a.Admin, map[string]any{"pageId": ownerPage, "tokenSecret": ownerToken})
	requireStatus(t, r, http.StatusCreated)
	assert.True(t, h.claimedPage(a, chA, ownerPage))
	// The unproven Page of the other tenant is still its own, and now fails its check plainly.
	e = requireError(t, h.post(pagesPath(chB)+"/"+ownerPage+"/connect", b.Admin, nil), http.StatusUnprocessableEntity, aicc.EMETATOKENINVALID)
	assert.False(t, h.pageExists(b, chB, ownerPage))

	// A token Meta confirms, on a Page another channel claimed: the same words for the owner's own second
	// channel and for another tenant's, and the Page is not kept.
	h.flows.graph.AddPage(ownerPage, "Owner's Page", ownerToken) // both know the token now
	own := requireError(t, h.post(pagesPath(chA2), a.Admin, map[string]any{"pageId": ownerPage, "tokenSecret": ownerToken}),
		http.StatusConflict, aicc.EPAGECONNECTED)
	foreign := requireError(t, h.post(pagesPath(chB), b.Admin, map[string]any{"pageId": ownerPage, "tokenSecret": ownerToken}),
		http.StatusConflict, aicc.EPAGECONNECTED)
	assert.Equal(t, own, foreign)
	assert.Equal(t, aicc.MsgPageConnected, own.Message)
	assert.Equal(t, map[string]string{"pageId": "is already connected to another channel"}, own.Fields)
	assert.False(t, h.pageExists(a, chA2, ownerPage))
	assert.False(t, h.pageExists(b, chB, ownerPage))
	assert.True(t, h.claimedPage(a, chA, ownerPage), "the claim stands")

	// The Page removed, whoever proves it next claims it.
	requireStatus(t, h.delete(pagesPath(chA)+"/"+ownerPage, a.Admin), http.StatusNoContent)
	requireStatus(t, h.post(pagesPath(chB), b.Admin, map[string]any{"pageId": ownerPage, "tokenSecret": ownerToken}), http.StatusCreated)
	assert.True(t, h.claimedPage(b, chB, ownerPage))

	// Nothing of it leaks a token.
	for _, body := range h.rec.bodies {
		for _, tok := range []string{ownerToken, otherToken} {
			assert.NotContains(t, body, tok)
		}
	}
}
