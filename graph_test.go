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

type fakeHealthStore map[string]healthRecord

func (s fakeHealthStore) PageTokenHealth(_ context.Context, pageID string) (aicc.TokenHealth, error) {
	return s[pageID].health, nil
}

func (s fakeHealthStore) SetPageTokenHealth(_ context.Context, pageID string, h aicc.TokenHealth, reason string, _ time.Time) error {
	s[pageID] = healthRecord{h, reason}
	return nil
}

func TestTrackTokenHealth(t *testing.T) {
	store := fakeHealthStore{"1": {health: aicc.TokenHealthy}}
	call := aicc.PageCall{PageID: "1"}
	ctx := context.Background()
	track := func(err error) aicc.Graph { return aicc.TrackTokenHealth(fakeGraph{err}, store, time.Now) }

	_, _ = track(&aicc.Error{Code: aicc.EMETARATELIMITED}).SendMessage(ctx, call, aicc.OutboundMessage{})
	require.Equal(t, healthRecord{aicc.TokenDegraded, aicc.EMETARATELIMITED}, store["1"])

	_ = track(&aicc.Error{Code: aicc.EMETATOKENINVALID}).SubscribeApp(ctx, call)
	require.Equal(t, healthRecord{aicc.TokenReauthRequired, aicc.EMETATOKENINVALID}, store["1"])

	_ = track(&aicc.Error{Code: aicc.EMETAUNAVAILABLE}).UnsubscribeApp(ctx, call)
	require.Equal(t, aicc.TokenReauthRequired, store["1"].health, "a transient error says nothing about the token")

	_, _ = track(&aicc.Error{Code: aicc.EINVALID}).CheckPageToken(ctx, call)
	require.Equal(t, aicc.TokenReauthRequired, store["1"].health, "refused before any call")

	_, _ = track(nil).SubscribedApps(ctx, call)
	require.Equal(t, healthRecord{aicc.TokenHealthy, ""}, store["1"])
}
