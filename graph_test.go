package aicc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

// fakeGraph answers every call with err.
type fakeGraph struct{ err error }

func (g fakeGraph) CheckApp(context.Context, aicc.AppCall) error { return g.err }
func (g fakeGraph) CheckPageToken(context.Context, aicc.PageCall) (aicc.PageInfo, error) {
	return aicc.PageInfo{}, g.err
}
func (g fakeGraph) SubscribeApp(context.Context, aicc.PageCall) error { return g.err }
func (g fakeGraph) SubscribedApps(context.Context, aicc.PageCall) ([]aicc.SubscribedApp, error) {
	return nil, g.err
}
func (g fakeGraph) UnsubscribeApp(context.Context, aicc.PageCall) error { return g.err }
func (g fakeGraph) SendMessage(context.Context, aicc.PageCall, aicc.OutboundMessage) (aicc.SendResult, error) {
	return aicc.SendResult{}, g.err
}

type healthRecord struct {
	health aicc.TokenHealth
	reason string
}

// fakeHealthStore keeps healths by tenant/channel/page.
type fakeHealthStore map[string]healthRecord

func (s fakeHealthStore) PageTokenHealth(_ context.Context, tenantID, channelID, pageID string) (aicc.TokenHealth, error) {
	return s[tenantID+"/"+channelID+"/"+pageID].health, nil
}

func (s fakeHealthStore) SetPageTokenHealth(_ context.Context, tenantID, channelID, pageID string, h aicc.TokenHealth, reason string, _ time.Time) error {
	s[tenantID+"/"+channelID+"/"+pageID] = healthRecord{h, reason}
	return nil
}

func TestTrackTokenHealth(t *testing.T) {
	const key = "ten_1/ch_1/1"
	store := fakeHealthStore{key: {health: aicc.TokenHealthy}, "ten_2/ch_2/1": {health: aicc.TokenHealthy}}
	call := aicc.PageCall{PageID: "1"}
	ctx := context.Background()
	track := func(err error) aicc.Graph {
		return aicc.TrackTokenHealth(fakeGraph{err}, store, "ten_1", "ch_1", time.Now)
	}

	_, _ = track(&aicc.Error{Code: aicc.EMETARATELIMITED}).SendMessage(ctx, call, aicc.OutboundMessage{})
	require.Equal(t, healthRecord{aicc.TokenDegraded, aicc.EMETARATELIMITED}, store[key])

	_ = track(&aicc.Error{Code: aicc.EMETATOKENINVALID}).SubscribeApp(ctx, call)
	require.Equal(t, healthRecord{aicc.TokenReauthRequired, aicc.EMETATOKENINVALID}, store[key])

	_ = track(&aicc.Error{Code: aicc.EMETAUNAVAILABLE}).UnsubscribeApp(ctx, call)
	require.Equal(t, aicc.TokenReauthRequired, store[key].health, "a transient error says nothing about the token")

	_, _ = track(&aicc.Error{Code: aicc.EINVALID}).CheckPageToken(ctx, call)
	require.Equal(t, aicc.TokenReauthRequired, store[key].health, "refused before any call")

	_, _ = track(nil).SubscribedApps(ctx, call)
	require.Equal(t, healthRecord{aicc.TokenHealthy, ""}, store[key])

	_ = track(&aicc.Error{Code: aicc.EMETAAPPINVALID}).CheckApp(ctx, aicc.AppCall{AppID: "1"})
	require.Equal(t, healthRecord{aicc.TokenHealthy, ""}, store[key], "an app call uses no Page token")

	// The same Page ID on another tenant's channel is another Page: its health is its own.
	_ = track(&aicc.Error{Code: aicc.EMETATOKENINVALID}).SubscribeApp(ctx, call)
	require.Equal(t, healthRecord{aicc.TokenHealthy, ""}, store["ten_2/ch_2/1"])
}
