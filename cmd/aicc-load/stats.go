package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// deliverySummary sums up a phase's events as the inbox has them.
type deliverySummary struct {
	events        int
	pending       int // neither delivered nor dead
	dead          int
	perConv       map[convKey]int // events per conversation
	lastDelivered time.Time
	lags          []time.Duration // delivered_at − received_at of the delivered events, sorted
}

// summarize sums up ds.
func summarize(ds []delivery) deliverySummary {
	s := deliverySummary{events: len(ds), perConv: map[convKey]int{}}
	for _, d := range ds {
		s.perConv[d.conv]++
		switch {
		case d.dead:
			s.dead++
		case d.deliveredAt.IsZero():
			s.pending++
		default:
			s.lags = append(s.lags, d.deliveredAt.Sub(d.receivedAt))
			if d.deliveredAt.After(s.lastDelivered) {
				s.lastDelivered = d.deliveredAt
			}
		}
	}
	slices.Sort(s.lags)
	return s
}

// modelCheck compares the read model's MessageCount of a phase's conversations with their events.
type modelCheck struct {
	conversations int
	matched       int
	missing       int // no row in the read model
	wrong         int // a MessageCount other than the conversation's events
}

func (c modelCheck) ok() bool { return c.missing == 0 && c.wrong == 0 }

func (c modelCheck) String() string {
	verdict := "OK"
	if !c.ok() {
		verdict = "FAILED"
	}
	return fmt.Sprintf("%s: %d conversations, %d count their events exactly, %d missing, %d with another count",
		verdict, c.conversations, c.matched, c.missing, c.wrong)
}

// compareModel checks got, MessageCount per conversation, against want, the events per conversation. Other
// conversations in got are not the phase's and are ignored.
func compareModel(want, got map[convKey]int) modelCheck {
	c := modelCheck{conversations: len(want)}
	for k, n := range want {
		m, ok := got[k]
		switch {
		case !ok:
			c.missing++
		case m != n:
			c.wrong++
		default:
			c.matched++
		}
	}
	return c
}

// sortedKeys returns the conversations of m by Page, then customer.
func sortedKeys(m map[convKey]int) []convKey {
	return slices.SortedFunc(maps.Keys(m), func(a, b convKey) int {
		return cmp.Or(cmp.Compare(a.page, b.page), cmp.Compare(a.psid, b.psid))
	})
}

// sample returns n elements of s spread evenly over it (the first of every len(s)/n), or all of s when it has
// no more than n.
func sample[T any](s []T, n int) []T {
	if n <= 0 {
		return nil
	}
	if len(s) <= n {
		return s
	}
	out := make([]T, n)
	for i := range out {
		out[i] = s[i*len(s)/n]
	}
	return out
}

// seriesSummary sums up the backlog sampled at a fixed interval.
type seriesSummary struct {
	n              int
	min, max, last int
	mean           float64
	// slope is the least-squares growth per sample: near zero when the backlog stays flat.
	slope float64
}

// summarizeSeries sums up samples.
func summarizeSeries(samples []int) seriesSummary {
	s := seriesSummary{n: len(samples)}
	if len(samples) == 0 {
		return s
	}
	s.min, s.max, s.last = slices.Min(samples), slices.Max(samples), samples[len(samples)-1]
	var sum, sumX, sumXY, sumXX float64
	for i, v := range samples {
		x, y := float64(i), float64(v)
		sum += y
		sumX += x
		sumXY += x * y
		sumXX += x * x
	}
	n := float64(len(samples))
	s.mean = sum / n
	if d := n*sumXX - sumX*sumX; d != 0 {
		s.slope = (n*sumXY - sumX*sum) / d
	}
	return s
}

// foldRuns joins s with ", ", a run of n equal elements as "x×n".
func foldRuns(s []string) string {
	var out []string
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && s[j] == s[i] {
			j++
		}
		if j-i > 1 {
			out = append(out, fmt.Sprintf("%s×%d", s[i], j-i))
		} else {
			out = append(out, s[i])
		}
		i = j
	}
	return strings.Join(out, ", ")
}
