package activities_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
)

var channelOne = activities.ChannelInput{TenantID: "ten_1", ChannelID: "ch_1"}

func TestProveApp(t *testing.T) {
	t.Run("proven", func(t *testing.T) {
		f := newPageFixture(t)
		_, err := f.env.ExecuteActivity(f.acts.ProveApp, channelOne)
		require.NoError(t, err)
		assert.Equal(t, []aicc.AppCall{{AppID: appID, AppSecret: appSecret}}, f.graph.appCalls, "the app ID and its unsealed secret")
		assert.Empty(t, f.store.apps, "proving claims nothing")
	})
	for _, tc := range []struct {
		name         string
		err          error
		code         string
		nonRetryable bool
	}{
		{"secret refused", &aicc.GraphError{Code: aicc.EMETAAPPINVALID, Message: "Meta refused the app ID and App Secret.", HTTPStatus: 400, GraphCode: 1},
			aicc.EMETAAPPINVALID, true},
		{"meta unavailable", &aicc.GraphError{Code: aicc.EMETAUNAVAILABLE, Message: "Meta is unavailable.", HTTPStatus: 500, Retryable: true},
			aicc.EMETAUNAVAILABLE, false},
		{"rate limited", &aicc.GraphError{Code: aicc.EMETARATELIMITED, Message: "Meta rate-limits the app.", HTTPStatus: 429, Retryable: true},
			aicc.EMETARATELIMITED, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPageFixture(t)
			f.graph.errs = map[string]error{"CheckApp": tc.err}
			_, err := f.env.ExecuteActivity(f.acts.ProveApp, channelOne)
			appError(t, err, tc.code, tc.nonRetryable)
		})
	}
	t.Run("another tenant's channel", func(t *testing.T) {
		f := newPageFixture(t)
		_, err := f.env.ExecuteActivity(f.acts.ProveApp, activities.ChannelInput{TenantID: "ten_2", ChannelID: "ch_1"})
		appError(t, err, aicc.ENOTFOUND, true)
		assert.Empty(t, f.graph.calls)
	})
	t.Run("the secret never leaks", func(t *testing.T) {
		f := newPageFixture(t)
		leaky := fmt.Sprintf("client_secret=%s", appSecret)
		f.graph.errs = map[string]error{"CheckApp": &aicc.GraphError{
			Code: aicc.EMETAAPPINVALID, Message: "bad " + leaky, GraphMessage: leaky, Err: errors.New(leaky),
		}}
		_, err := f.env.ExecuteActivity(f.acts.ProveApp, channelOne)
		require.Error(t, err)
		assert.NotContains(t, fmt.Sprintf("%v %+v", err, err), appSecret)
		assert.NotContains(t, f.logs.String(), appSecret)
	})
}

func TestClaimApp(t *testing.T) {
	f := newPageFixture(t)
	for range 2 { // idempotent
		_, err := f.env.ExecuteActivity(f.acts.ClaimApp, channelOne)
		require.NoError(t, err)
	}
	assert.Equal(t, map[string]string{appID: "ch_1"}, f.store.apps)

	f.store.channels["ch_2"] = &aicc.Channel{ID: "ch_2", TenantID: "ten_2", AppID: appID}
	_, err := f.env.ExecuteActivity(f.acts.ClaimApp, activities.ChannelInput{TenantID: "ten_2", ChannelID: "ch_2"})
	appErr := appError(t, err, aicc.EAPPCONNECTED, false) // the call site lists it as non-retryable (withClaim)
	assert.Equal(t, aicc.MsgAppConnected, appErr.Message())
}

func TestClaimPage(t *testing.T) {
	f := newPageFixture(t)
	for range 2 { // idempotent
		_, err := f.env.ExecuteActivity(f.acts.ClaimPage, page)
		require.NoError(t, err)
	}
	assert.Equal(t, map[string]string{pageID: "ch_1"}, f.store.claimed)

	f.store.claimed[pageID] = "ch_other"
	_, err := f.env.ExecuteActivity(f.acts.ClaimPage, page)
	appErr := appError(t, err, aicc.EPAGECONNECTED, false)
	assert.Equal(t, aicc.MsgPageConnected, appErr.Message())

	_, err = f.env.ExecuteActivity(f.acts.ClaimPage, activities.PageInput{TenantID: "ten_2", ChannelID: "ch_1", PageID: pageID})
	appError(t, err, aicc.ENOTFOUND, false)

	// A channel that has not claimed its app: an answer, final whatever retry policy the attempt was scheduled
	// with (one scheduled before the refusal existed retries every type but its own).
	f.store.err = aicc.Errorf(aicc.ECONFLICT, aicc.MsgAppNotClaimed)
	_, err = f.env.ExecuteActivity(f.acts.ClaimPage, page)
	appError(t, err, aicc.ECONFLICT, true)
}

// A Page is named by tenant, channel and Page ID: the same Page ID named with another tenant is no Page of
// this channel, and its token is never opened.
func TestPageActivitiesAreScoped(t *testing.T) {
	f := newPageFixture(t)
	_, err := f.env.ExecuteActivity(f.acts.CheckPageToken, activities.PageInput{TenantID: "ten_2", ChannelID: "ch_1", PageID: pageID})
	appError(t, err, aicc.ENOTFOUND, true)
	assert.Empty(t, f.graph.calls)
}
