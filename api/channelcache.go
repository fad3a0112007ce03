package api

import (
	"context"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/aiccfb/aicc"
)

// The webhook POST is the hot path: Meta waits for its 200, and under load every database read before the
// INSERT counts. What it needs of a channel is cached in process, briefly, so that a hit costs no query.
const (
	// webhookCacheTTL is how long a looked-up channel is used without asking the database again: a disabled
	// channel or a removed Page goes on being accepted for at most this long.
	webhookCacheTTL = 5 * time.Second
	// webhookCacheSize bounds the cache; beyond it expired entries go first, then any.
	webhookCacheSize = 10_000
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

func (w *webhookChannel) hasPage(id string) bool {
	_, ok := w.pages[id]
	return ok
}

// channelCache caches webhookChannels by channel ID for webhookCacheTTL. Concurrent misses for one channel
// share a single lookup; a failed lookup is not cached, so the next request tries again.
type channelCache struct {
	load func(ctx context.Context, id string) (*webhookChannel, error)
	now  func() time.Time

	mu      sync.RWMutex
	entries map[string]*cacheEntry
}

// cacheEntry is a lookup, done or under way. Its fields are written under the cache's lock before done is
// closed.
type cacheEntry struct {
	done    chan struct{}
	ready   bool
	ch      *webhookChannel
	err     error
	expires time.Time
}

func newChannelCache(load func(ctx context.Context, id string) (*webhookChannel, error), now func() time.Time) *channelCache {
	return &channelCache{load: load, now: now, entries: map[string]*cacheEntry{}}
}

// get returns the channel with the given ID, from the cache when it holds a fresh entry loaded at or after
// notBefore (zero accepts any), else from load.
func (c *channelCache) get(ctx context.Context, id string, notBefore time.Time) (*webhookChannel, error) {
	now := c.now()
	c.mu.RLock()
	e := c.entries[id]
	if e != nil && e.ready && e.fresh(now, notBefore) {
		c.mu.RUnlock()
		return e.ch, nil
	}
	c.mu.RUnlock()

	c.mu.Lock()
	e = c.entries[id]
	switch {
	case e != nil && !e.ready:
		c.mu.Unlock()
		return e.wait(ctx)
	case e != nil && e.fresh(now, notBefore):
		c.mu.Unlock()
		return e.ch, nil
	}
	e = &cacheEntry{done: make(chan struct{})}
	c.insert(id, e, now)
	c.mu.Unlock()

	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webhookLoadTimeout)
	ch, err := c.load(lctx, id)
	cancel()

	c.mu.Lock()
	e.ch, e.err, e.ready = ch, err, true
	if err == nil {
		ch.loadedAt = now
		e.expires = now.Add(webhookCacheTTL)
	} else if c.entries[id] == e {
		delete(c.entries, id)
	}
	close(e.done)
	c.mu.Unlock()
	return ch, err
}

// forget drops the cached channel with the given ID, so that its next request looks it up: this process's own
// change to a channel's secrets takes effect at once, other processes' within webhookCacheTTL. A lookup under
// way is left to its waiters.
func (c *channelCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[id]; e != nil && e.ready {
		delete(c.entries, id)
	}
}

func (e *cacheEntry) fresh(now, notBefore time.Time) bool {
	return e.err == nil && now.Before(e.expires) && !e.ch.loadedAt.Before(notBefore)
}

// wait waits for a lookup another request started.
func (e *cacheEntry) wait(ctx context.Context) (*webhookChannel, error) {
	select {
	case <-e.done:
		return e.ch, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// insert adds e under id, making room first when the cache is full: expired entries go, and if that frees
// nothing, one finished entry. Entries under way stay, so their waiters are not orphaned. The caller holds
// the lock.
func (c *channelCache) insert(id string, e *cacheEntry, now time.Time) {
	if _, ok := c.entries[id]; !ok && len(c.entries) >= webhookCacheSize {
		for k, old := range c.entries {
			if old.ready && !now.Before(old.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= webhookCacheSize {
			for k, old := range c.entries {
				if old.ready {
					delete(c.entries, k)
					break
				}
			}
		}
	}
	c.entries[id] = e
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
