package aicc

import (
	"fmt"
	"slices"
	"time"
)

// OU is an organisation unit; channels are assigned to one.
type OU struct {
	ID        string
	TenantID  string
	Name      string
	ParentID  string // empty for a top-level OU
	CreatedAt time.Time
}

// Validate checks the OU's own fields.
func (o *OU) Validate() error {
	fe := FieldErrors{}
	checkLen(fe, "name", o.Name, 1, 100)
	return fe.Err()
}

// Skill queue limits and defaults, from AICC's multimedia called-route configuration.
const (
	MaxQueueNameLen        = 100
	DefaultMaxWaitSeconds  = 60
	MaxMaxWaitSeconds      = 60_000
	DefaultMaxQueued       = 100
	MaxMaxQueued           = 10_000
	DefaultWrapUpSeconds   = 5
	MaxWrapUpSeconds       = 3_600
	MaxAccessCodeLen       = 64
	MaxCalendarDates       = 366
	MaxCalendarNameLen     = 100
	calendarDateLayout     = time.DateOnly
	maxNotificationTextLen = 1_000
)

// SkillQueue is a multimedia called route: where a channel's sessions queue for agents.
type SkillQueue struct {
	ID             string
	TenantID       string
	Name           string
	AccessCode     string
	OUID           string
	MaxWaitSeconds int
	MaxQueued      int
	WrapUpSeconds  int
	CreatedAt      time.Time
}

// DefaultSkillQueue returns the limits a new skill queue starts from; requests are decoded onto it.
func DefaultSkillQueue() SkillQueue {
	return SkillQueue{MaxWaitSeconds: DefaultMaxWaitSeconds, MaxQueued: DefaultMaxQueued, WrapUpSeconds: DefaultWrapUpSeconds}
}

// Validate checks the queue's own fields; that OUID names an OU of the tenant is the caller's check.
func (q *SkillQueue) Validate() error {
	fe := FieldErrors{}
	checkLen(fe, "name", q.Name, 1, MaxQueueNameLen)
	checkLen(fe, "accessCode", q.AccessCode, 1, MaxAccessCodeLen)
	checkRange(fe, "maxWaitSeconds", q.MaxWaitSeconds, 1, MaxMaxWaitSeconds)
	checkRange(fe, "maxQueued", q.MaxQueued, 1, MaxMaxQueued)
	checkRange(fe, "wrapUpSeconds", q.WrapUpSeconds, 0, MaxWrapUpSeconds)
	return fe.Err()
}

// ServiceCalendar says which days are not working days: weekly days off, rest dates (holidays) and make-up
// work dates (working days that fall on a weekly day off), in one IANA time zone.
type ServiceCalendar struct {
	ID                   string
	TenantID             string
	Name                 string
	TimeZone             string
	WeeklyNonWorkingDays []time.Weekday
	RestDates            []string // YYYY-MM-DD
	MakeUpWorkDates      []string // YYYY-MM-DD
	CreatedAt            time.Time
}

// Validate checks the calendar's fields: a loadable time zone, weekdays 0–6 without repeats, and dates in
// YYYY-MM-DD that appear at most once and never as both a rest date and a make-up work date.
func (c *ServiceCalendar) Validate() error {
	fe := FieldErrors{}
	checkLen(fe, "name", c.Name, 1, MaxCalendarNameLen)
	if c.TimeZone == "" {
		fe.Add("timeZone", "is required")
	} else if _, err := time.LoadLocation(c.TimeZone); err != nil {
		fe.Add("timeZone", "is not an IANA time zone")
	}
	// A list is checked item by item only within its limit, so that no request costs more than linear work.
	if len(c.WeeklyNonWorkingDays) > 7 {
		fe.Add("weeklyNonWorkingDays", "must have at most 7 weekdays")
	} else {
		seenDay := map[time.Weekday]bool{}
		for i, d := range c.WeeklyNonWorkingDays {
			field := fmt.Sprintf("weeklyNonWorkingDays[%d]", i)
			switch {
			case d < time.Sunday || d > time.Saturday:
				fe.Add(field, "must be a weekday from 0 (Sunday) to 6 (Saturday)")
			case seenDay[d]:
				fe.Add(field, "repeats a weekday")
			}
			seenDay[d] = true
		}
	}
	checkDates(fe, "restDates", c.RestDates)
	checkDates(fe, "makeUpWorkDates", c.MakeUpWorkDates)
	if len(c.RestDates) <= MaxCalendarDates && len(c.MakeUpWorkDates) <= MaxCalendarDates {
		rest := make(map[string]bool, len(c.RestDates))
		for _, d := range c.RestDates {
			rest[d] = true
		}
		for i, d := range c.MakeUpWorkDates {
			if rest[d] {
				fe.Add(fmt.Sprintf("makeUpWorkDates[%d]", i), "is also a rest date")
			}
		}
	}
	return fe.Err()
}

// IsNonWorkingDay reports whether the calendar day of t, in the calendar's time zone, is a day off.
func (c *ServiceCalendar) IsNonWorkingDay(t time.Time) bool {
	if loc, err := time.LoadLocation(c.TimeZone); err == nil {
		t = t.In(loc)
	}
	day := t.Format(calendarDateLayout)
	switch {
	case slices.Contains(c.MakeUpWorkDates, day):
		return false
	case slices.Contains(c.RestDates, day):
		return true
	default:
		return slices.Contains(c.WeeklyNonWorkingDays, t.Weekday())
	}
}

func checkDates(fe FieldErrors, field string, dates []string) {
	if len(dates) > MaxCalendarDates {
		fe.Add(field, "must have at most %d dates", MaxCalendarDates)
		return
	}
	seen := map[string]bool{}
	for i, d := range dates {
		f := fmt.Sprintf("%s[%d]", field, i)
		if _, err := time.Parse(calendarDateLayout, d); err != nil {
			fe.Add(f, "must be a date in YYYY-MM-DD")
		} else if seen[d] {
			fe.Add(f, "repeats a date")
		}
		seen[d] = true
	}
}
