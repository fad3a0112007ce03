package activities_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

// The Graph activities against the fake Meta over real HTTPS: a real keyring and store fake (page_test.go), and
// a meta.Provider that trusts the fake's self-signed certificate only once it is "uploaded".

const (
	httpTimeout = time.Second // the client's per-attempt timeout, short so that the slow case is quick
	httpRetries = 2           // the client's own retries after a 5xx or a rate limit
)

type httpFixture struct {
	*pageFixture
	srv *metatest.GraphServer
}

// newHTTPFixture starts a TLS fake Meta that knows the Page and its token, and points the activities at it
// through a meta.Provider; upload puts the fake's certificate in the certificate store.
func newHTTPFixture(t *testing.T, upload, uploadedOnly bool) *httpFixture {
	t.Helper()
	f := &httpFixture{pageFixture: newPageFixture(t), srv: metatest.NewTLSGraphServer(t, appSecret)}
	f.srv.AddPage(pageID, "Acme", pageToken)
	f.store.channels["ch_1"].AppID = metatest.DefaultAppID
	certs := &certStore{}
	if upload {
		c, err := aicc.ParseCertificatePEM(f.srv.CertPEM, time.Now())
		require.NoError(t, err)
		certs.certs = []*aicc.Certificate{c}
	}
	f.acts.Certificates = certs
	f.acts.Graph = &meta.Provider{Certificates: certs, BaseURL: f.srv.URL, UploadedOnly: uploadedOnly,
		Timeout: httpTimeout, MaxRetries: httpRetries}
	return f
}

// run executes the named activity on the Page and checks that no secret came out in its error or the log.
func (f *httpFixture) run(t *testing.T, activity string) error {
	t.Helper()
	v, err := f.env.ExecuteActivity(activity, page)
	if err == nil && activity == "CheckPageToken" {
		var info aicc.PageInfo
		require.NoError(t, v.Get(&info))
		assert.Equal(t, aicc.PageInfo{ID: pageID, Name: "Acme"}, info)
	}
	text := f.logs.String()
	if err != nil {
		text += fmt.Sprintf(" | %v | %+v | %#v", err, err, err)
		var appErr *temporal.ApplicationError
		if assert.ErrorAs(t, err, &appErr) {
			text += " | " + appErr.Message()
		}
	}
	for _, secret := range []string{pageToken, appSecret, meta.AppSecretProof(appSecret, pageToken)} {
		assert.NotContains(t, text, secret)
	}
	return err
}

// A token that works but belongs to another Page is refused: the Page ID in the request is not proof of
// ownership.
func TestCheckPageTokenOfAnotherPage(t *testing.T) {
	f := newHTTPFixture(t, true, true)
	f.srv.AddPage(pageID, "Acme", "another-token")
	f.srv.AddPage("998877665544", "Someone else's", pageToken)

	appErr := appError(t, f.run(t, "CheckPageToken"), aicc.EMETATOKENINVALID, true)
	assert.Contains(t, appErr.Message(), "of Page 998877665544, not of Page "+pageID)
}

func TestGraphActivitiesHTTP(t *testing.T) {
	f := newHTTPFixture(t, true, true)

	require.NoError(t, f.run(t, "CheckPageToken"))
	appErr := appError(t, f.run(t, "VerifySubscription"), aicc.EMETAERROR, true)
	assert.Contains(t, appErr.Message(), "does not list app "+metatest.DefaultAppID)
	assert.Nil(t, f.srv.Subscription(pageID))

	require.NoError(t, f.run(t, "SubscribeApp"))
	assert.ElementsMatch(t, aicc.SubscribedFields, f.srv.Subscription(pageID))
	require.NoError(t, f.run(t, "SubscribeApp"), "idempotent")
	require.NoError(t, f.run(t, "VerifySubscription"), "our app with every field")

	require.NoError(t, f.run(t, "UnsubscribeApp"))
	assert.Nil(t, f.srv.Subscription(pageID))
	require.NoError(t, f.run(t, "UnsubscribeApp"), "idempotent")
	appError(t, f.run(t, "VerifySubscription"), aicc.EMETAERROR, true)

	const path = "/" + meta.DefaultVersion + "/" + pageID
	var got []string
	for _, r := range f.srv.Requests() {
		got = append(got, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	assert.Equal(t, []string{
		"GET /" + meta.DefaultVersion + "/me 200",
		"GET " + path + "/subscribed_apps 200",
		"POST " + path + "/subscribed_apps 200",
		"POST " + path + "/subscribed_apps 200",
		"GET " + path + "/subscribed_apps 200",
		"DELETE " + path + "/subscribed_apps 200",
		"DELETE " + path + "/subscribed_apps 200",
		"GET " + path + "/subscribed_apps 200",
	}, got)
	assert.Equal(t, aicc.TokenHealthy, f.store.state(pageID).TokenHealth)
}

// Each error class of Meta, as the workflow sees it: the ApplicationError's type and retryability, how many
// requests the fake saw (the client retries rate limits and 5xx itself, nothing else), and the token health.
func TestGraphErrorClassesHTTP(t *testing.T) {
	fail := func(n int, kind metatest.Failure) func(*httpFixture) {
		return func(f *httpFixture) { f.srv.FailNext(n, kind) }
	}
	expire := func(f *httpFixture) { f.srv.ExpireToken(pageID) }
	const all = 1 + httpRetries
	for _, tc := range []struct {
		name         string
		activity     string
		upload       bool // the fake's certificate is uploaded
		uploadedOnly bool
		setup        func(*httpFixture)
		code         string
		nonRetryable bool
		requests     int
		health       aicc.TokenHealth
	}{
		{"expired token", "CheckPageToken", true, false, expire, aicc.EMETATOKENINVALID, true, 1, aicc.TokenReauthRequired},
		{"permission", "CheckPageToken", true, false, fail(1, metatest.FailPermission), aicc.EMETAPERMISSION, true, 1, aicc.TokenReauthRequired},
		{"invalid parameter", "CheckPageToken", true, false, fail(1, metatest.FailInvalidParam), aicc.EMETAINVALIDPARAM, true, 1, aicc.TokenHealthy},
		{"user unavailable", "CheckPageToken", true, false, fail(1, metatest.FailUserUnavailable), aicc.EMETAUSERUNAVAILABLE, true, 1, aicc.TokenHealthy},
		{"rate limit", "CheckPageToken", true, false, fail(all, metatest.FailRateLimit), aicc.EMETARATELIMITED, false, all, aicc.TokenDegraded},
		{"app rate limit 429", "CheckPageToken", true, false, fail(all, metatest.FailAppRateLimit), aicc.EMETARATELIMITED, false, all, aicc.TokenDegraded},
		{"server error", "CheckPageToken", true, false, fail(all, metatest.FailServerError), aicc.EMETAUNAVAILABLE, false, all, aicc.TokenDegraded},
		{"server error once", "CheckPageToken", true, false, fail(1, metatest.FailServerError), "", false, 2, aicc.TokenHealthy},
		{"slow", "CheckPageToken", true, false, fail(1, metatest.FailSlow), aicc.EMETAUNAVAILABLE, false, 1, aicc.TokenDegraded},
		{"TLS not trusted", "CheckPageToken", false, false, nil, aicc.EMETAUNAVAILABLE, false, 0, aicc.TokenDegraded},
		{"no certificate, uploaded only", "CheckPageToken", false, true, nil, aicc.ECERTMISSING, true, 0, ""},

		{"subscribe: expired token", "SubscribeApp", true, false, expire, aicc.EMETATOKENINVALID, true, 1, aicc.TokenReauthRequired},
		{"subscribe: permission", "SubscribeApp", true, false, fail(1, metatest.FailPermission), aicc.EMETAPERMISSION, true, 1, aicc.TokenReauthRequired},
		{"subscribe: rate limit", "SubscribeApp", true, false, fail(all, metatest.FailRateLimit), aicc.EMETARATELIMITED, false, all, aicc.TokenDegraded},
		{"verify: server error", "VerifySubscription", true, false, fail(all, metatest.FailServerError), aicc.EMETAUNAVAILABLE, false, all, aicc.TokenDegraded},
		{"verify: expired token", "VerifySubscription", true, false, expire, aicc.EMETATOKENINVALID, true, 1, aicc.TokenReauthRequired},
		{"unsubscribe: invalid parameter", "UnsubscribeApp", true, false, fail(1, metatest.FailInvalidParam), aicc.EMETAINVALIDPARAM, true, 1, aicc.TokenHealthy},
		{"unsubscribe: TLS not trusted", "UnsubscribeApp", false, false, nil, aicc.EMETAUNAVAILABLE, false, 0, aicc.TokenDegraded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHTTPFixture(t, tc.upload, tc.uploadedOnly)
			if tc.setup != nil {
				tc.setup(f)
			}
			start := time.Now()
			err := f.run(t, tc.activity)
			if tc.code == "" {
				require.NoError(t, err)
			} else {
				appErr := appError(t, err, tc.code, tc.nonRetryable)
				switch tc.name {
				case "slow":
					assert.Contains(t, appErr.Message(), "in time")
					assert.Less(t, time.Since(start), metatest.DefaultSlowDelay, "the client gave up first")
				case "TLS not trusted", "unsubscribe: TLS not trusted":
					assert.Contains(t, appErr.Message(), "not trusted")
				}
			}
			// A slow request is recorded once the fake notices that the client gave up.
			assert.Eventually(t, func() bool { return len(f.srv.Requests()) == tc.requests }, 2*time.Second, 10*time.Millisecond,
				"requests: %v", f.srv.Requests())
			if tc.requests > 0 && tc.code != "" && tc.name != "slow" {
				last := f.srv.Requests()[tc.requests-1]
				assert.NotEqual(t, http.StatusOK, last.Status)
			}
			st := f.store.state(pageID)
			assert.Equal(t, tc.health, st.TokenHealth, "token health")
			if tc.health == aicc.TokenDegraded || tc.health == aicc.TokenReauthRequired {
				assert.Equal(t, tc.code, st.TokenHealthReason)
			}
			assert.Nil(t, f.srv.Subscription(pageID), "no subscription")
		})
	}
}
