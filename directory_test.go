package aicc_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

func TestSkillQueueValidate(t *testing.T) {
	valid := func() *aicc.SkillQueue {
		q := new(aicc.DefaultSkillQueue())
		q.Name, q.AccessCode = "Sales", "1001"
		return q
	}
	require.NoError(t, valid().Validate())
	require.Equal(t, 60, valid().MaxWaitSeconds)
	require.Equal(t, 100, valid().MaxQueued)
	require.Equal(t, 5, valid().WrapUpSeconds)

	tests := []struct {
		change func(*aicc.SkillQueue)
		field  string
	}{
		{func(q *aicc.SkillQueue) { q.Name = strings.Repeat("n", 101) }, "name"},
		{func(q *aicc.SkillQueue) { q.AccessCode = "" }, "accessCode"},
		{func(q *aicc.SkillQueue) { q.MaxWaitSeconds = 60_001 }, "maxWaitSeconds"},
		{func(q *aicc.SkillQueue) { q.MaxQueued = 10_001 }, "maxQueued"},
		{func(q *aicc.SkillQueue) { q.MaxQueued = -1 }, "maxQueued"},
		{func(q *aicc.SkillQueue) { q.WrapUpSeconds = 3_601 }, "wrapUpSeconds"},
		{func(q *aicc.SkillQueue) { q.WrapUpSeconds = -1 }, "wrapUpSeconds"},
	}
	for _, tt := range tests {
		q := valid()
		tt.change(q)
		require.Contains(t, fieldErrors(t, q.Validate()), tt.field)
	}
	q := valid()
	q.WrapUpSeconds = 0
	require.NoError(t, q.Validate(), "zero wrap-up is allowed")
}

func TestServiceCalendar(t *testing.T) {
	c := &aicc.ServiceCalendar{
		Name:                 "Lisbon",
		TimeZone:             "Europe/Lisbon",
		WeeklyNonWorkingDays: []time.Weekday{time.Saturday, time.Sunday},
		RestDates:            []string{"2026-12-25"},
		MakeUpWorkDates:      []string{"2026-12-27"},
	}
	require.NoError(t, c.Validate())

	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	require.True(t, c.IsNonWorkingDay(at("2026-12-25T10:00:00Z")), "rest date")
	require.False(t, c.IsNonWorkingDay(at("2026-12-27T10:00:00Z")), "make-up work date on a Sunday")
	require.True(t, c.IsNonWorkingDay(at("2026-12-26T10:00:00Z")), "Saturday")
	require.False(t, c.IsNonWorkingDay(at("2026-12-24T10:00:00Z")), "Thursday")
	// 23:30 UTC on Friday 2026-12-25 is already Saturday in Tokyo.
	tokyo := *c
	tokyo.TimeZone = "Asia/Tokyo"
	tokyo.RestDates = nil
	require.True(t, tokyo.IsNonWorkingDay(at("2026-12-25T23:30:00Z")))

	bad := &aicc.ServiceCalendar{
		Name:                 "x",
		TimeZone:             "Mars/Olympus",
		WeeklyNonWorkingDays: []time.Weekday{7, time.Monday, time.Monday},
		RestDates:            []string{"2026-02-30", "2026-03-01"},
		MakeUpWorkDates:      []string{"2026-03-01"},
	}
	fields := fieldErrors(t, bad.Validate())
	for _, f := range []string{"timeZone", "weeklyNonWorkingDays[0]", "weeklyNonWorkingDays[2]", "restDates[0]", "makeUpWorkDates[0]"} {
		require.Contains(t, fields, f)
	}
}
