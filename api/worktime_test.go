package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aiccfb/aicc"
)

// workTimeIntervals is the answer to GET …/work-time?from=&to=.
type workTimeIntervals struct {
	TimeZone  string `json:"timeZone"`
	From      string `json:"from"`
	To        string `json:"to"`
	Intervals []struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"intervals"`
}

// spans writes the intervals as "start/end", as the server wrote them.
func (w workTimeIntervals) spans() []string {
	out := []string{}
	for _, iv := range w.Intervals {
		out = append(out, iv.Start+"/"+iv.End)
	}
	return out
}

// workTimeAt is the answer to GET …/work-time?at=.
type workTimeAt struct {
	TimeZone   string  `json:"timeZone"`
	At         string  `json:"at"`
	Workday    bool    `json:"workday"`
	Working    bool    `json:"working"`
	Until      *string `json:"until"`
	Route      string  `json:"route"`
	AgentRoute string  `json:"agentRoute"`
}

// workTimePath is the work-time route of the channel with the query.
func workTimePath(channelID string, query url.Values) string {
	return "/v1/channels/" + channelID + "/work-time?" + query.Encode()
}

// getWorkTimeAt asks the channel's state at at.
func (h *harness) getWorkTimeAt(token, channelID, at string, draft url.Values) workTimeAt {
	h.t.Helper()
	q := url.Values{"at": {at}}
	for k, v := range draft {
		q[k] = v
	}
	r := h.get(workTimePath(channelID, q), token)
	requireStatus(h.t, r, http.StatusOK)
	var got workTimeAt
	r.decode(h.t, &got)
	return got
}

// getWorkTimeIntervals asks the channel's working intervals from from to to.
func (h *harness) getWorkTimeIntervals(token, channelID, from, to string, draft url.Values) workTimeIntervals {
	h.t.Helper()
	q := url.Values{"from": {from}, "to": {to}}
	for k, v := range draft {
		q[k] = v
	}
	r := h.get(workTimePath(channelID, q), token)
	requireStatus(h.t, r, http.StatusOK)
	var got workTimeIntervals
	r.decode(h.t, &got)
	return got
}

func strPtr(s string) *string { return &s }

// berlinChannel creates a calendar in Europe/Berlin (weekends off, Wednesday 2026-03-04 a rest date, Saturday
// 2026-03-07 a make-up work date) and a channel with two workday segments, one non-workday segment and a
// non-working-time notification on it; change alters the channel's body first.
func (h *harness) berlinChannel(tn tenant, name string, change func(body map[string]any)) (channelID, calendarID string) {
	h.t.Helper()
	r := h.post("/v1/service-calendars", tn.Admin, map[string]any{
		"name": "Berlin " + name, "timeZone": "Europe/Berlin", "weeklyNonWorkingDays": []int{0, 6},
		"restDates": []string{"2026-03-04"}, "makeUpWorkDates": []string{"2026-03-07"},
	})
	requireStatus(h.t, r, http.StatusCreated)
	calendarID = idOf(h.t, r)
	body := channelBody(tn, name)
	set(body, "basic.workTime", map[string]any{
		"workday":    []any{seg("09:00", "12:00"), seg("13:00", "18:00")},
		"nonWorkday": []any{seg("10:00", "14:00")},
	})
	set(body, "basic.serviceCalendarId", calendarID)
	set(body, "basic.nonWorkingTimeNotice", "Our agents are resting; we answer from 09:00.")
	if change != nil {
		change(body)
	}
	return h.createChannel(tn, body).Channel.ID, calendarID
}

func TestWorkTimeIntervals(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	channelID, _ := h.berlinChannel(tn, "fb_berlin", nil)

	got := h.getWorkTimeIntervals(tn.Viewer, channelID, "2026-03-02T00:00:00+01:00", "2026-03-09T00:00:00+01:00", nil)
	assert.Equal(t, "Europe/Berlin", got.TimeZone)
	assert.Equal(t, "2026-03-02T00:00:00+01:00", got.From)
	assert.Equal(t, []string{
		"2026-03-02T09:00:00+01:00/2026-03-02T12:00:00+01:00", "2026-03-02T13:00:00+01:00/2026-03-02T18:00:00+01:00",
		"2026-03-03T09:00:00+01:00/2026-03-03T12:00:00+01:00", "2026-03-03T13:00:00+01:00/2026-03-03T18:00:00+01:00",
		"2026-03-04T10:00:00+01:00/2026-03-04T14:00:00+01:00", // the rest date: non-workday segments
		"2026-03-05T09:00:00+01:00/2026-03-05T12:00:00+01:00", "2026-03-05T13:00:00+01:00/2026-03-05T18:00:00+01:00",
		"2026-03-06T09:00:00+01:00/2026-03-06T12:00:00+01:00", "2026-03-06T13:00:00+01:00/2026-03-06T18:00:00+01:00",
		"2026-03-07T09:00:00+01:00/2026-03-07T12:00:00+01:00", "2026-03-07T13:00:00+01:00/2026-03-07T18:00:00+01:00", // make-up
		"2026-03-08T10:00:00+01:00/2026-03-08T14:00:00+01:00", // Sunday
	}, got.spans())

	// Over the spring-forward, in UTC: the answer is still in the channel's zone, and 01:00-04:00 is two hours.
	got = h.getWorkTimeIntervals(tn.Admin, channelID, "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", url.Values{
		"workday": {"00:00-24:00"}, "nonWorkday": {"01:00-04:00"},
	})
	assert.Equal(t, []string{"2026-03-29T01:00:00+01:00/2026-03-29T04:00:00+02:00"}, got.spans())
}

func TestWorkTimeAt(t *testing.T) {
	h := newHarness(t)
	tn := h.newTenant("A")
	berlin, _ := h.berlinChannel(tn, "fb_berlin", nil)
	robot, _ := h.berlinChannel(tn, "fb_robot", func(body map[string]any) {
		set(body, "robot.intelligentRobot", map[string]any{"enabled": true, "accessCode": "r1", "name": "Robbie"})
		set(body, "basic.transferKeywords", []string{"agent"})
	})
	silent, _ := h.berlinChannel(tn, "fb_silent", func(body map[string]any) {
		set(body, "basic.nonWorkingTimeNotice", deleted)
	})
	// Without a calendar: UTC, every day a workday; by default the whole day.
	always := h.createChannel(tn, channelBody(tn, "fb_always")).Channel.ID

	tests := []struct {
		name      string
		channelID string
		at        string
		want      workTimeAt
	}{
		{"working", berlin, "2026-03-02T08:30:00Z", workTimeAt{
			At: "2026-03-02T09:30:00+01:00", Workday: true, Working: true, Until: strPtr("2026-03-02T12:00:00+01:00"),
			Route: "queue", AgentRoute: "queue",
		}},
		{"after work: the notification", berlin, "2026-03-02T19:00:00Z", workTimeAt{
			At: "2026-03-02T20:00:00+01:00", Workday: true, Until: strPtr("2026-03-03T09:00:00+01:00"),
			Route: "non_working_notice", AgentRoute: "non_working_notice",
		}},
		{"the rest date's segment", berlin, "2026-03-04T11:00:00+01:00", workTimeAt{
			At: "2026-03-04T11:00:00+01:00", Working: true, Until: strPtr("2026-03-04T14:00:00+01:00"),
			Route: "queue", AgentRoute: "queue",
		}},
		{"Sunday evening", berlin, "2026-03-08T15:00:00+01:00", workTimeAt{
			At: "2026-03-08T15:00:00+01:00", Until: strPtr("2026-03-09T09:00:00+01:00"),
			Route: "non_working_notice", AgentRoute: "non_working_notice",
		}},
		{"the robot at work", robot, "2026-03-02T08:30:00Z", workTimeAt{
			At: "2026-03-02T09:30:00+01:00", Workday: true, Working: true, Until: strPtr("2026-03-02T12:00:00+01:00"),
			Route: "robot", AgentRoute: "queue",
		}},
		{"the robot after work", robot, "2026-03-02T19:00:00Z", workTimeAt{
			At: "2026-03-02T20:00:00+01:00", Workday: true, Until: strPtr("2026-03-03T09:00:00+01:00"),
			Route: "robot", AgentRoute: "non_working_notice",
		}},
		{"no notification text", silent, "2026-03-02T19:00:00Z", workTimeAt{
			At: "2026-03-02T20:00:00+01:00", Workday: true, Until: strPtr("2026-03-03T09:00:00+01:00"),
			Route: "queue", AgentRoute: "queue",
		}},
		{"always working: no until", always, "2026-03-07T03:00:00+09:00", workTimeAt{
			At: "2026-03-06T18:00:00Z", Workday: true, Working: true, Route: "queue", AgentRoute: "queue",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			got := h.getWorkTimeAt(tn.Viewer, tt.channelID, tt.at, nil)
			tt.want.TimeZone = "Europe/Berlin"
			if tt.channelID == always {
				tt.want.TimeZone = "UTC"
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestWorkTimeDraft previews a work time and a calendar that are not saved: they replace the channel's for the
// answer only.
func TestWorkTimeDraft(t *testing.T) {
	h := newHarness(t)
	tn, other := h.newTenant("A"), h.newTenant("B")
	channelID, calendarID := h.berlinChannel(tn, "fb_berlin", nil)
	_, otherCalendar := h.berlinChannel(other, "fb_other", nil)
	before := h.get("/v1/channels/"+channelID, tn.Admin).Body

	// A draft without a calendar: UTC, Saturday a workday like any other.
	got := h.getWorkTimeIntervals(tn.Admin, channelID, "2026-03-07T00:00:00Z", "2026-03-08T00:00:00Z", url.Values{
		"workday": {"08:00-10:00,22:00-24:00"}, "serviceCalendarId": {""},
	})
	assert.Equal(t, "UTC", got.TimeZone)
	assert.Equal(t, []string{"2026-03-07T08:00:00Z/2026-03-07T10:00:00Z", "2026-03-07T22:00:00Z/2026-03-08T00:00:00Z"}, got.spans())

	// No non-workday segments: the Sunday is closed; the channel's calendar is kept.
	at := h.getWorkTimeAt(tn.Admin, channelID, "2026-03-08T11:00:00+01:00", url.Values{"nonWorkday": {""}})
	assert.False(t, at.Working)
	assert.Equal(t, strPtr("2026-03-09T09:00:00+01:00"), at.Until)

	// The channel's own calendar, named explicitly, is the same answer.
	at = h.getWorkTimeAt(tn.Admin, channelID, "2026-03-08T11:00:00+01:00", url.Values{"serviceCalendarId": {calendarID}})
	assert.True(t, at.Working)

	tests := []struct {
		name  string
		query url.Values
		field string
	}{
		{"overlapping segments", url.Values{"workday": {"09:00-12:00,11:00-13:00"}}, "workday[1]"},
		{"a bad clock", url.Values{"nonWorkday": {"9:00-12:00"}}, "nonWorkday[0].start"},
		{"no dash", url.Values{"workday": {"09:00"}}, "workday[0]"},
		{"five segments", url.Values{"workday": {"01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00,09:00-10:00"}}, "workday"},
		{"another tenant's calendar", url.Values{"serviceCalendarId": {otherCalendar}}, "serviceCalendarId"},
		{"an unknown calendar", url.Values{"serviceCalendarId": {"cal_unknown"}}, "serviceCalendarId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			tt.query.Set("at", "2026-03-02T10:00:00Z")
			e := requireError(t, h.get(workTimePath(channelID, tt.query), tn.Admin), http.StatusBadRequest, aicc.EINVALID)
			assert.Contains(t, e.Fields, tt.field)
		})
	}
	assert.JSONEq(t, string(before), string(h.get("/v1/channels/"+channelID, tn.Admin).Body), "a preview changes nothing")
}

func TestWorkTimeQueryRules(t *testing.T) {
	h := newHarness(t)
	tn, other := h.newTenant("A"), h.newTenant("B")
	channelID, _ := h.berlinChannel(tn, "fb_berlin", nil)
	tests := []struct {
		name   string
		query  url.Values
		fields []string
	}{
		{"nothing", url.Values{}, []string{"at"}},
		{"at not a time", url.Values{"at": {"tomorrow"}}, []string{"at"}},
		{"at and a range", url.Values{"at": {"2026-03-02T10:00:00Z"}, "from": {"2026-03-02T10:00:00Z"}}, []string{"at"}},
		{"from alone", url.Values{"from": {"2026-03-02T10:00:00Z"}}, []string{"to"}},
		{"to alone", url.Values{"to": {"2026-03-02T10:00:00Z"}}, []string{"from"}},
		{"neither a time", url.Values{"from": {"2026-03-02"}, "to": {"2026-03-03 10:00"}}, []string{"from", "to"}},
		{"backwards", url.Values{"from": {"2026-03-02T10:00:00Z"}, "to": {"2026-03-02T09:00:00Z"}}, []string{"to"}},
		{"empty", url.Values{"from": {"2026-03-02T10:00:00Z"}, "to": {"2026-03-02T10:00:00Z"}}, []string{"to"}},
		{"94 days", url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2026-06-03T00:00:00Z"}}, []string{"to"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.on(t)
			e := requireError(t, h.get(workTimePath(channelID, tt.query), tn.Admin), http.StatusBadRequest, aicc.EINVALID)
			for _, f := range tt.fields {
				assert.Contains(t, e.Fields, f)
			}
			assert.Len(t, e.Fields, len(tt.fields), "%v", e.Fields)
		})
	}

	t.Run("93 days is the longest range", func(t *testing.T) {
		h := h.on(t)
		got := h.getWorkTimeIntervals(tn.Admin, channelID, "2026-03-01T00:00:00Z", "2026-06-02T00:00:00Z", nil)
		// 66 workdays (the make-up Saturday in, the rest date out) with two segments, 27 days off with one.
		assert.Len(t, got.Intervals, 66*2+27)
	})
	t.Run("another tenant's channel is not found", func(t *testing.T) {
		h := h.on(t)
		query := url.Values{"at": {"2026-03-02T10:00:00Z"}}
		requireError(t, h.get(workTimePath(channelID, query), other.Admin), http.StatusNotFound, aicc.ENOTFOUND)
		requireError(t, h.get(workTimePath("ch_unknown", query), tn.Admin), http.StatusNotFound, aicc.ENOTFOUND)
	})
	t.Run("the range is checked before the channel is looked up", func(t *testing.T) {
		h := h.on(t)
		query := url.Values{"from": {"2026-03-01T00:00:00Z"}, "to": {"2027-03-01T00:00:00Z"}}
		requireError(t, h.get(workTimePath("ch_unknown", query), tn.Admin), http.StatusBadRequest, aicc.EINVALID)
	})
	t.Run("a sysadmin has no tenant", func(t *testing.T) {
		h := h.on(t)
		query := url.Values{"at": {"2026-03-02T10:00:00Z"}}
		requireError(t, h.get(workTimePath(channelID, query), h.token("", aicc.RoleSysadmin)), http.StatusForbidden, aicc.EFORBIDDEN)
	})
}
