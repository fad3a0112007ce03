package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// workTimeIntervalsJSON answers GET /v1/channels/{id}/work-time?from=&to=.
type workTimeIntervalsJSON struct {
	TimeZone  string         `json:"timeZone"`
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Intervals []intervalJSON `json:"intervals"`
}

type intervalJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// workTimeAtJSON answers GET /v1/channels/{id}/work-time?at=.
type workTimeAtJSON struct {
	TimeZone string     `json:"timeZone"`
	At       time.Time  `json:"at"`
	Workday  bool       `json:"workday"`
	Working  bool       `json:"working"`
	Until    *time.Time `json:"until,omitempty"`
	Route    aicc.Route `json:"route"`
	// AgentRoute is what reaching an agent at that time means: the queue, or the non-working-time notice.
	AgentRoute aicc.Route `json:"agentRoute"`
}

// workTimeQuery is what GET /v1/channels/{id}/work-time asks: at, or from and to; and, to preview a draft before
// saving it, the work time and service calendar to use instead of the channel's (nil: the channel's).
type workTimeQuery struct {
	hasAt               bool
	at, from, to        time.Time
	workday, nonWorkday *[]aicc.TimeSegment
	calendarID          *string
}

// getWorkTime answers when the channel's agents work, read in the zone of its service calendar (UTC without
// one): with from and to, the working intervals between them; with at, whether they work at that instant,
// until when, and what happens to a customer's message then. The query checks come before any lookup; the
// range bound before any computing.
func (s *Server) getWorkTime(c *gin.Context) error {
	q, err := parseWorkTimeQuery(c)
	if err != nil {
		return err
	}
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	ch, err := s.Store.GetChannel(ctx, tenant, c.Param("channelID"))
	if err != nil {
		return err
	}
	wt, calendarID := ch.Basic.WorkTime, ch.Basic.ServiceCalendarID
	if q.workday != nil {
		wt.Workday = *q.workday
	}
	if q.nonWorkday != nil {
		wt.NonWorkday = *q.nonWorkday
	}
	if q.calendarID != nil {
		calendarID = *q.calendarID
	}
	cal, err := s.workTimeCalendar(ctx, tenant, calendarID, q.calendarID != nil)
	if err != nil {
		return err
	}
	loc, err := aicc.CalendarLocation(cal)
	if err != nil {
		return err
	}
	schedule, err := aicc.NewWorkSchedule(wt, cal, loc)
	if err != nil {
		return err
	}

	if !q.hasAt {
		ivs, err := schedule.Intervals(q.from, q.to)
		if err != nil {
			return err
		}
		out := workTimeIntervalsJSON{
			TimeZone: loc.String(), From: q.from.In(loc), To: q.to.In(loc), Intervals: make([]intervalJSON, len(ivs)),
		}
		for i, iv := range ivs {
			out.Intervals[i] = intervalJSON{Start: iv.Start, End: iv.End}
		}
		c.JSON(http.StatusOK, out)
		return nil
	}
	working, until := schedule.At(q.at)
	route, agentRoute := ch.MessageRoute(working)
	out := workTimeAtJSON{
		TimeZone: loc.String(), At: q.at.In(loc), Workday: schedule.IsWorkday(q.at), Working: working,
		Route: route, AgentRoute: agentRoute,
	}
	if !until.IsZero() {
		out.Until = &until
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// workTimeCalendar returns the tenant's service calendar id, nil for none. A draft's calendar (draft) that does
// not exist is the caller's mistake; the channel's own is a broken reference.
func (s *Server) workTimeCalendar(ctx context.Context, tenant, id string, draft bool) (*aicc.ServiceCalendar, error) {
	if id == "" {
		return nil, nil
	}
	cal, err := s.Store.GetServiceCalendar(ctx, tenant, id)
	switch {
	case aicc.ErrorCode(err) == aicc.ENOTFOUND && draft:
		return nil, invalid("serviceCalendarId", "names no service calendar of this tenant")
	case aicc.ErrorCode(err) == aicc.ENOTFOUND:
		return nil, fmt.Errorf("the channel's service calendar %s does not exist", id)
	}
	return cal, err
}

// parseWorkTimeQuery reads the query and reports every broken parameter at once.
func parseWorkTimeQuery(c *gin.Context) (workTimeQuery, error) {
	var q workTimeQuery
	fe := aicc.FieldErrors{}
	parseTime := func(name string) (time.Time, bool) {
		v, ok := c.GetQuery(name)
		if !ok {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			fe.Add(name, "must be an RFC 3339 time, e.g. 2026-03-02T09:00:00Z (encode + as %%2B)")
		}
		return t, true
	}
	var hasFrom, hasTo bool
	q.at, q.hasAt = parseTime("at")
	q.from, hasFrom = parseTime("from")
	q.to, hasTo = parseTime("to")
	switch {
	case q.hasAt && (hasFrom || hasTo):
		fe.Add("at", "cannot be combined with from and to")
	case !q.hasAt && !hasFrom && !hasTo:
		fe.Add("at", "is required, unless from and to are given")
	case hasFrom && !hasTo:
		fe.Add("to", "is required with from")
	case hasTo && !hasFrom:
		fe.Add("from", "is required with to")
	}
	q.workday = segmentsQuery(c, fe, "workday")
	q.nonWorkday = segmentsQuery(c, fe, "nonWorkday")
	if id, ok := c.GetQuery("serviceCalendarId"); ok {
		q.calendarID = &id
	}
	if err := fe.Err(); err != nil {
		return q, err
	}
	if !q.hasAt {
		return q, aicc.ValidateWorkTimeRange(q.from, q.to)
	}
	return q, nil
}

// segmentsQuery reads a draft's segments, "09:00-12:00,13:00-18:00", "" for none; nil when the parameter is
// absent. The segments' own rules are checked with the schedule.
func segmentsQuery(c *gin.Context, fe aicc.FieldErrors, name string) *[]aicc.TimeSegment {
	v, ok := c.GetQuery(name)
	if !ok {
		return nil
	}
	segs := []aicc.TimeSegment{}
	if v == "" {
		return &segs
	}
	parts := strings.Split(v, ",")
	if len(parts) > aicc.MaxWorkTimeSegments {
		fe.Add(name, "must have at most %d time segments", aicc.MaxWorkTimeSegments)
		return &segs
	}
	for i, p := range parts {
		start, end, ok := strings.Cut(p, "-")
		if !ok {
			fe.Add(fmt.Sprintf("%s[%d]", name, i), "must be HH:MM-HH:MM")
			continue
		}
		segs = append(segs, aicc.TimeSegment{Start: start, End: end})
	}
	return &segs
}
