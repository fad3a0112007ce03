package aicc

import (
	"fmt"
	"iter"
	"slices"
	"time"
)

// Work-time bounds.
const (
	// MaxWorkTimeHorizon bounds how far past t WorkSchedule.At looks for the end of the current state: a year
	// and a month, so that a state ending within a year of weekends, holidays and make-up days is always
	// found. A state that lasts longer (agents who never work, or always do, or a rest spanning more than the
	// horizon) has no end within it, and At answers a zero until.
	MaxWorkTimeHorizon = 400 * 24 * time.Hour
	// MaxWorkTimeRange bounds the range of WorkSchedule.Intervals: the longest quarter (92 days) and a day, so
	// that a quarter from local midnight to local midnight fits whatever DST change it holds; a preview then
	// converts a few hundred segments at most.
	MaxWorkTimeRange = 93 * 24 * time.Hour
)

// Interval is the half-open span of time [Start, End).
type Interval struct {
	Start time.Time
	End   time.Time
}

// WorkSchedule says when a channel's agents work: its workday and non-workday time segments, read on the
// local wall clock of one time zone, on the days its service calendar makes workdays and non-workdays. It is
// pure: no clock, no I/O; its answers depend on its inputs and the time zone's rules only.
//
// The rules, precisely:
//   - A day is a calendar date of the zone. It is a workday unless the calendar makes it a non-workday: a
//     weekly non-working day or a rest date is one, unless it is a make-up work date, which is always a
//     workday. Without a calendar every day is a workday (and non-workday segments never apply).
//   - A segment "HH:MM"–"HH:MM" of a day covers the real time from its start to its end; "24:00" is the next
//     day's 00:00. Working intervals that touch, within a day or across midnight (23:00–24:00, then 00:00–01:00
//     of the next day), are one interval.
//   - A wall time names the first instant at which the zone's clock reads that date and time or later. In a
//     spring-forward gap a wall time that does not exist therefore names the instant the clock jumps:
//     Europe/Berlin's 02:30 on 2026-03-29 is 03:00 CEST, so 02:30–04:00 lasts one real hour and 02:00–03:00
//     none. At a fall-back a repeated wall time names its first occurrence: New York's 01:30 on 2026-11-01 is
//     01:30 EDT, and 00:00–03:00 that day lasts four real hours. (time.Date is not used for this: it picks
//     either side of a transition depending on the zone, e.g. 02:30 in the gap is 03:30 in Berlin but 01:30
//     EST in New York, and a repeated time is Berlin's second occurrence but New York's first.)
type WorkSchedule struct {
	loc        *time.Location
	workday    []span
	nonWorkday []span
	weekly     [7]bool // weekly non-working days, by time.Weekday
	rest       map[civilDate]bool
	makeUp     map[civilDate]bool
}

// span is a segment in minutes since midnight, [start, end).
type span struct{ start, end int }

// NewWorkSchedule builds the schedule of a channel's work time wt, read in loc (nil means UTC), with the
// days off of cal (nil means every day is a workday). Its segments and dates follow the rules the channel and
// the calendar are validated with; a broken one is EINVALID naming it ("workday[1].start",
// "serviceCalendar.restDates[0]"). loc is taken as given: the calendar's TimeZone is not loaded here (see
// CalendarLocation).
func NewWorkSchedule(wt WorkTime, cal *ServiceCalendar, loc *time.Location) (*WorkSchedule, error) {
	fe := FieldErrors{}
	checkSegments(fe, "workday", wt.Workday)
	checkSegments(fe, "nonWorkday", wt.NonWorkday)
	if loc == nil {
		loc = time.UTC
	}
	s := &WorkSchedule{loc: loc, workday: spans(wt.Workday), nonWorkday: spans(wt.NonWorkday)}
	if cal != nil {
		for i, d := range cal.WeeklyNonWorkingDays {
			if d < time.Sunday || d > time.Saturday {
				fe.Add(fmt.Sprintf("serviceCalendar.weeklyNonWorkingDays[%d]", i), "must be a weekday from 0 (Sunday) to 6 (Saturday)")
				continue
			}
			s.weekly[d] = true
		}
		s.rest = dateSet(fe, "serviceCalendar.restDates", cal.RestDates)
		s.makeUp = dateSet(fe, "serviceCalendar.makeUpWorkDates", cal.MakeUpWorkDates)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// CalendarLocation loads the time zone of a service calendar; without a calendar, or with one without a zone,
// it is UTC. It reads the zone's rules from the system (or the embedded tzdata), which is why NewWorkSchedule
// takes the location rather than the name.
func CalendarLocation(cal *ServiceCalendar) (*time.Location, error) {
	if cal == nil || cal.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(cal.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("loading the time zone %q of service calendar %s: %w", cal.TimeZone, cal.ID, err)
	}
	return loc, nil
}

// spans converts valid segments to minutes, sorted; checkSegments reports the others, which are left out.
func spans(segs []TimeSegment) []span {
	var out []span
	if len(segs) > MaxWorkTimeSegments {
		return nil
	}
	for _, seg := range segs {
		start, okStart := parseClock(seg.Start)
		end, okEnd := parseClock(seg.End)
		if okStart && okEnd && start < end {
			out = append(out, span{start, end})
		}
	}
	slices.SortFunc(out, func(a, b span) int { return a.start - b.start })
	return out
}

// dateSet parses calendar dates into a set, reporting the ones that are no YYYY-MM-DD date.
func dateSet(fe FieldErrors, field string, dates []string) map[civilDate]bool {
	set := make(map[civilDate]bool, len(dates))
	for i, d := range dates {
		t, err := time.Parse(calendarDateLayout, d)
		if err != nil {
			fe.Add(fmt.Sprintf("%s[%d]", field, i), "must be a date in YYYY-MM-DD")
			continue
		}
		set[dateOf(t)] = true
	}
	return set
}

// Location is the time zone the schedule reads its segments and days in.
func (s *WorkSchedule) Location() *time.Location { return s.loc }

// IsWorkday reports whether the calendar date of t, in the schedule's zone, is a workday.
func (s *WorkSchedule) IsWorkday(t time.Time) bool { return s.isWorkday(dateOf(t.In(s.loc))) }

// At reports whether agents work at t and until when that lasts: the instant the state flips, in the
// schedule's zone. At until the state is the opposite of working. until is zero when the state does not flip
// within MaxWorkTimeHorizon after t (an empty schedule, one that always works, a holiday longer than the
// horizon).
func (s *WorkSchedule) At(t time.Time) (working bool, until time.Time) {
	limit := t.Add(MaxWorkTimeHorizon)
	for iv := range s.merged(dateOf(t.In(s.loc)).add(-1), dateOf(limit.In(s.loc)).add(1)) {
		switch {
		case !iv.End.After(t):
			continue
		case iv.Start.After(t):
			return false, within(iv.Start, limit)
		default:
			return true, within(iv.End, limit)
		}
	}
	return false, time.Time{}
}

// AddWorkingTime returns the instant at which d of working time has passed since from: the working time of
// [from, deadline) is d, so a span that starts or runs into non-working time is carried over to the next
// working interval (a timer started at 16:50 with 20 minutes to go on a 09:00–17:00 workday is due at 09:10
// of the next workday). A d that is not positive is due at from. ok is false when agents do not work d within
// MaxWorkTimeHorizon of from: there is no working time ahead, or too little.
func (s *WorkSchedule) AddWorkingTime(from time.Time, d time.Duration) (deadline time.Time, ok bool) {
	return addWorkingTime(s.At, from, d, from.Add(MaxWorkTimeHorizon))
}

// WorkPlan is a WorkSchedule resolved to instants for a span of time: whether agents work at every instant of
// [From, Through), and until when. It answers as the schedule it was made from, but needs no time zone to read,
// so a workflow can keep it and read it in replay with the same answers whatever the zone rules on the worker:
// the zone is resolved once, by whoever made the plan (WorkSchedule.Plan).
type WorkPlan struct {
	From    time.Time
	Through time.Time
	// Working are the working intervals of the plan, in order, not touching, in UTC; the first starts at From at
	// the earliest. An End that is zero lasts past Through.
	Working []Interval
}

// Plan resolves the schedule from from to at least to: the plan's Through is the first change of state at or
// after to (the end of the working interval to falls in, or of the first one after it), or, when the state at
// some point does not change within MaxWorkTimeHorizon, that point and the horizon. It costs one At for each
// change of state in the span.
func (s *WorkSchedule) Plan(from, to time.Time) WorkPlan {
	p := WorkPlan{From: from.UTC()}
	for t := from; ; {
		working, next := s.At(t)
		switch {
		case next.IsZero(): // the state lasts past the horizon
			if working {
				p.Working = append(p.Working, Interval{Start: t.UTC()})
			}
			p.Through = t.Add(MaxWorkTimeHorizon).UTC()
			return p
		case working:
			p.Working = append(p.Working, Interval{Start: t.UTC(), End: next.UTC()})
			if !next.Before(to) {
				p.Through = next.UTC()
				return p
			}
		}
		t = next
	}
}

// Covers reports whether the plan says whether agents work at t.
func (p *WorkPlan) Covers(t time.Time) bool { return !t.Before(p.From) && t.Before(p.Through) }

// At answers as WorkSchedule.At for t the plan covers: whether agents work at t and until when (zero: not
// within the plan). It answers false and a zero until for any other t.
func (p *WorkPlan) At(t time.Time) (working bool, until time.Time) {
	if !p.Covers(t) {
		return false, time.Time{}
	}
	for _, iv := range p.Working {
		switch {
		case !iv.End.IsZero() && !t.Before(iv.End):
			continue
		case t.Before(iv.Start):
			return false, iv.Start
		default:
			return true, iv.End
		}
	}
	return false, time.Time{}
}

// AddWorkingTime answers as WorkSchedule.AddWorkingTime within the plan: ok is false when d of working time
// does not pass before the plan's Through, or from is not covered.
func (p *WorkPlan) AddWorkingTime(from time.Time, d time.Duration) (deadline time.Time, ok bool) {
	if !p.Covers(from) {
		return time.Time{}, false
	}
	return addWorkingTime(p.At, from, d, p.Through)
}

// addWorkingTime is AddWorkingTime over at, a schedule's answer to "working at t, and until when" (zero: not
// before limit), giving up past limit.
func addWorkingTime(at func(time.Time) (bool, time.Time), from time.Time, d time.Duration, limit time.Time) (time.Time, bool) {
	t := from
	for d > 0 {
		working, until := at(t)
		switch {
		case working && (until.IsZero() || d <= until.Sub(t)):
			t, d = t.Add(d), 0
		case working:
			t, d = until, d-until.Sub(t)
		case until.IsZero():
			return time.Time{}, false
		default:
			t = until
		}
		if t.After(limit) {
			return time.Time{}, false
		}
	}
	return t, true
}

// within returns x, or zero when it is past limit.
func within(x, limit time.Time) time.Time {
	if x.After(limit) {
		return time.Time{}
	}
	return x
}

// ValidateWorkTimeRange checks a range for WorkSchedule.Intervals: from before to, and at most
// MaxWorkTimeRange apart. It is EINVALID naming "to".
func ValidateWorkTimeRange(from, to time.Time) error {
	fe := FieldErrors{}
	switch {
	case !from.Before(to):
		fe.Add("to", "must be after from")
	case to.Sub(from) > MaxWorkTimeRange:
		fe.Add("to", "must be at most %d days after from", MaxWorkTimeRange/(24*time.Hour))
	}
	return fe.Err()
}

// Intervals returns the working intervals within [from, to), in order, in the schedule's zone; an interval
// that starts before from or ends after to is cut there, and intervals that touch are one. The range is
// checked first, by ValidateWorkTimeRange.
func (s *WorkSchedule) Intervals(from, to time.Time) ([]Interval, error) {
	if err := ValidateWorkTimeRange(from, to); err != nil {
		return nil, err
	}
	out := []Interval{}
	for iv := range s.merged(dateOf(from.In(s.loc)).add(-1), dateOf(to.In(s.loc)).add(1)) {
		if !iv.End.After(from) {
			continue
		}
		if !iv.Start.Before(to) {
			break
		}
		if iv.Start.Before(from) {
			iv.Start = from.In(s.loc)
		}
		if iv.End.After(to) {
			iv.End = to.In(s.loc)
		}
		out = append(out, iv)
	}
	return out, nil
}

// merged yields the working intervals of the days first to last, in order, touching ones joined. The last
// one may continue on the day after last.
func (s *WorkSchedule) merged(first, last civilDate) iter.Seq[Interval] {
	return func(yield func(Interval) bool) {
		var cur Interval
		pending := false
		for d := first; !last.before(d); d = d.add(1) {
			segs := s.workday
			if !s.isWorkday(d) {
				segs = s.nonWorkday
			}
			for _, sp := range segs {
				iv := Interval{Start: s.wall(d, sp.start), End: s.wall(d, sp.end)}
				switch {
				case !iv.Start.Before(iv.End): // wholly inside a spring-forward gap
				case pending && !iv.Start.After(cur.End):
					if iv.End.After(cur.End) {
						cur.End = iv.End
					}
				default:
					if pending && !yield(cur) {
						return
					}
					cur, pending = iv, true
				}
			}
		}
		if pending {
			yield(cur)
		}
	}
}

func (s *WorkSchedule) isWorkday(d civilDate) bool {
	switch {
	case s.makeUp[d]:
		return true
	case s.rest[d]:
		return false
	default:
		return !s.weekly[d.weekday()]
	}
}

// wall returns the first instant at which the zone's clock reads date d and minutes past its midnight, or
// later (minutes may be 1440, the next day's midnight). It walks the zone's periods of one offset from two
// days before: the first period holding an instant with that reading has the first occurrence; a period that
// starts past the reading, before any did, starts right after a gap that swallowed it.
func (s *WorkSchedule) wall(d civilDate, minutes int) time.Time {
	want := time.Date(d.y, d.m, d.d, 0, minutes, 0, 0, time.UTC).Unix() // the reading, as seconds
	if s.loc == time.UTC {
		return time.Unix(want, 0).In(s.loc)
	}
	// A zone's offset is at most 14 hours from UTC, so two days before the reading comes before every instant
	// that reads it or later.
	p := time.Unix(want-2*86400, 0).In(s.loc)
	for range 64 { // a zone changes offset a few times in four days at most; the bound only guards a loop
		start, end := p.ZoneBounds()
		_, offset := p.Zone()
		u := want - int64(offset)
		switch {
		case !start.IsZero() && u < start.Unix():
			return start.In(s.loc)
		case end.IsZero() || u < end.Unix():
			return time.Unix(u, 0).In(s.loc)
		}
		p = end.In(s.loc)
	}
	return time.Date(d.y, d.m, d.d, 0, minutes, 0, 0, s.loc)
}

// civilDate is a calendar date, without a zone.
type civilDate struct {
	y int
	m time.Month
	d int
}

// dateOf is the date t reads in its own location.
func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

func (c civilDate) add(days int) civilDate {
	return dateOf(time.Date(c.y, c.m, c.d+days, 0, 0, 0, 0, time.UTC))
}

func (c civilDate) before(o civilDate) bool {
	if c.y != o.y {
		return c.y < o.y
	}
	if c.m != o.m {
		return c.m < o.m
	}
	return c.d < o.d
}

func (c civilDate) weekday() time.Weekday {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).Weekday()
}

// Route is what happens to a customer's message: where it goes first.
type Route string

// Routes of a message.
const (
	// RouteRobot: the intelligent robot answers; its transfer keywords hand the customer to agents.
	RouteRobot Route = "robot"
	// RouteQueue: the conversation waits in the channel's skill queue for an agent.
	RouteQueue Route = "queue"
	// RouteNonWorkingNotice: the customer gets the non-working-time notification, and the conversation waits in
	// the skill queue for the agents' next working time.
	RouteNonWorkingNotice Route = "non_working_notice"
)

// MessageRoute says what happens to a customer's message to the channel when the agents are working or not.
// route is where the message goes first: the intelligent robot whenever it is enabled (the robot has no work
// time; it comes first, as the seed's transfer keywords imply), else what reaching an agent means. agentRoute
// is what reaching an agent (directly, or by a transfer keyword) means: the queue in working time; outside it,
// the non-working-time notification, sent because the customer is connected to agents who are at rest (seed,
// "Non-Working Time Notification"), and the queue; or, when the channel has no notification text, the queue
// alone, since there is nothing to send.
func (c *Channel) MessageRoute(working bool) (route, agentRoute Route) {
	agentRoute = RouteQueue
	if !working && c.Basic.NonWorkingTimeNotice != "" {
		agentRoute = RouteNonWorkingNotice
	}
	if c.Robot.Robot.Enabled {
		return RouteRobot, agentRoute
	}
	return agentRoute, agentRoute
}
