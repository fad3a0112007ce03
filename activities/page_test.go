package activities_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

// Canary secrets: they must never appear in an error or a log line.
const (
	pageToken = "EAAG-canary-page-token-5f1d"
	appSecret = "canary-app-secret-9b2e"
	appID     = "1234567890"
	pageID    = "102030405060"
)

var testNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// pageStore is a fake aicc.ChannelStore with one channel and its Pages, their sealed tokens and their states.
// Methods the activities do not use panic through the nil embedded interface.
type pageStore struct {
	aicc.ChannelStore
	mu       sync.Mutex
	channels map[string]*aicc.Channel
	secrets  map[string]aicc.SealedSecret // by channel ID: the app secret
	tokens   map[string]aicc.SealedSecret // by Page ID
	states   map[string]aicc.PageState    // by Page ID
	claimed  map[string]string            // by Page ID: the channel that claimed it
	apps     map[string]string            // by app ID: the channel that claimed it
	removed  []string
	err      error // returned by every method when set
}

// page returns ENOTFOUND unless the Page is of the tenant's channel: the activities name a Page by all three.
func (s *pageStore) page(tenantID, channelID, pageID string) error {
	ch := s.channels[channelID]
	if _, ok := s.states[pageID]; !ok || ch == nil || ch.TenantID != tenantID || channelID != "ch_1" {
		return notFound("Page")
	}
	return nil
}

func newPageStore(t *testing.T, k *aicc.Keyring) *pageStore {
	t.Helper()
	return &pageStore{
		channels: map[string]*aicc.Channel{"ch_1": {ID: "ch_1", TenantID: "ten_1", AppID: appID}},
		secrets:  map[string]aicc.SealedSecret{"ch_1": k.Seal(appSecret, aicc.ChannelSecretOwner("ch_1", aicc.SecretAppSecret), testNow)},
		tokens:   map[string]aicc.SealedSecret{pageID: k.Seal(pageToken, aicc.PageTokenOwner(pageID), testNow)},
		states:   map[string]aicc.PageState{pageID: {Status: aicc.PageConnecting}},
		claimed:  map[string]string{pageID: "ch_1"},
		apps:     map[string]string{},
	}
}

func notFound(what string) error { return aicc.Errorf(aicc.ENOTFOUND, "The %s does not exist.", what) }

func (s *pageStore) FindChannel(_ context.Context, id string) (*aicc.Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	ch, ok := s.channels[id]
	if !ok {
		return nil, notFound("channel")
	}
	return ch, nil
}

func (s *pageStore) GetChannel(ctx context.Context, tenantID, id string) (*aicc.Channel, error) {
	ch, err := s.FindChannel(ctx, id)
	if err == nil && ch.TenantID != tenantID {
		return nil, notFound("channel")
	}
	return ch, err
}

func (s *pageStore) ClaimApp(_ context.Context, tenantID, channelID string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	ch := s.channels[channelID]
	switch {
	case ch == nil || ch.TenantID != tenantID:
		return notFound("channel")
	case s.apps[ch.AppID] != "" && s.apps[ch.AppID] != channelID:
		return &aicc.Error{Code: aicc.EAPPCONNECTED, Message: aicc.MsgAppConnected}
	}
	s.apps[ch.AppID] = channelID
	return nil
}

func (s *pageStore) ClaimPage(_ context.Context, tenantID, channelID, pageID string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if err := s.page(tenantID, channelID, pageID); err != nil {
		return err
	}
	if c := s.claimed[pageID]; c != "" && c != channelID {
		return &aicc.Error{Code: aicc.EPAGECONNECTED, Message: aicc.MsgPageConnected}
	}
	s.claimed[pageID] = channelID
	return nil
}

func (s *pageStore) ChannelSecret(_ context.Context, channelID string, kind aicc.SecretKind) (aicc.SealedSecret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return aicc.SealedSecret{}, s.err
	}
	sec, ok := s.secrets[channelID]
	if !ok || kind != aicc.SecretAppSecret {
		return aicc.SealedSecret{}, notFound("channel")
	}
	return sec, nil
}

func (s *pageStore) PageToken(_ context.Context, tenantID, channelID, pageID string) (aicc.SealedSecret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return aicc.SealedSecret{}, s.err
	}
	if ch := s.channels[channelID]; ch == nil || ch.TenantID != tenantID {
		return aicc.SealedSecret{}, notFound("Page")
	}
	tok, ok := s.tokens[pageID]
	if !ok {
		return aicc.SealedSecret{}, notFound("Page")
	}
	return tok, nil
}

func (s *pageStore) SetPageStatus(_ context.Context, tenantID, channelID, pageID string, status aicc.PageStatus, reason string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if err := s.page(tenantID, channelID, pageID); err != nil {
		return err
	}
	st := s.states[pageID]
	st.Status, st.Reason, st.UpdatedAt = status, reason, at
	s.states[pageID] = st
	return nil
}

func (s *pageStore) RemovePage(_ context.Context, tenantID, channelID, pageID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if _, ok := s.states[pageID]; !ok || s.channels[channelID] == nil || s.channels[channelID].TenantID != tenantID {
		return notFound("Page")
	}
	delete(s.states, pageID)
	delete(s.tokens, pageID)
	s.removed = append(s.removed, pageID)
	return nil
}

func (s *pageStore) CountPages(_ context.Context, channelID string, status aicc.PageStatus) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	n := 0
	for _, st := range s.states {
		if st.Status == status && channelID == "ch_1" {
			n++
		}
	}
	return n, nil
}

func (s *pageStore) GetPage(_ context.Context, tenantID, channelID, pageID string) (*aicc.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if err := s.page(tenantID, channelID, pageID); err != nil {
		return nil, err
	}
	p := &aicc.Page{PageID: pageID, ChannelID: channelID, TenantID: tenantID, State: s.states[pageID]}
	if s.claimed[pageID] == channelID {
		p.ClaimedAt = testNow
	}
	return p, nil
}

func (s *pageStore) PageTokenHealth(_ context.Context, tenantID, channelID, pageID string) (aicc.TokenHealth, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.page(tenantID, channelID, pageID); err != nil {
		return "", err
	}
	return s.states[pageID].TokenHealth, nil
}

func (s *pageStore) SetPageTokenHealth(_ context.Context, tenantID, channelID, pageID string, h aicc.TokenHealth, reason string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.page(tenantID, channelID, pageID); err != nil {
		return err
	}
	st := s.states[pageID]
	st.TokenHealth, st.TokenHealthReason, st.UpdatedAt = h, reason, at
	s.states[pageID] = st
	return nil
}

func (s *pageStore) state(pageID string) aicc.PageState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.states[pageID]
}

// graph is a fake aicc.Graph: it records every call and answers with the configured apps and errors.
type graph struct {
	mu       sync.Mutex
	calls    []string
	seen     []aicc.PageCall
	appCalls []aicc.AppCall // the app calls seen
	apps     []aicc.SubscribedApp
	errs     map[string]error  // by method name
	after    map[string]func() // by method name: what happens meanwhile, as Meta answers
}

func (g *graph) called(method string, call aicc.PageCall) error {
	g.mu.Lock()
	g.calls = append(g.calls, method)
	g.seen = append(g.seen, call)
	err, after := g.errs[method], g.after[method]
	g.mu.Unlock()
	if after != nil {
		after()
	}
	return err
}

func (g *graph) CheckApp(_ context.Context, call aicc.AppCall) error {
	g.mu.Lock()
	g.calls = append(g.calls, "CheckApp")
	g.appCalls = append(g.appCalls, call)
	err := g.errs["CheckApp"]
	g.mu.Unlock()
	return err
}

func (g *graph) CheckPageToken(_ context.Context, call aicc.PageCall) (aicc.PageInfo, error) {
	if err := g.called("CheckPageToken", call); err != nil {
		return aicc.PageInfo{}, err
	}
	return aicc.PageInfo{ID: call.PageID, Name: "Acme"}, nil
}

func (g *graph) SubscribeApp(_ context.Context, call aicc.PageCall) error {
	return g.called("SubscribeApp", call)
}

func (g *graph) SubscribedApps(_ context.Context, call aicc.PageCall) ([]aicc.SubscribedApp, error) {
	if err := g.called("SubscribedApps", call); err != nil {
		return nil, err
	}
	return g.apps, nil
}

func (g *graph) UnsubscribeApp(_ context.Context, call aicc.PageCall) error {
	return g.called("UnsubscribeApp", call)
}

func (g *graph) SendMessage(_ context.Context, call aicc.PageCall, _ aicc.OutboundMessage) (aicc.SendResult, error) {
	return aicc.SendResult{}, g.called("SendMessage", call)
}

// provider is a fake aicc.GraphProvider.
type provider struct {
	g   aicc.Graph
	err error
}

func (p provider) Graph(context.Context) (aicc.Graph, error) { return p.g, p.err }

// pageFixture is an activity environment over the fakes, with a real keyring and a captured log.
type pageFixture struct {
	env   *testsuite.TestActivityEnvironment
	acts  *activities.Activities
	store *pageStore
	graph *graph
	logs  *bytes.Buffer
}

func newPageFixture(t *testing.T) *pageFixture {
	t.Helper()
	k, err := aicc.NewKeyring(bytes.Repeat([]byte{7}, aicc.MasterKeySize))
	require.NoError(t, err)
	f := &pageFixture{
		store: newPageStore(t, k),
		graph: &graph{apps: []aicc.SubscribedApp{{ID: appID, Name: "aicc", Fields: aicc.SubscribedFields}}},
		logs:  new(bytes.Buffer),
	}
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	f.env = ts.NewTestActivityEnvironment()
	f.acts = &activities.Activities{
		Channels: f.store,
		Keyring:  k,
		Graph:    provider{g: f.graph},
		Now:      func() time.Time { return testNow },
	}
	f.env.RegisterActivity(f.acts)
	return f
}

var page = activities.PageInput{TenantID: "ten_1", ChannelID: "ch_1", PageID: pageID}

// appError asserts that err is an ApplicationError of type code with the given retryability.
func appError(t *testing.T, err error, code string, nonRetryable bool) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, code, appErr.Type())
	assert.Equal(t, nonRetryable, appErr.NonRetryable(), "non-retryable")
	return appErr
}

func TestGraphActivitiesUnsealSecrets(t *testing.T) {
	f := newPageFixture(t)
	want := aicc.PageCall{PageID: pageID, AccessToken: pageToken, AppSecret: appSecret}

	v, err := f.env.ExecuteActivity(f.acts.CheckPageToken, page)
	require.NoError(t, err)
	var info aicc.PageInfo
	require.NoError(t, v.Get(&info))
	assert.Equal(t, aicc.PageInfo{ID: pageID, Name: "Acme"}, info)

	_, err = f.env.ExecuteActivity(f.acts.SubscribeApp, page)
	require.NoError(t, err)
	_, err = f.env.ExecuteActivity(f.acts.VerifySubscription, page)
	require.NoError(t, err)
	_, err = f.env.ExecuteActivity(f.acts.UnsubscribeApp, page)
	require.NoError(t, err)

	assert.Equal(t, []string{"CheckPageToken", "SubscribeApp", "SubscribedApps", "UnsubscribeApp"}, f.graph.calls)
	for i, got := range f.graph.seen {
		assert.Equal(t, want, got, "call %d", i)
	}
	assert.Equal(t, aicc.TokenHealthy, f.store.state(pageID).TokenHealth, "every call records the token's health")
	assert.NotContains(t, f.logs.String(), pageToken)
	assert.NotContains(t, f.logs.String(), appSecret)
}

func TestVerifySubscription(t *testing.T) {
	all := aicc.SubscribedFields
	for _, tc := range []struct {
		name    string
		apps    []aicc.SubscribedApp
		wantErr string // in the message; "" for success
	}{
		{name: "subscribed", apps: []aicc.SubscribedApp{{ID: "999", Fields: []string{"feed"}}, {ID: appID, Fields: all}}},
		{name: "more fields", apps: []aicc.SubscribedApp{{ID: appID, Fields: append([]string{"feed"}, all...)}}},
		{name: "missing field", apps: []aicc.SubscribedApp{{ID: appID, Fields: []string{"messages", "message_echoes", "message_reads"}}},
			wantErr: "without the webhook fields messaging_postbacks, message_deliveries"},
		{name: "no fields", apps: []aicc.SubscribedApp{{ID: appID}}, wantErr: "without the webhook fields messages,"},
		{name: "another app", apps: []aicc.SubscribedApp{{ID: "999", Fields: all}}, wantErr: "does not list app " + appID},
		{name: "none", wantErr: "does not list app " + appID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPageFixture(t)
			f.graph.apps = tc.apps
			_, err := f.env.ExecuteActivity(f.acts.VerifySubscription, page)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			appErr := appError(t, err, aicc.EMETAERROR, true)
			assert.Contains(t, appErr.Message(), tc.wantErr)
		})
	}

	t.Run("channel gone", func(t *testing.T) {
		f := newPageFixture(t)
		delete(f.store.channels, "ch_1")
		_, err := f.env.ExecuteActivity(f.acts.VerifySubscription, page)
		appError(t, err, aicc.ENOTFOUND, true)
		assert.Empty(t, f.graph.calls)
	})
}

// A 190 from Meta is a non-retryable META_TOKEN_INVALID, and the Page's token is recorded as reauth_required.
func TestGraphErrorsAndTokenHealth(t *testing.T) {
	for _, tc := range []struct {
		name         string
		err          error
		code         string
		nonRetryable bool
		health       aicc.TokenHealth
	}{
		{"expired token", &aicc.GraphError{Code: aicc.EMETATOKENINVALID, Message: "The Page token is invalid or expired.", HTTPStatus: 400, GraphCode: 190, Subcode: 463},
			aicc.EMETATOKENINVALID, true, aicc.TokenReauthRequired},
		{"permission", &aicc.GraphError{Code: aicc.EMETAPERMISSION, Message: "The token lacks pages_manage_metadata.", HTTPStatus: 403, GraphCode: 200},
			aicc.EMETAPERMISSION, true, aicc.TokenReauthRequired},
		{"rate limited", &aicc.GraphError{Code: aicc.EMETARATELIMITED, Message: "Meta rate-limits the Page.", HTTPStatus: 400, GraphCode: 32, Retryable: true},
			aicc.EMETARATELIMITED, false, aicc.TokenDegraded},
		{"unavailable", &aicc.GraphError{Code: aicc.EMETAUNAVAILABLE, Message: "Meta is unavailable.", HTTPStatus: 503, Retryable: true},
			aicc.EMETAUNAVAILABLE, false, aicc.TokenDegraded},
		{"invalid parameter", &aicc.GraphError{Code: aicc.EMETAINVALIDPARAM, Message: "Meta does not accept a parameter.", HTTPStatus: 400, GraphCode: 100},
			aicc.EMETAINVALIDPARAM, true, aicc.TokenHealthy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPageFixture(t)
			f.graph.errs = map[string]error{"SubscribeApp": tc.err}
			_, err := f.env.ExecuteActivity(f.acts.SubscribeApp, page)
			appErr := appError(t, err, tc.code, tc.nonRetryable)
			assert.Equal(t, tc.err.(*aicc.GraphError).Message, appErr.Message())

			st := f.store.state(pageID)
			assert.Equal(t, tc.health, st.TokenHealth)
			if tc.health != aicc.TokenHealthy {
				assert.Equal(t, tc.code, st.TokenHealthReason)
			}
			assert.Equal(t, aicc.PageConnecting, st.Status, "the connection status is the workflow's to record")
		})
	}
}

// Whatever a Graph client, a provider or a store puts in an error, the token and the app secret never come out
// of an activity, in its error or its log.
func TestSecretsNeverLeak(t *testing.T) {
	// The appsecret_proof, which a transport error could quote in a URL.
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(pageToken))
	proof := hex.EncodeToString(m.Sum(nil))
	leaky := fmt.Sprintf("token %s secret %s proof %s", pageToken, appSecret, proof)
	for _, tc := range []struct {
		name  string
		setup func(f *pageFixture)
	}{
		{"graph error", func(f *pageFixture) {
			f.graph.errs = map[string]error{"SubscribeApp": &aicc.GraphError{
				Code: aicc.EMETATOKENINVALID, Message: "bad " + leaky, GraphCode: 190, GraphMessage: leaky,
				Err: errors.New("Get https://graph.example/?access_token=" + pageToken + "&appsecret_proof=" + proof),
			}}
		}},
		{"transport error", func(f *pageFixture) {
			f.graph.errs = map[string]error{"SubscribeApp": &aicc.GraphError{
				Code: aicc.EMETAUNAVAILABLE, Message: "Meta is unavailable.", Retryable: true, Err: errors.New(leaky),
			}}
		}},
		{"plain error", func(f *pageFixture) {
			f.graph.errs = map[string]error{"SubscribeApp": errors.New(leaky)}
		}},
		{"domain error", func(f *pageFixture) {
			f.graph.errs = map[string]error{"SubscribeApp": aicc.Errorf(aicc.EINVALID, "%s", leaky)}
		}},
		{"provider", func(f *pageFixture) {
			f.acts.Graph = provider{err: errors.New("no client for " + leaky)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPageFixture(t)
			tc.setup(f)
			_, err := f.env.ExecuteActivity(f.acts.SubscribeApp, page)
			require.Error(t, err)
			text := fmt.Sprintf("%v | %+v | %#v", err, err, err)
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) {
				text += " | " + appErr.Message()
				var details any
				if appErr.HasDetails() {
					_ = appErr.Details(&details)
					text += fmt.Sprint(details)
				}
			}
			for _, secret := range []string{pageToken, appSecret, proof} {
				assert.NotContains(t, text, secret)
				assert.NotContains(t, f.logs.String(), secret)
			}
		})
	}
}

func TestPageSecretErrors(t *testing.T) {
	t.Run("page gone", func(t *testing.T) {
		f := newPageFixture(t)
		delete(f.store.tokens, pageID)
		_, err := f.env.ExecuteActivity(f.acts.CheckPageToken, page)
		appError(t, err, aicc.ENOTFOUND, true)
		assert.Empty(t, f.graph.calls)
	})
	t.Run("token sealed for another page", func(t *testing.T) {
		f := newPageFixture(t)
		f.store.tokens[pageID] = f.acts.Keyring.Seal(pageToken, aicc.PageTokenOwner("999"), testNow)
		_, err := f.env.ExecuteActivity(f.acts.CheckPageToken, page)
		appError(t, err, aicc.EINTERNAL, true)
		assert.Empty(t, f.graph.calls)
	})
	t.Run("database down", func(t *testing.T) {
		f := newPageFixture(t)
		f.store.err = errors.New("database is down")
		_, err := f.env.ExecuteActivity(f.acts.CheckPageToken, page)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "database is down")
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			assert.False(t, appErr.NonRetryable(), "a database outage is retried")
		}
	})
	t.Run("no certificate", func(t *testing.T) {
		f := newPageFixture(t)
		f.acts.Graph = provider{err: aicc.Errorf(aicc.ECERTMISSING, "No certificate.")}
		_, err := f.env.ExecuteActivity(f.acts.CheckPageToken, page)
		appError(t, err, aicc.ECERTMISSING, true)
	})
}

func TestSetPageStatus(t *testing.T) {
	f := newPageFixture(t)
	in := activities.SetPageStatusInput{
		TenantID: "ten_1", ChannelID: "ch_1", PageID: pageID, Status: aicc.PageSubscriptionFailed, Reason: aicc.EMETAERROR,
	}
	for range 2 { // idempotent
		_, err := f.env.ExecuteActivity(f.acts.SetPageStatus, in)
		require.NoError(t, err)
	}
	st := f.store.state(pageID)
	assert.Equal(t, aicc.PageSubscriptionFailed, st.Status)
	assert.Equal(t, aicc.EMETAERROR, st.Reason)
	assert.True(t, testNow.Equal(st.UpdatedAt))

	for _, in := range []activities.SetPageStatusInput{
		{TenantID: "ten_1", ChannelID: "ch_1", PageID: "999"},
		{TenantID: "ten_2", ChannelID: "ch_1", PageID: pageID}, // the Page named with another tenant
		{PageID: pageID}, // an input from before Pages were named by tenant and channel
	} {
		in.Status = aicc.PageSubscribed
		_, err := f.env.ExecuteActivity(f.acts.SetPageStatus, in)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, aicc.ENOTFOUND, appErr.Type(), "typed with the code, so the call site can stop retrying")
	}
	assert.Equal(t, aicc.PageSubscriptionFailed, f.store.state(pageID).Status)
}

func TestRemovePage(t *testing.T) {
	f := newPageFixture(t)
	for range 2 { // a Page that is gone already is removed
		_, err := f.env.ExecuteActivity(f.acts.RemovePage, page)
		require.NoError(t, err)
	}
	assert.Equal(t, []string{pageID}, f.store.removed)

	f.store.err = errors.New("database is down")
	_, err := f.env.ExecuteActivity(f.acts.RemovePage, page)
	require.Error(t, err)
}

func TestCountSubscribedPages(t *testing.T) {
	f := newPageFixture(t)
	count := func() int {
		t.Helper()
		v, err := f.env.ExecuteActivity(f.acts.CountSubscribedPages, activities.CountSubscribedPagesInput{ChannelID: "ch_1"})
		require.NoError(t, err)
		var n int
		require.NoError(t, v.Get(&n))
		return n
	}
	assert.Equal(t, 0, count(), "connecting does not count")
	f.store.states[pageID] = aicc.PageState{Status: aicc.PageSubscribed}
	assert.Equal(t, 1, count())
}

func TestCheckCertificate(t *testing.T) {
	valid := &aicc.Certificate{NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(90 * 24 * time.Hour)}
	expired := &aicc.Certificate{NotBefore: testNow.Add(-48 * time.Hour), NotAfter: testNow.Add(-time.Hour)}
	for _, tc := range []struct {
		name  string
		certs []*aicc.Certificate
		want  string
	}{
		{"valid", []*aicc.Certificate{valid, expired}, ""},
		{"missing", nil, aicc.ECERTMISSING},
		{"expired", []*aicc.Certificate{expired}, aicc.ECERTEXPIRED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, acts := certEnv(t, &certStore{certs: tc.certs})
			_, err := env.ExecuteActivity(acts.CheckCertificate)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			appErr := appError(t, err, tc.want, true)
			assert.True(t, strings.Contains(appErr.Message(), "sysadmin"), appErr.Message())
		})
	}

	t.Run("database down", func(t *testing.T) {
		env, acts := certEnv(t, &certStore{err: errors.New("database is down")})
		_, err := env.ExecuteActivity(acts.CheckCertificate)
		require.Error(t, err)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			assert.False(t, appErr.NonRetryable())
		}
	})
}

// certStore is a fake aicc.CertificateStore.
type certStore struct {
	aicc.CertificateStore
	certs []*aicc.Certificate
	err   error
}

func (s *certStore) ListCertificates(context.Context) ([]*aicc.Certificate, error) {
	return s.certs, s.err
}

func certEnv(t *testing.T, s *certStore) (*testsuite.TestActivityEnvironment, *activities.Activities) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	acts := &activities.Activities{Certificates: s, Now: func() time.Time { return testNow }}
	env.RegisterActivity(acts)
	return env, acts
}

// A Page the channel never claimed was never subscribed by it: removing it leaves the app's subscription,
// which is the claiming channel's, alone.
func TestUnsubscribeAppLeavesAPageClaimedElsewhere(t *testing.T) {
	f := newPageFixture(t)
	f.store.claimed[pageID] = "ch_other"

	_, err := f.env.ExecuteActivity(f.acts.UnsubscribeApp, page)

	require.NoError(t, err)
	assert.Empty(t, f.graph.calls, "Meta is not called")
}

// A channel being deleted gets no new subscription: its deletion unsubscribes the Pages, and a subscription
// made behind it would outlive the channel.
func TestSubscribeAppRefusesADeletingChannel(t *testing.T) {
	f := newPageFixture(t)
	f.store.channels["ch_1"].Onboarding.Status = aicc.StatusDeleting

	_, err := f.env.ExecuteActivity(f.acts.SubscribeApp, page)

	appError(t, err, aicc.ECHANNELDELETING, true)
	assert.Empty(t, f.graph.calls, "Meta is not called")
}

// A deletion that begins while Meta subscribes the Page finds it subscribed after it unsubscribed the others:
// the subscription just made is taken back.
func TestSubscribeAppTakesBackASubscriptionMadeDuringADeletion(t *testing.T) {
	f := newPageFixture(t)
	f.graph.after = map[string]func(){"SubscribeApp": func() {
		f.store.mu.Lock()
		f.store.channels["ch_1"].Onboarding.Status = aicc.StatusDeleting
		f.store.mu.Unlock()
	}}

	_, err := f.env.ExecuteActivity(f.acts.SubscribeApp, page)

	appError(t, err, aicc.ECHANNELDELETING, true)
	assert.Equal(t, []string{"SubscribeApp", "UnsubscribeApp"}, f.graph.calls)
}
