package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta/metatest"
)

// TestOwnershipBeforeClaimEndToEnd: the app ID and the Page ID are public, so another tenant typing them locks
// no one out. Against the fake Meta over TLS: a channel with another's app ID and a secret of its own fails,
// claiming nothing, and the owner's channel proves the secret and claims the app; a channel that has not
// claimed its app adds no Page, whatever the token, and the owner's token claims it; whoever proves an app that
// is claimed learns only that it is connected to another channel, in the same words, of whichever tenant. No
// token, secret or proof travels in a URL.
func TestOwnershipBeforeClaimEndToEnd(t *testing.T) {
	s, pageToken := newStack(t)
	ctx := context.Background()
	s.uploadCertificate()

	// A second tenant, with its own admin token and directory.
	now := time.Now().UTC()
	tenantB := &aicc.Tenant{ID: aicc.NewID(aicc.PrefixTenant), Name: "squatter", CreatedAt: now}
	if err := s.store.CreateTenant(ctx, tenantB); err != nil {
		t.Fatal(err)
	}
	tokenB, rec := aicc.NewAPIToken(tenantB.ID, aicc.RoleTenantAdmin, "squatter", now)
	if err := s.store.CreateToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	callB := func(want int, method, path string, body any) map[string]any {
		t.Helper()
		got, m, raw := s.callAs(tokenB, method, path, body)
		if got != want {
			t.Fatalf("B: %s %s = %d %s, want %d", method, path, got, raw, want)
		}
		return m
	}
	ou := callB(http.StatusCreated, http.MethodPost, "/v1/ous", map[string]any{"name": "Squat"})
	queue := callB(http.StatusCreated, http.MethodPost, "/v1/skill-queues", map[string]any{"name": "Squat", "accessCode": "1", "ouId": ou["id"]})
	basicB := map[string]any{"ouId": ou["id"], "skillQueueId": queue["id"]}
	channelOf := func(created map[string]any) (string, map[string]any) {
		ch := created["channel"].(map[string]any)
		return ch["id"].(string), ch
	}
	errorOf := func(raw []byte) string {
		var body struct{ Error json.RawMessage }
		if err := json.Unmarshal(raw, &body); err != nil || body.Error == nil {
			t.Fatalf("want an error answer, got %s", raw)
		}
		return string(body.Error)
	}

	// B types the fake app's ID with a secret of its own: Meta refuses it, the channel fails and claims nothing.
	wrongSecret := canary(t, "squatters-secret")
	squat, sq := channelOf(callB(http.StatusCreated, http.MethodPost, "/v1/channels", map[string]any{
		"name": "squat", "appId": metatest.DefaultAppID, "appSecret": wrongSecret, "basic": basicB,
	}))
	if o, _ := sq["onboarding"].(map[string]any); sq["status"] != string(aicc.StatusFailed) || o["errorCode"] != aicc.EMETAAPPINVALID {
		t.Fatalf("squatter's channel = %v, want failed with %s", sq, aicc.EMETAAPPINVALID)
	}
	if ch, err := s.store.FindChannel(ctx, squat); err != nil || !ch.AppClaimedAt.IsZero() {
		t.Fatalf("squatter's channel %v, %v: want it stored and not claimed", ch, err)
	}

	// The owner is not locked out: its channel proves the secret and claims the app.
	owner, verifyToken, _ := s.createChannel("fb_owner")
	if ch, err := s.store.FindChannel(ctx, owner); err != nil || ch.AppClaimedAt.IsZero() || ch.Onboarding.Status != aicc.StatusAwaitingVerification {
		t.Fatalf("owner's channel %v, %v: want it awaiting verification, the app claimed", ch, err)
	}

	// Who proves the secret now learns only that the app is connected to another channel: the owner's second
	// channel and B (had it the secret) in the same words.
	second, _, created := s.createChannel("fb_owner_again")
	if o := created["channel"].(map[string]any)["onboarding"].(map[string]any); o["errorCode"] != aicc.EAPPCONNECTED {
		t.Fatalf("second channel of the app: onboarding %v, want %s", o, aicc.EAPPCONNECTED)
	}
	sq2, _ := channelOf(callB(http.StatusCreated, http.MethodPost, "/v1/channels", map[string]any{
		"name": "squat_with_secret", "appId": metatest.DefaultAppID, "appSecret": s.appSecret, "basic": basicB,
	}))
	_, _, ownRaw := s.call(http.MethodPost, "/v1/channels/"+second+"/onboarding", nil)
	_, _, foreignRaw := s.callAs(tokenB, http.MethodPost, "/v1/channels/"+sq2+"/onboarding", nil)
	if own, foreign := errorOf(ownRaw), errorOf(foreignRaw); own != foreign || !json.Valid([]byte(own)) {
		t.Errorf("app conflicts differ:\nown     %s\nforeign %s", own, foreign)
	}

	// Pages: a channel that has not claimed its app adds none, whatever the token: that app's subscription would
	// serve the channel that holds it. B tries the owner's Page ID with the token of another Page, its own, and
	// with no token Meta knows: refused in the same words on both of its channels, and not kept.
	const otherPageID = "1000000002"
	otherToken := canary(t, "other-page-token")
	s.meta.AddPage(otherPageID, "Squatter's Page", otherToken)
	var refusals []string
	for _, channel := range []string{sq2, squat} {
		got, _, raw := s.callAs(tokenB, http.MethodPost, "/v1/channels/"+channel+"/pages", map[string]any{"pageId": fakePageID, "tokenSecret": otherToken})
		if got != http.StatusConflict {
			t.Fatalf("B adds the owner's Page on its channel without the app = %d %s, want 409", got, raw)
		}
		refusals = append(refusals, errorOf(raw))
		if _, err := s.store.GetPage(ctx, tenantB.ID, channel, fakePageID); aicc.ErrorCode(err) != aicc.ENOTFOUND {
			t.Errorf("B's refused Page on %s: %v, want it not kept", channel, err)
		}
	}
	if refusals[0] != refusals[1] || !strings.Contains(refusals[0], aicc.ECONFLICT) {
		t.Errorf("refusals differ or are not CONFLICT: %q", refusals)
	}

	// The owner adds its Page: confirmed, claimed, subscribed.
	if code, _ := s.verify(owner, verifyToken, "7"); code != http.StatusOK {
		t.Fatalf("verification = %d, want 200", code)
	}
	p := s.mustCall(http.StatusCreated, http.MethodPost, "/v1/channels/"+owner+"/pages", map[string]any{"pageId": fakePageID, "tokenSecret": pageToken})
	if p["status"] != string(aicc.PageSubscribed) {
		t.Fatalf("owner's Page = %v, want subscribed", p)
	}
	if pg, err := s.store.GetPage(ctx, s.tenantID, owner, fakePageID); err != nil || pg.ClaimedAt.IsZero() {
		t.Fatalf("owner's Page %v, %v: want it claimed", pg, err)
	}

	// The Page's own token on another channel of the app, the owner's or B's: the same words, and not kept.
	_, _, ownRaw = s.call(http.MethodPost, "/v1/channels/"+second+"/pages", map[string]any{"pageId": fakePageID, "tokenSecret": pageToken})
	got, _, foreignRaw := s.callAs(tokenB, http.MethodPost, "/v1/channels/"+sq2+"/pages", map[string]any{"pageId": fakePageID, "tokenSecret": pageToken})
	if own, foreign := errorOf(ownRaw), errorOf(foreignRaw); got != http.StatusConflict || own != foreign {
		t.Errorf("Page conflicts differ (B got %d):\nown     %s\nforeign %s", got, own, foreign)
	}
	for _, key := range [][2]string{{s.tenantID, second}, {tenantB.ID, sq2}} {
		if _, err := s.store.GetPage(ctx, key[0], key[1], fakePageID); aicc.ErrorCode(err) != aicc.ENOTFOUND {
			t.Errorf("a Page claimed elsewhere is kept on channel %s: %v", key[1], err)
		}
	}
	if got := s.meta.Subscription(fakePageID); len(got) == 0 {
		t.Error("the owner's subscription is gone")
	}

	// Nothing secret went in a URL: tokens in the Authorization header, proofs and secrets in POST bodies.
	oauth := 0
	for _, r := range s.meta.Requests() {
		if len(r.URLParams) != 0 {
			t.Errorf("fake Meta got %s %s with %v in the URL", r.HTTPMethod, r.Path, r.URLParams)
		}
		if strings.HasSuffix(r.Path, "/oauth/access_token") {
			oauth++
			continue
		}
		if !r.Bearer {
			t.Errorf("fake Meta got %s %s without the token in the Authorization header", r.HTTPMethod, r.Path)
		}
	}
	if oauth < 4 {
		t.Errorf("fake Meta saw %d app token requests, want one per channel created with a certificate", oauth)
	}
	s.checkNoSecrets(ctx, map[string]string{
		"app secret": s.appSecret, "squatter's secret": wrongSecret, "page token": pageToken, "other page token": otherToken,
	}, nil)
}
