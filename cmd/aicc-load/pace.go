package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// pace sends gen's POSTs to t at postRate a second for d, open loop: POST i is due at start + i/postRate,
// whatever the answers to the earlier ones. Up to workers POSTs are in flight; one due while all of them are
// busy waits for the first free one, and the ones after it catch up, so the rate achieved (in the result) falls
// short only when the target cannot keep up. It never resends: gen.dup is ignored.
func pace(ctx context.Context, t target, gen *generator, postRate float64, d time.Duration, workers int,
	timeout time.Duration) *result {
	transport := &http.Transport{
		MaxIdleConns: workers, MaxIdleConnsPerHost: workers, IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}
	defer transport.CloseIdleConnections()
	hc := &http.Client{Transport: transport, Timeout: timeout}

	jobs := make(chan *post)
	results := make([]*result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		r := &result{non200: map[int]int{}}
		results[w] = r
		wg.Go(func() {
			for p := range jobs {
				sendOne(ctx, hc, t, p, false, r)
			}
		})
	}
	rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	start := time.Now()
	var posts []*post
	for i := 0; ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(float64(i) / postRate * float64(time.Second)))
		if due.Sub(start) >= d {
			break
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		p := gen.newPost(0, i, rnd, time.Now().UnixMilli())
		if p == nil {
			break
		}
		posts = append(posts, p)
		select {
		case jobs <- p:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	res := &result{name: t.name, elapsed: time.Since(start), non200: map[int]int{}, posts: posts}
	for _, r := range results {
		res.sent += r.sent
		res.ok += r.ok
		res.events += r.events
		res.errors += r.errors
		for k, v := range r.non200 {
			res.non200[k] += v
		}
		res.latencies = append(res.latencies, r.latencies...)
	}
	slices.Sort(res.latencies)
	return res
}
