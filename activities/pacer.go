package activities

import (
	"container/list"
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/aiccfb/aicc"
)

// DefaultSendRate is Meta's Send API budget of a Page for text (and links, reactions, stickers): 300 calls a
// second. Audio and video have 10 a second; the service sends neither.
const DefaultSendRate = 300

// DefaultPacerPages bounds how many Pages a Pacer keeps a bucket for. A bucket left alone for a second is
// full again, so forgetting the least recently used Page loses nothing but a hold.
const DefaultPacerPages = 10_000

// Pacer keeps the Send API calls of each Page within Meta's budget: a token bucket per Page, filled at the
// rate per second with a burst of as many calls, and a hold on a Page for as long as Meta said its rate limit
// lasts. It keeps at most MaxPages Pages, forgetting the least recently used.
//
// The budget is per worker process: n workers may make n times the rate of calls for one Page between them.
// With several workers, set AICC_SEND_RATE to Meta's budget divided by their number; what still goes over it
// is answered by Meta with a rate-limit error, which the send activity retries after Meta's estimate.
//
// A nil *Pacer paces nothing. The exported fields may be set before the first Wait.
type Pacer struct {
	// MaxPages is how many Pages the pacer keeps a bucket for; 0 means DefaultPacerPages.
	MaxPages int
	// CallTime is how long the call after a turn may take (one Graph attempt): a turn that would leave less of
	// ctx's time is not waited for, since a call cut off by the deadline may or may not have sent its message.
	CallTime time.Duration
	// Now and Sleep are the pacer's clock, for tests; nil means the real one. Sleep returns ctx's error when
	// ctx ends first.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error

	rate  rate.Limit
	burst int

	mu    sync.Mutex
	pages map[string]*list.Element // of *pacedPage, in lru
	lru   *list.List               // the most recently used first
}

type pacedPage struct {
	id        string
	limiter   *rate.Limiter
	heldUntil time.Time
}

// NewPacer returns a pacer of perSecond Send API calls per Page (DefaultSendRate when not positive), with a
// burst of as many (at least one).
func NewPacer(perSecond float64) *Pacer {
	if perSecond <= 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) {
		perSecond = DefaultSendRate
	}
	return &Pacer{
		rate: rate.Limit(perSecond), burst: max(int(math.Ceil(perSecond)), 1),
		pages: map[string]*list.Element{}, lru: list.New(),
	}
}

// Rate returns the calls per second the pacer allows a Page, 0 for a nil pacer (no pacing).
func (p *Pacer) Rate() float64 {
	if p == nil {
		return 0
	}
	return float64(p.rate)
}

// Wait returns when the Page may make a Send API call. While the Page is held it returns at once a retryable
// META_RATE_LIMITED *aicc.GraphError whose RetryAfter is what is left of the hold, without spending a token:
// every call would be refused anyway. When ctx ends first, or would end before the Page's turn and CallTime
// after it, Wait returns ctx's error (context.DeadlineExceeded for the latter) and gives the token back.
func (p *Pacer) Wait(ctx context.Context, pageID string) error {
	if p == nil {
		return nil
	}
	now := p.now()
	p.mu.Lock()
	pg := p.page(pageID)
	if held := pg.heldUntil.Sub(now); held > 0 {
		p.mu.Unlock()
		return &aicc.GraphError{
			Code: aicc.EMETARATELIMITED, Message: "Meta is rate-limiting calls for this Page; retry later.",
			Retryable: true, RetryAfter: held,
		}
	}
	r := pg.limiter.ReserveN(now, 1) // never refused: the burst is at least 1
	p.mu.Unlock()
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && deadline.Sub(now) < d+p.CallTime {
		r.CancelAt(now)
		return context.DeadlineExceeded
	}
	if err := p.sleep(ctx, d); err != nil {
		r.CancelAt(p.now())
		return err
	}
	return nil
}

// Hold stops the Page's calls for d from now: Meta said its rate limit lasts that long. A hold never shortens
// one already in place.
func (p *Pacer) Hold(pageID string, d time.Duration) {
	if p == nil {
		return
	}
	until := p.now().Add(d)
	p.mu.Lock()
	defer p.mu.Unlock()
	if pg := p.page(pageID); until.After(pg.heldUntil) {
		pg.heldUntil = until
	}
}

// Pages returns how many Pages the pacer keeps a bucket for.
func (p *Pacer) Pages() int {
	if p == nil {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lru.Len()
}

// page returns the Page's entry, made if missing, as the most recently used; p.mu is held.
func (p *Pacer) page(pageID string) *pacedPage {
	if e, ok := p.pages[pageID]; ok {
		p.lru.MoveToFront(e)
		return e.Value.(*pacedPage)
	}
	limit := p.MaxPages
	if limit <= 0 {
		limit = DefaultPacerPages
	}
	for p.lru.Len() >= limit {
		oldest := p.lru.Back()
		delete(p.pages, oldest.Value.(*pacedPage).id)
		p.lru.Remove(oldest)
	}
	pg := &pacedPage{id: pageID, limiter: rate.NewLimiter(p.rate, p.burst)}
	p.pages[pageID] = p.lru.PushFront(pg)
	return pg
}

func (p *Pacer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pacer) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
