package aicc_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

// workSegments parses "09:00-12:00,13:00-18:00" into segments; "" is none.
func workSegments(s string) []aicc.TimeSegment {
	var out []aicc.TimeSegment
	for _, part := range strings.Split(s, ",") {
		if part == "" {
			continue
		}
		start, end, _ := strings.Cut(part, "-")
		out = append(out, aicc.TimeSegment{Start: start, End: end})
	}
	return out
}

// mustSchedule builds the schedule of the segments with the calendar's days off, in the calendar's zone (UTC
// without a calendar).
func mustSchedule(tb testing.TB, workday, nonWorkday string, cal *aicc.ServiceCalendar) *aicc.WorkSchedule {
	tb.Helper()
	loc, err := aicc.CalendarLocation(cal)
	require.NoError(tb, err)
	s, err := aicc.NewWorkSchedule(aicc.WorkTime{Workday: workSegments(workday), NonWorkday: workSegments(nonWorkday)}, cal, loc)
	require.NoError(tb, err)
	return s
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339, s)
	require.NoError(tb, err)
	return t
}

// formatIntervals writes intervals as "start/end" in RFC 3339, offsets included: they show the zone too.
func formatIntervals(ivs []aicc.Interval) []string {
	out := []string{}
	for _, iv := range ivs {
		out = append(out, iv.Start.Format(time.RFC3339)+"/"+iv.End.Format(time.RFC3339))
	}
	return out
}

// atCase is one question to At: working at at, until until ("" for a zero until).
type atCase struct {
	at      string
	working bool
	until   string
}

func TestWorkSchedule(t *testing.T) {
	weekend := []time.Weekday{time.Saturday, time.Sunday}
	berlin := &aicc.ServiceCalendar{ID: "cal_b", TimeZone: "Europe/Berlin"}
	newYork := &aicc.ServiceCalendar{ID: "cal_ny", TimeZone: "America/New_York"}
	tests := []struct {
		name                string
		workday, nonWorkday string
		cal                 *aicc.ServiceCalendar
		from, to            string
		intervals           []string
		at                  []atCase
	}{
		{
			name:    "plain week",
			workday: "09:00-12:00,13:00-18:00",
			cal:     &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend},
			from:    "2026-03-02T00:00:00Z", to: "2026-03-09T00:00:00Z",
			intervals: []string{
				"2026-03-02T09:00:00Z/2026-03-02T12:00:00Z", "2026-03-02T13:00:00Z/2026-03-02T18:00:00Z",
				"2026-03-03T09:00:00Z/2026-03-03T12:00:00Z", "2026-03-03T13:00:00Z/2026-03-03T18:00:00Z",
				"2026-03-04T09:00:00Z/2026-03-04T12:00:00Z", "2026-03-04T13:00:00Z/2026-03-04T18:00:00Z",
				"2026-03-05T09:00:00Z/2026-03-05T12:00:00Z", "2026-03-05T13:00:00Z/2026-03-05T18:00:00Z",
				"2026-03-06T09:00:00Z/2026-03-06T12:00:00Z", "2026-03-06T13:00:00Z/2026-03-06T18:00:00Z",
			},
			at: []atCase{
				{"2026-03-02T08:59:59Z", false, "2026-03-02T09:00:00Z"},
				{"2026-03-02T09:00:00Z", true, "2026-03-02T12:00:00Z"},
				{"2026-03-02T12:00:00Z", false, "2026-03-02T13:00:00Z"},
				{"2026-03-06T18:00:00Z", false, "2026-03-09T09:00:00Z"},
				{"2026-03-07T12:00:00Z", false, "2026-03-09T09:00:00Z"},
				// Another zone's offset is only another way to name the instant.
				{"2026-03-02T10:00:00+01:00", true, "2026-03-02T12:00:00Z"},
			},
		},
		{
			name:    "touching segments are one interval",
			workday: "13:00-18:00,09:00-13:00",
			from:    "2026-03-02T00:00:00Z", to: "2026-03-03T00:00:00Z",
			intervals: []string{"2026-03-02T09:00:00Z/2026-03-02T18:00:00Z"},
			at:        []atCase{{"2026-03-02T12:59:00Z", true, "2026-03-02T18:00:00Z"}},
		},
		{
			name:    "24:00 ends at the next midnight",
			workday: "18:00-24:00",
			cal:     &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend},
			from:    "2026-03-06T00:00:00Z", to: "2026-03-10T00:00:00Z",
			intervals: []string{"2026-03-06T18:00:00Z/2026-03-07T00:00:00Z", "2026-03-09T18:00:00Z/2026-03-10T00:00:00Z"},
			at: []atCase{
				{"2026-03-06T23:59:59Z", true, "2026-03-07T00:00:00Z"},
				{"2026-03-07T00:00:00Z", false, "2026-03-09T18:00:00Z"},
			},
		},
		{
			name:    "overnight segments merge across midnight",
			workday: "00:00-01:00,23:00-24:00",
			cal:     &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend},
			from:    "2026-03-05T00:00:00Z", to: "2026-03-10T00:00:00Z",
			intervals: []string{
				"2026-03-05T00:00:00Z/2026-03-05T01:00:00Z",
				"2026-03-05T23:00:00Z/2026-03-06T01:00:00Z",
				// Friday night ends at midnight: Saturday is a non-workday without segments.
				"2026-03-06T23:00:00Z/2026-03-07T00:00:00Z",
				"2026-03-09T00:00:00Z/2026-03-09T01:00:00Z",
				"2026-03-09T23:00:00Z/2026-03-10T00:00:00Z", // cut at to
			},
			at: []atCase{
				{"2026-03-05T23:30:00Z", true, "2026-03-06T01:00:00Z"},
				{"2026-03-06T00:30:00Z", true, "2026-03-06T01:00:00Z"},
				{"2026-03-06T23:30:00Z", true, "2026-03-07T00:00:00Z"},
				{"2026-03-09T23:30:00Z", true, "2026-03-10T01:00:00Z"},
			},
		},
		{
			name:    "weekly non-working days use the non-workday segments",
			workday: "09:00-18:00", nonWorkday: "10:00-14:00",
			cal:  &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend},
			from: "2026-03-06T00:00:00Z", to: "2026-03-09T00:00:00Z",
			intervals: []string{
				"2026-03-06T09:00:00Z/2026-03-06T18:00:00Z",
				"2026-03-07T10:00:00Z/2026-03-07T14:00:00Z",
				"2026-03-08T10:00:00Z/2026-03-08T14:00:00Z",
			},
			at: []atCase{{"2026-03-07T09:30:00Z", false, "2026-03-07T10:00:00Z"}},
		},
		{
			name:    "rest date on a weekday",
			workday: "09:00-18:00",
			cal:     &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend, RestDates: []string{"2026-03-04"}},
			from:    "2026-03-03T00:00:00Z", to: "2026-03-06T00:00:00Z",
			intervals: []string{"2026-03-03T09:00:00Z/2026-03-03T18:00:00Z", "2026-03-05T09:00:00Z/2026-03-05T18:00:00Z"},
			at:        []atCase{{"2026-03-03T18:00:00Z", false, "2026-03-05T09:00:00Z"}},
		},
		{
			name:    "make-up work date on a weekend",
			workday: "09:00-18:00", nonWorkday: "10:00-12:00",
			cal:  &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend, MakeUpWorkDates: []string{"2026-03-07"}},
			from: "2026-03-07T00:00:00Z", to: "2026-03-09T00:00:00Z",
			intervals: []string{"2026-03-07T09:00:00Z/2026-03-07T18:00:00Z", "2026-03-08T10:00:00Z/2026-03-08T12:00:00Z"},
			at:        []atCase{{"2026-03-07T17:00:00Z", true, "2026-03-07T18:00:00Z"}},
		},
		{
			name: "calendar days are the zone's dates",
			// Tuesday 2026-03-03 is a rest date in Tokyo: from 15:00 UTC on Monday to 15:00 UTC on Tuesday.
			workday: "00:00-24:00",
			cal:     &aicc.ServiceCalendar{TimeZone: "Asia/Tokyo", RestDates: []string{"2026-03-03"}},
			from:    "2026-03-02T00:00:00Z", to: "2026-03-04T00:00:00Z",
			intervals: []string{
				"2026-03-02T09:00:00+09:00/2026-03-03T00:00:00+09:00",
				"2026-03-04T00:00:00+09:00/2026-03-04T09:00:00+09:00",
			},
			at: []atCase{{"2026-03-02T16:00:00Z", false, "2026-03-04T00:00:00+09:00"}},
		},
		{
			name: "spring forward in Berlin",
			// 02:00-03:00 does not exist on 2026-03-29: 01:00-04:00 is two real hours, 02:30-05:00 starts at
			// 03:00, and a segment wholly in the gap is no interval at all.
			workday: "01:00-04:00,05:00-06:00", cal: berlin,
			from: "2026-03-29T00:00:00+01:00", to: "2026-03-30T00:00:00+02:00",
			intervals: []string{
				"2026-03-29T01:00:00+01:00/2026-03-29T04:00:00+02:00",
				"2026-03-29T05:00:00+02:00/2026-03-29T06:00:00+02:00",
			},
			at: []atCase{{"2026-03-29T00:30:00Z", true, "2026-03-29T04:00:00+02:00"}},
		},
		{
			name:    "spring forward in Berlin: a start in the gap is the jump",
			workday: "02:30-05:00,02:00-02:15", cal: berlin,
			from: "2026-03-29T00:00:00+01:00", to: "2026-03-30T00:00:00+02:00",
			intervals: []string{"2026-03-29T03:00:00+02:00/2026-03-29T05:00:00+02:00"},
			at: []atCase{
				{"2026-03-29T00:59:59Z", false, "2026-03-29T03:00:00+02:00"},
				{"2026-03-29T01:00:00Z", true, "2026-03-29T05:00:00+02:00"},
			},
		},
		{
			name: "spring forward in New York: the gap maps forward too",
			// time.Date would make 02:30 01:30 EST here; the schedule starts at the jump, 03:00 EDT.
			workday: "02:30-04:00", cal: newYork,
			from: "2026-03-08T00:00:00-05:00", to: "2026-03-09T00:00:00-04:00",
			intervals: []string{"2026-03-08T03:00:00-04:00/2026-03-08T04:00:00-04:00"},
		},
		{
			name: "fall back in Berlin covers the real time",
			// 02:00-03:00 happens twice on 2026-10-25: 00:00-04:00 is five real hours; 02:30 is the first one.
			workday: "00:00-04:00", cal: berlin,
			from: "2026-10-25T00:00:00+02:00", to: "2026-10-26T00:00:00+01:00",
			intervals: []string{"2026-10-25T00:00:00+02:00/2026-10-25T04:00:00+01:00"},
			at: []atCase{
				{"2026-10-25T02:30:00+01:00", true, "2026-10-25T04:00:00+01:00"},
				{"2026-10-25T04:00:00+01:00", false, "2026-10-26T00:00:00+01:00"},
			},
		},
		{
			name:    "fall back in Berlin: a segment within the repeated hour",
			workday: "02:30-03:00", cal: berlin,
			from: "2026-10-25T00:00:00+02:00", to: "2026-10-26T00:00:00+01:00",
			intervals: []string{"2026-10-25T02:30:00+02:00/2026-10-25T03:00:00+01:00"}, // 90 real minutes
		},
		{
			name:    "fall back in New York",
			workday: "00:00-01:30,01:30-03:00", cal: newYork,
			from: "2026-11-01T00:00:00-04:00", to: "2026-11-02T00:00:00-05:00",
			intervals: []string{"2026-11-01T00:00:00-04:00/2026-11-01T03:00:00-05:00"}, // four real hours
			at: []atCase{
				{"2026-11-01T01:15:00-05:00", true, "2026-11-01T03:00:00-05:00"},
			},
		},
		{
			name: "empty segments: never working",
			cal:  &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend},
			from: "2026-03-02T00:00:00Z", to: "2026-03-09T00:00:00Z",
			intervals: []string{},
			at:        []atCase{{"2026-03-02T10:00:00Z", false, ""}},
		},
		{
			name:    "whole-day segment: always working on workdays",
			workday: "00:00-24:00",
			cal:     &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend},
			from:    "2026-03-01T12:00:00Z", to: "2026-03-10T12:00:00Z",
			intervals: []string{"2026-03-02T00:00:00Z/2026-03-07T00:00:00Z", "2026-03-09T00:00:00Z/2026-03-10T12:00:00Z"},
			at: []atCase{
				{"2026-03-02T10:00:00Z", true, "2026-03-07T00:00:00Z"},
				{"2026-03-07T10:00:00Z", false, "2026-03-09T00:00:00Z"},
			},
		},
		{
			name:    "whole day every day: always working",
			workday: "00:00-24:00", nonWorkday: "00:00-24:00",
			cal:  &aicc.ServiceCalendar{WeeklyNonWorkingDays: weekend, TimeZone: "Europe/Berlin"},
			from: "2026-03-28T00:00:00Z", to: "2026-03-30T00:00:00Z",
			intervals: []string{"2026-03-28T01:00:00+01:00/2026-03-30T02:00:00+02:00"},
			at:        []atCase{{"2026-03-02T10:00:00Z", true, ""}},
		},
		{
			name:    "a long holiday ends far away, within the horizon",
			workday: "09:00-18:00",
			cal: &aicc.ServiceCalendar{
				WeeklyNonWorkingDays: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, MakeUpWorkDates: []string{"2027-03-01"},
			},
			from: "2026-03-02T00:00:00Z", to: "2026-03-03T00:00:00Z",
			intervals: []string{},
			at: []atCase{
				{"2026-03-02T10:00:00Z", false, "2027-03-01T09:00:00Z"},
				{"2027-03-01T10:00:00Z", true, "2027-03-01T18:00:00Z"},
				{"2027-03-01T18:00:00Z", false, ""},
			},
		},
		{
			name:    "a holiday longer than the horizon has no end",
			workday: "09:00-18:00",
			cal: &aicc.ServiceCalendar{
				WeeklyNonWorkingDays: []time.Weekday{0, 1, 2, 3, 4, 5, 6}, MakeUpWorkDates: []string{"2027-04-06"},
			},
			from: "2026-03-02T00:00:00Z", to: "2026-03-03T00:00:00Z",
			intervals: []string{},
			at: []atCase{
				// 400 days after 2026-03-02T10:00Z is 2027-04-06T10:00Z: the start at 09:00 is within it ...
				{"2026-03-02T10:00:00Z", false, "2027-04-06T09:00:00Z"},
				// ... and a second earlier it is not: 09:00 is then one second past the horizon.
				{"2026-03-02T08:59:59Z", false, ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.workday, tt.nonWorkday, tt.cal)
			got, err := s.Intervals(mustTime(t, tt.from), mustTime(t, tt.to))
			require.NoError(t, err)
			require.Equal(t, tt.intervals, formatIntervals(got))
			for _, a := range tt.at {
				working, until := s.At(mustTime(t, a.at))
				require.Equal(t, a.working, working, "working at %s", a.at)
				if a.until == "" {
					require.True(t, until.IsZero(), "until at %s: %s", a.at, until)
					continue
				}
				require.Equal(t, a.until, until.Format(time.RFC3339), "until at %s", a.at)
			}
		})
	}
}

func TestWorkScheduleIntervalRange(t *testing.T) {
	s := mustSchedule(t, "09:00-18:00", "", nil)
	monday := mustTime(t, "2026-03-02T00:00:00Z")
	tests := []struct {
		name     string
		from, to time.Time
		want     string // the error of field "to"; "" means none
	}{
		{"empty", monday, monday, "must be after from"},
		{"backwards", monday, monday.Add(-time.Hour), "must be after from"},
		{"one second", monday, monday.Add(time.Second), ""},
		{"93 days", monday, monday.Add(aicc.MaxWorkTimeRange), ""},
		{"93 days and a second", monday, monday.Add(aicc.MaxWorkTimeRange + time.Second), "must be at most 93 days after from"},
		// 92 days and the hour of the fall-back.
		{"a quarter with a DST change", mustTime(t, "2026-10-01T00:00:00+02:00"), mustTime(t, "2027-01-01T00:00:00+01:00"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Intervals(tt.from, tt.to)
			require.Equal(t, aicc.ValidateWorkTimeRange(tt.from, tt.to), err)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, map[string]string{"to": tt.want}, fieldErrors(t, err))
		})
	}
}

func TestNewWorkScheduleRefusesBrokenInput(t *testing.T) {
	wt := aicc.WorkTime{
		Workday:    workSegments("09:00-12:00,11:00-13:00"),
		NonWorkday: workSegments("25:00-26:00"),
	}
	cal := &aicc.ServiceCalendar{WeeklyNonWorkingDays: []time.Weekday{7}, RestDates: []string{"2026-02-30"}}
	_, err := aicc.NewWorkSchedule(wt, cal, nil)
	require.Equal(t, map[string]string{
		"workday[1]":          "overlaps another time segment",
		"nonWorkday[0].start": "must be a time HH:MM from 00:00 to 24:00",
		"serviceCalendar.weeklyNonWorkingDays[0]": "must be a weekday from 0 (Sunday) to 6 (Saturday)",
		"serviceCalendar.restDates[0]":            "must be a date in YYYY-MM-DD",
	}, fieldErrors(t, err))

	s, err := aicc.NewWorkSchedule(aicc.WorkTime{}, nil, nil)
	require.NoError(t, err)
	require.Equal(t, time.UTC, s.Location())
	require.True(t, s.IsWorkday(mustTime(t, "2026-03-07T10:00:00Z")), "without a calendar every day is a workday")

	_, err = aicc.CalendarLocation(&aicc.ServiceCalendar{ID: "cal_x", TimeZone: "Mars/Olympus"})
	require.Error(t, err)
}

func TestMessageRoute(t *testing.T) {
	tests := []struct {
		robot      bool
		notice     string
		working    bool
		route      aicc.Route
		agentRoute aicc.Route
	}{
		{false, "", true, aicc.RouteQueue, aicc.RouteQueue},
		{false, "We are closed.", true, aicc.RouteQueue, aicc.RouteQueue},
		{false, "We are closed.", false, aicc.RouteNonWorkingNotice, aicc.RouteNonWorkingNotice},
		{false, "", false, aicc.RouteQueue, aicc.RouteQueue}, // no text: nothing to send
		{true, "We are closed.", true, aicc.RouteRobot, aicc.RouteQueue},
		{true, "We are closed.", false, aicc.RouteRobot, aicc.RouteNonWorkingNotice},
	}
	for _, tt := range tests {
		ch := aicc.DefaultChannel()
		ch.Robot.Robot.Enabled, ch.Basic.NonWorkingTimeNotice = tt.robot, tt.notice
		route, agentRoute := ch.MessageRoute(tt.working)
		require.Equal(t, tt.route, route, "%+v", tt)
		require.Equal(t, tt.agentRoute, agentRoute, "%+v", tt)
	}
}

// ruleZones are zones with every kind of transition: DST at 02:00 and 03:00 local, west and east of UTC, a
// 30-minute DST (Lord Howe), DST at midnight and a fall-back to the previous day (São Paulo 2018-2019), a
// negative DST (Dublin), Ramadan changes (Casablanca), a skipped day (Apia 2011-12-30), and a -03:30 zone.
var ruleZones = []struct {
	zone string
	year int
}{
	{"Europe/Berlin", 2026}, {"America/New_York", 2026}, {"Australia/Lord_Howe", 2026},
	{"America/Sao_Paulo", 2018}, {"America/Sao_Paulo", 2019}, {"Europe/Dublin", 2026},
	{"Africa/Casablanca", 2026}, {"Pacific/Apia", 2011}, {"America/St_Johns", 2026},
}

// TestWallTimeRule checks the rule that a wall time names the first instant at which the clock reads it or
// later, against a brute-force search over every minute, on every day around every transition of the zones
// above, for segment starts and ends every quarter of an hour.
func TestWallTimeRule(t *testing.T) {
	for _, z := range ruleZones {
		t.Run(fmt.Sprintf("%s/%d", z.zone, z.year), func(t *testing.T) {
			loc, err := time.LoadLocation(z.zone)
			require.NoError(t, err)
			cal := &aicc.ServiceCalendar{TimeZone: z.zone}
			days := transitionDays(t, loc, z.year)
			require.NotEmpty(t, days)
			for _, d := range days {
				first := bruteFirst(loc, d)
				midnight, next := first(d, 0), first(d.AddDate(0, 0, 1), 0)
				for w := 15; w < 24*60; w += 15 {
					clock := fmt.Sprintf("%02d:%02d", w/60, w%60)
					at := first(d, w)
					// The start rule: "w-24:00" every day, asked at the day's midnight.
					working, until := mustSchedule(t, clock+"-24:00", "", cal).At(midnight)
					switch {
					case !at.Before(next): // the day's segment is empty: the day was skipped
					case at.Equal(midnight): // the start is in a gap that swallowed midnight: one interval
						require.True(t, working, "%s %s", d.Format(time.DateOnly), clock)
					default:
						require.False(t, working, "%s %s", d.Format(time.DateOnly), clock)
						require.Equal(t, at.UTC(), until.UTC(), "start %s %s", d.Format(time.DateOnly), clock)
					}
					// The end rule: "00:00-w" every day, asked at the day's midnight.
					working, until = mustSchedule(t, "00:00-"+clock, "", cal).At(midnight)
					if at.After(midnight) && at.Before(next) {
						require.True(t, working, "%s %s", d.Format(time.DateOnly), clock)
						require.Equal(t, at.UTC(), until.UTC(), "end %s %s", d.Format(time.DateOnly), clock)
					}
				}
			}
		})
	}
}

// transitionDays returns the dates, as UTC midnights, on and around each offset change of loc in year.
func transitionDays(tb testing.TB, loc *time.Location, year int) []time.Time {
	tb.Helper()
	seen := map[time.Time]bool{}
	var days []time.Time
	p := time.Date(year, 1, 1, 0, 0, 0, 0, loc)
	for end := time.Date(year+1, 1, 1, 0, 0, 0, 0, loc); p.Before(end); {
		_, next := p.ZoneBounds()
		if next.IsZero() {
			break
		}
		for _, side := range []time.Time{next.Add(-time.Second).In(loc), next.In(loc)} {
			y, m, d := side.Date()
			for _, delta := range []int{-1, 0, 1} {
				day := time.Date(y, m, d+delta, 0, 0, 0, 0, time.UTC)
				if !seen[day] {
					seen[day] = true
					days = append(days, day)
				}
			}
		}
		p = next
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Before(days[j]) })
	return days
}

// bruteFirst returns a function answering the first instant, to the minute, at which loc's clock reads the
// date day and minutes past its midnight, or later, found by reading the clock every minute from two days
// before.
func bruteFirst(loc *time.Location, day time.Time) func(d time.Time, minutes int) time.Time {
	start := day.Add(-48 * time.Hour)
	var instants []time.Time
	var maxReading []time.Time // the latest reading up to each minute: the first one past a reading is monotone
	for u := start; u.Before(day.Add(96 * time.Hour)); u = u.Add(time.Minute) {
		l := u.In(loc)
		y, m, d := l.Date()
		h, mi, _ := l.Clock()
		r := time.Date(y, m, d, h, mi, 0, 0, time.UTC)
		if n := len(maxReading); n > 0 && maxReading[n-1].After(r) {
			r = maxReading[n-1]
		}
		instants, maxReading = append(instants, u), append(maxReading, r)
	}
	return func(d time.Time, minutes int) time.Time {
		want := d.Add(time.Duration(minutes) * time.Minute)
		i := sort.Search(len(maxReading), func(i int) bool { return !maxReading[i].Before(want) })
		return instants[i]
	}
}

var propertyZones = []string{
	"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Apia",
	"Europe/Dublin", "Africa/Casablanca", "Asia/Kolkata", "America/St_Johns",
}

// FuzzWorkSchedule checks, for a random schedule and instant, that At's until is after t, that the state holds
// until then and flips at until (unless until is zero, when it holds through the horizon), and that Intervals
// over the next week agree with At.
func FuzzWorkSchedule(f *testing.F) {
	seeds := rand.New(rand.NewPCG(14, 14))
	for range 200 {
		f.Add(seeds.Int64(), uint8(seeds.UintN(uint(len(propertyZones)))), seeds.Uint64())
	}
	f.Fuzz(func(t *testing.T, unix int64, zone uint8, cfg uint64) {
		const from, span = 946684800, 40 * 365 * 86400 // 2000 to 2040
		at := time.Unix(from+((unix%span)+span)%span, 0).UTC()
		loc, err := time.LoadLocation(propertyZones[int(zone)%len(propertyZones)])
		require.NoError(t, err)
		s := randomSchedule(t, rand.New(rand.NewPCG(cfg, 0)), loc, at)

		working, until := s.At(at)
		if until.IsZero() {
			for _, x := range []time.Time{at.Add(aicc.MaxWorkTimeHorizon / 3), at.Add(aicc.MaxWorkTimeHorizon)} {
				w, _ := s.At(x)
				require.Equal(t, working, w, "no end within the horizon, yet the state differs at %s", x)
			}
		} else {
			require.True(t, until.After(at), "until %s is not after %s", until, at)
			require.LessOrEqual(t, until.Sub(at), aicc.MaxWorkTimeHorizon)
			for _, x := range []time.Time{at.Add(until.Sub(at) / 2), until.Add(-time.Nanosecond)} {
				w, _ := s.At(x)
				require.Equal(t, working, w, "the state changed at %s, before until %s", x, until)
			}
			flipped, _ := s.At(until)
			require.NotEqual(t, working, flipped, "the state did not flip at until %s", until)
		}

		to := at.Add(7 * 24 * time.Hour)
		ivs, err := s.Intervals(at, to)
		require.NoError(t, err)
		if len(ivs) > 0 && ivs[0].Start.Equal(at) {
			require.True(t, working)
			if until.IsZero() || until.After(to) {
				requireInstant(t, to, ivs[0].End)
			} else {
				requireInstant(t, until, ivs[0].End)
			}
		} else {
			require.False(t, working)
			if len(ivs) > 0 {
				requireInstant(t, until, ivs[0].Start)
			}
		}
		for i, iv := range ivs {
			require.True(t, iv.Start.Before(iv.End), "empty interval %d", i)
			require.False(t, iv.Start.Before(at) || iv.End.After(to), "interval %d outside the range", i)
			w, end := s.At(iv.Start)
			require.True(t, w, "not working at the start of interval %d", i)
			if iv.End.Before(to) {
				requireInstant(t, iv.End, end)
				w, _ = s.At(iv.End)
				require.False(t, w, "working at the end of interval %d", i)
			}
			if i > 0 {
				require.True(t, ivs[i-1].End.Before(iv.Start), "intervals %d and %d touch or overlap", i-1, i)
			}
		}
	})
}

// randomSchedule is a valid schedule: up to four segments of each kind on a half-hour grid (touching ones
// and 24:00 ends included), some weekly days off, and rest and make-up dates around at.
func randomSchedule(tb testing.TB, r *rand.Rand, loc *time.Location, at time.Time) *aicc.WorkSchedule {
	tb.Helper()
	segments := func() []aicc.TimeSegment {
		var out []aicc.TimeSegment
		pos := 0
		for range r.IntN(aicc.MaxWorkTimeSegments + 1) {
			start := pos + 30*r.IntN(12)
			end := start + 30*(1+r.IntN(16))
			if end > 24*60 {
				if start >= 24*60 {
					break
				}
				end = 24 * 60
			}
			out = append(out, aicc.TimeSegment{Start: clockOf(start), End: clockOf(end)})
			pos = end
		}
		return out
	}
	cal := &aicc.ServiceCalendar{TimeZone: loc.String()}
	for d := range 7 {
		if r.IntN(4) == 0 {
			cal.WeeklyNonWorkingDays = append(cal.WeeklyNonWorkingDays, time.Weekday(d))
		}
	}
	for range r.IntN(8) {
		day := at.In(loc).AddDate(0, 0, r.IntN(40)-10).Format(time.DateOnly)
		if r.IntN(2) == 0 {
			cal.RestDates = append(cal.RestDates, day)
		} else {
			cal.MakeUpWorkDates = append(cal.MakeUpWorkDates, day)
		}
	}
	s, err := aicc.NewWorkSchedule(aicc.WorkTime{Workday: segments(), NonWorkday: segments()}, cal, loc)
	require.NoError(tb, err)
	return s
}

func clockOf(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }

// requireInstant asserts that got is the instant want, in whatever location.
func requireInstant(tb testing.TB, want, got time.Time) {
	tb.Helper()
	require.True(tb, want.Equal(got), "want %s, got %s", want.Format(time.RFC3339Nano), got.Format(time.RFC3339Nano))
}

func TestAddWorkingTime(t *testing.T) {
	weekend := &aicc.ServiceCalendar{ID: "cal_w", TimeZone: "UTC", WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday},
		RestDates: []string{"2026-05-04"}, MakeUpWorkDates: []string{"2026-05-09"}}
	berlin := &aicc.ServiceCalendar{ID: "cal_b", TimeZone: "Europe/Berlin"}
	tests := []struct {
		name     string
		workday  string
		cal      *aicc.ServiceCalendar
		from     string
		d        time.Duration
		deadline string // "" when there is no such instant
	}{
		{"within the interval", "09:00-17:00", nil, "2026-05-01T10:00:00Z", 30 * time.Minute, "2026-05-01T10:30:00Z"},
		{"to the interval's very end", "09:00-17:00", nil, "2026-05-01T16:30:00Z", 30 * time.Minute, "2026-05-01T17:00:00Z"},
		{"over the night", "09:00-17:00", nil, "2026-05-01T16:45:00Z", 30 * time.Minute, "2026-05-02T09:15:00Z"},
		{"from the night", "09:00-17:00", nil, "2026-05-01T20:00:00Z", 30 * time.Minute, "2026-05-02T09:30:00Z"},
		{"over the lunch break", "09:00-12:00,13:00-17:00", nil, "2026-05-01T11:50:00Z", 20 * time.Minute, "2026-05-01T13:10:00Z"},
		{"over the weekend, a rest date and to a make-up date", "09:00-17:00", weekend, "2026-05-01T16:50:00Z",
			20 * time.Minute, "2026-05-05T09:10:00Z"},
		{"across midnight", "00:00-01:00,22:00-24:00", nil, "2026-05-01T23:50:00Z", 30 * time.Minute, "2026-05-02T00:20:00Z"},
		{"always working", "00:00-24:00", nil, "2026-05-01T23:50:00Z", time.Hour, "2026-05-02T00:50:00Z"},
		{"nothing to add", "09:00-17:00", nil, "2026-05-01T20:00:00Z", 0, "2026-05-01T20:00:00Z"},
		{"never working", "", nil, "2026-05-01T20:00:00Z", time.Minute, ""},
		// Berlin springs forward on 2026-03-29: 02:00-04:00 lasts one real hour that day.
		{"over a DST gap", "02:00-04:00", berlin, "2026-03-29T01:30:00+02:00", 90 * time.Minute, "2026-03-30T02:30:00+02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSchedule(t, tt.workday, "", tt.cal)
			deadline, ok := s.AddWorkingTime(mustTime(t, tt.from), tt.d)
			if tt.deadline == "" {
				require.False(t, ok, "deadline %s", deadline)
				return
			}
			require.True(t, ok)
			requireInstant(t, mustTime(t, tt.deadline), deadline)
		})
	}
}

// The working time between from and AddWorkingTime's deadline, as Intervals lists it, is what was added, and
// the deadline is the first such instant: agents work just before it.
func TestAddWorkingTimeAgreesWithIntervals(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 1))
	for i := range 300 {
		loc, err := time.LoadLocation(propertyZones[r.IntN(len(propertyZones))])
		require.NoError(t, err)
		from := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
		s := randomSchedule(t, r, loc, from)
		d := time.Duration(1+r.IntN(600)) * time.Minute
		deadline, ok := s.AddWorkingTime(from, d)
		if !ok {
			continue
		}
		require.True(t, deadline.After(from), "case %d", i)
		if deadline.Sub(from) > aicc.MaxWorkTimeRange {
			continue
		}
		ivs, err := s.Intervals(from, deadline)
		require.NoError(t, err)
		var worked time.Duration
		for _, iv := range ivs {
			worked += iv.End.Sub(iv.Start)
		}
		require.Equal(t, d, worked, "case %d: working time from %s to %s", i, from, deadline)
		working, _ := s.At(deadline.Add(-time.Second))
		require.True(t, working, "case %d: not working just before the deadline %s", i, deadline)
	}
}

// A plan answers At and AddWorkingTime as its schedule does, everywhere it covers, and covers at least the
// span it was made for.
func TestWorkPlanAgreesWithTheSchedule(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2))
	for i := range 200 {
		loc, err := time.LoadLocation(propertyZones[r.IntN(len(propertyZones))])
		require.NoError(t, err)
		from := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
		s := randomSchedule(t, r, loc, from)
		to := from.Add(14 * 24 * time.Hour)
		p := s.Plan(from, to)
		require.True(t, p.Covers(from) && p.Covers(to.Add(-time.Nanosecond)), "case %d: plan %s to %s", i, p.From, p.Through)
		for range 20 {
			at := p.From.Add(time.Duration(r.Int64N(int64(p.Through.Sub(p.From)))))
			wantWorking, wantUntil := s.At(at)
			working, until := p.At(at)
			require.Equal(t, wantWorking, working, "case %d: working at %s", i, at)
			if wantUntil.IsZero() || wantUntil.After(p.Through) {
				require.True(t, until.IsZero() || !until.Before(p.Through), "case %d: until %s at %s", i, until, at)
			} else {
				requireInstant(t, wantUntil, until)
			}
			d := time.Duration(1+r.IntN(120)) * time.Minute
			want, wantOK := s.AddWorkingTime(at, d)
			got, ok := p.AddWorkingTime(at, d)
			if ok {
				require.True(t, wantOK, "case %d", i)
				requireInstant(t, want, got)
			} else if wantOK {
				require.False(t, want.Before(p.Through), "case %d: %s is within the plan, which missed it", i, want)
			}
		}
		for j, iv := range p.Working {
			require.Equal(t, time.UTC, iv.Start.Location())
			if j > 0 {
				require.True(t, p.Working[j-1].End.Before(iv.Start), "case %d: intervals %d and %d touch", i, j-1, j)
			}
		}
	}
}

func TestWorkPlanEdges(t *testing.T) {
	from := mustTime(t, "2026-05-01T12:00:00Z") // a Friday
	weekdays := &aicc.ServiceCalendar{ID: "cal_w", TimeZone: "UTC", WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday}}
	p := mustSchedule(t, "09:00-17:00", "", weekdays).Plan(from, from.Add(72*time.Hour))
	require.Equal(t, []string{
		"2026-05-01T12:00:00Z/2026-05-01T17:00:00Z", "2026-05-04T09:00:00Z/2026-05-04T17:00:00Z",
	}, formatIntervals(p.Working), "from the middle of an interval to the end of the first one past the span")
	requireInstant(t, mustTime(t, "2026-05-04T17:00:00Z"), p.Through)
	_, ok := p.AddWorkingTime(mustTime(t, "2026-05-04T16:00:00Z"), 2*time.Hour)
	require.False(t, ok, "past the plan")
	deadline, ok := p.AddWorkingTime(mustTime(t, "2026-05-01T16:45:00Z"), 30*time.Minute)
	require.True(t, ok)
	requireInstant(t, mustTime(t, "2026-05-04T09:15:00Z"), deadline)
	working, _ := p.At(from.Add(-time.Second))
	require.False(t, working, "before the plan")

	always := mustSchedule(t, "00:00-24:00", "", nil).Plan(from, from.Add(time.Hour))
	require.Equal(t, []aicc.Interval{{Start: from}}, always.Working)
	working, until := always.At(from.Add(time.Hour))
	require.True(t, working)
	require.True(t, until.IsZero())

	never := mustSchedule(t, "", "", nil).Plan(from, from.Add(time.Hour))
	require.Empty(t, never.Working)
	_, ok = never.AddWorkingTime(from, time.Minute)
	require.False(t, ok)
}
