package api

import (
	"context"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"

	"github.com/aiccfb/aicc"
)

// The webhook POST is the hot path: Meta waits for its 200, and under load every database read before the
// INSERT counts. What it needs of a channel is cached in process, briefly, so that a hit costs no query.
const (
	// webhookCacheTTL is how long a looked-up channel is used without asking the database again: a disabled
	// channel or a removed Page goes on being accepted for at most this long.
	webhookCacheTTL = 5 * time.Second
	// webhookCacheSize bounds the cached channels that take events; beyond it the least recently used goes.
	webhookCacheSize = 10_000
	// webhookUnknownCacheSize bounds, apart, the cached IDs of no channel that takes events (unknown or
	// disabled): a flood of random IDs churns these, never the real channels. Smaller, as a decoy is looked up
	// again cheaply and only Meta's retries for a deleted channel come back to the same one.
	webhookUnknownCacheSize = 4_096
	// webhookRefreshAfter is how old a cached channel must be before a signature mismatch or an event for an
	// unknown Page makes the handler look it up again: a secret edited a moment ago or a Page just added
	// takes effect at once, and a stream of forged POSTs costs at most one lookup per channel per interval.
	webhookRefreshAfter = time.Second
	// webhookLoadTimeout bounds one lookup. Requests waiting for it share its outcome, so it does not end
	// with the request that started it.
	webhookLoadTimeout = 5 * time.Second
)

// webhookChannel is what the webhook POST needs of a channel. It holds the unsealed app secret: it lives in
// memory only, and is never logged or answered.
type webhookChannel struct {
	id        string
	tenantID  string
	found     bool // false: no channel has this ID (cached too, so a deleted channel's retries stay cheap)
	disabled  bool // a channel not found or disabled is a decoyChannel
	algorithm aicc.SignatureAlgorithm
	secrets   []string // the current app secret, which signatures should match; none when unset
	// previous is the app secret a rotation replaced, which a signature may match until previousUntil.
	previous      string
	previousUntil time.Time
	pages         map[string]struct{} // the IDs of the channel's Pages, whatever their status
	loadedAt      time.Time
}

// decoySecret is the app secret a POST for a channel that does not exist, or is disabled, is checked against:
// random for each process, so no signature matches it. Such a POST is then refused, and counted in the
// metrics, exactly as a POST with a wrong signature for an existing SHA-256 channel: a prober learns nothing
// from /metrics about which channel IDs exist. The log says it, at debug level.
var decoySecret = hex.EncodeToString(aicc.RandomBytes(32))

// decoyChannel is what the webhook POST knows of a channel ID that no channel it may take events for has: a
// SHA-256 channel with decoySecret and no Page.
func decoyChannel(id string) *webhookChannel {
	return &webhookChannel{id: id, algorithm: aicc.AlgorithmSHA256, secrets: []string{decoySecret}}
}

// previousSecret returns the previous app secret while it is accepted at now, nil when none is.
func (w *webhookChannel) previousSecret(now time.Time) []string {
	if w.previous == "" || !now.Before(w.previousUntil) {
		return nil
	}
	return []string{w.previous}
}

// takesEvents tells a channel whose POSTs are checked from a decoy: an ID that no channel has, or a disabled
// channel's.
func (w *webhookChannel) takesEvents() bool { return w.found && !w.disabled }

func (w *webhookChannel) hasPage(id string) bool {
	_, ok := w.pages[id]
	return ok
}

// channelCache caches webhookChannels by channel ID for webhookCacheTTL, in two bounded LRUs: channels that
// take events, and the decoys of IDs that are unknown or disabled, apart, so that a flood of random channel IDs
// evicts other random IDs, never a real channel. An entry is used until webhookCacheTTL after its lookup, by
// now; after that it is dropped, on its next get or by the sweep that runs while the cache holds entries, so
// that an unsealed app secret stays in memory no longer than it is used. Concurrent misses for one channel
// share a single lookup; a failed lookup is not cached, so the next request tries again.
type channelCache struct {
	load func(ctx context.Context, id string) (*webhookChannel, error)
	now  func() time.Time

	lookups singleflight.Group

	mu      sync.Mutex
	known   *simplelru.LRU[string, *webhookChannel]
	unknown *simplelru.LRU[string, *webhookChannel]
	// forgets counts forget calls: a lookup that began before one is not cached, as it may hold what was
	// forgotten.
	forgets uint64
	sweep   *time.Timer // armed while an entry is cached
}

func newChannelCache(load func(ctx context.Context, id string) (*webhookChannel, error), now func() time.Time) *channelCache {
	return &channelCache{
		load: load, now: now,
		known: newLRU[string, *webhookChannel](webhookCacheSize), unknown: newLRU[string, *webhookChannel](webhookUnknownCacheSize),
	}
}

// newLRU is an LRU of size entries, which must be at least 1.
func newLRU[K comparable, V any](size int) *simplelru.LRU[K, V] {
	l, err := simplelru.NewLRU[K, V](size, nil)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return l
}

// get returns the channel with the given ID, from the cache when it holds a fresh entry loaded at or after
// notBefore (zero accepts any), else from load.
func (c *channelCache) get(ctx context.Context, id string, notBefore time.Time) (*webhookChannel, error) {
	if ch := c.cached(id, notBefore); ch != nil {
		return ch, nil
	}
	done := c.lookups.DoChan(id, func() (any, error) {
		// A lookup that ended between the miss above and this one left its entry: no second lookup.
		if ch := c.cached(id, notBefore); ch != nil {
			return ch, nil
		}
		now := c.now()
		c.mu.Lock()
		forgets := c.forgets
		c.mu.Unlock()
		// The lookup is shared: it does not end with the request that started it.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webhookLoadTimeout)
		defer cancel()
		ch, err := c.load(lctx, id)
		if err != nil {
			return nil, err
		}
		ch.loadedAt = now
		c.add(id, ch, forgets)
		return ch, nil
	})
	select {
	case r := <-done:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*webhookChannel), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// cached returns the fresh entry for id loaded at or after notBefore, nil when there is none. An expired entry
// is dropped.
func (c *channelCache) cached(id string, notBefore time.Time) *webhookChannel {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range [...]*simplelru.LRU[string, *webhookChannel]{c.known, c.unknown} {
		ch, ok := l.Get(id)
		switch {
		case !ok:
			continue
		case !now.Before(ch.loadedAt.Add(webhookCacheTTL)):
			l.Remove(id)
			return nil
		case ch.loadedAt.Before(notBefore):
			return nil
		}
		return ch
	}
	return nil
}

// add caches ch under id, in the LRU of its kind, unless forget was called since the lookup began (forgets is
// the count then).
func (c *channelCache) add(id string, ch *webhookChannel, forgets uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgets != forgets {
		return
	}
	to, other := c.known, c.unknown
	if !ch.takesEvents() {
		to, other = c.unknown, c.known
	}
	other.Remove(id)
	to.Add(id, ch)
	if c.sweep == nil {
		c.sweep = time.AfterFunc(webhookCacheTTL, c.dropExpired)
	}
}

// dropExpired drops the expired entries, and runs again after webhookCacheTTL while any entry is left.
func (c *channelCache) dropExpired() {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range [...]*simplelru.LRU[string, *webhookChannel]{c.known, c.unknown} {
		for _, id := range l.Keys() {
			if ch, _ := l.Peek(id); !now.Before(ch.loadedAt.Add(webhookCacheTTL)) {
				l.Remove(id)
			}
		}
	}
	switch {
	case c.known.Len()+c.unknown.Len() == 0:
		c.sweep = nil
	case c.sweep == nil:
		c.sweep = time.AfterFunc(webhookCacheTTL, c.dropExpired)
	default:
		c.sweep.Reset(webhookCacheTTL)
	}
}

// forget drops the cached channel with the given ID, so that its next request looks it up: this process's own
// change to a channel's secrets takes effect at once, other processes' within webhookCacheTTL. A lookup under
// way is left to its waiters, but neither cached nor shared with later requests.
func (c *channelCache) forget(id string) {
	c.mu.Lock()
	c.forgets++
	c.known.Remove(id)
	c.unknown.Remove(id)
	c.mu.Unlock()
	c.lookups.Forget(id)
}

// len is how many channels and decoys are cached.
func (c *channelCache) len() (known, unknown int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.known.Len(), c.unknown.Len()
}

// loadWebhookChannel reads what the webhook POST needs of a channel: the channel, its unsealed app secrets
// (the current one, and the previous one during a rotation's overlap window) and its Pages. A channel that does
// not exist, or is disabled, is a decoyChannel, not an error; any other failure is an error, which the handler
// answers 503 so that Meta retries.
func (s *Server) loadWebhookChannel(ctx context.Context, id string) (*webhookChannel, error) {
	ch, err := s.Store.FindChannel(ctx, id)
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND:
		return s.decoy(id, "webhook for a channel that does not exist"), nil
	case err != nil:
		return nil, err
	case ch.Onboarding.Status == aicc.StatusDisabled:
		w := s.decoy(id, "webhook for a disabled channel")
		w.found, w.disabled = true, true
		return w, nil
	}
	w := &webhookChannel{
		id: ch.ID, tenantID: ch.TenantID, found: true, algorithm: ch.Algorithm, pages: map[string]struct{}{},
	}
	owner := aicc.ChannelSecretOwner(ch.ID, aicc.SecretAppSecret)
	sealed, err := s.Store.ChannelSecret(ctx, ch.ID, aicc.SecretAppSecret)
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND: // no secret: every signature is refused, as a mismatch
	case err != nil:
		return nil, err
	default:
		secret, err := s.Keyring.Open(sealed, owner)
		if err != nil {
			return nil, err
		}
		w.secrets = []string{secret}
	}
	sealed, until, err := s.Store.PreviousAppSecret(ctx, ch.ID)
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND: // no rotation window is open
	case err != nil:
		return nil, err
	default:
		if w.previous, err = s.Keyring.Open(sealed, aicc.ChannelSecretOwner(ch.ID, aicc.SecretPreviousAppSecret)); err != nil {
			return nil, err
		}
		w.previousUntil = until
	}
	err = s.eachPage(ctx, ch, func(p *aicc.Page) error {
		w.pages[p.PageID] = struct{}{}
		return nil
	})
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND: // deleted meanwhile
		return s.decoy(id, "webhook for a channel that does not exist"), nil
	case err != nil:
		return nil, err
	}
	return w, nil
}

// decoy is decoyChannel(id), and a debug log line that says why: the only place that tells an unknown channel
// from a wrong signature.
func (s *Server) decoy(id, why string) *webhookChannel {
	s.Logger.Debug(why, slog.String("channel_id", id))
	return decoyChannel(id)
}
