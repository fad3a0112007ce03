package aicc_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

func validChannel() (*aicc.Channel, aicc.Refs) {
	ch := new(aicc.DefaultChannel())
	ch.Name, ch.AppID = "fb_main", "1234567890"
	ch.Basic.OUID, ch.Basic.SkillQueueID = "ou_1", "sq_1"
	refs := aicc.Refs{
		OUs:         map[string]*aicc.OU{"ou_1": {ID: "ou_1"}},
		SkillQueues: map[string]*aicc.SkillQueue{"sq_1": {ID: "sq_1", MaxWaitSeconds: 60}, "sq_2": {ID: "sq_2"}},
		Calendars:   map[string]*aicc.ServiceCalendar{"cal_1": {ID: "cal_1"}},
	}
	return ch, refs
}

// fieldErrors returns the field map of an EINVALID error, failing the test for any other result.
func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	var e *aicc.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, aicc.EINVALID, e.Code)
	return e.Fields
}

func TestChannelDefaults(t *testing.T) {
	ch, refs := validChannel()
	require.NoError(t, ch.Validate(refs))
	require.Equal(t, aicc.AlgorithmSHA256, ch.Algorithm)
	require.Equal(t, 20, ch.Basic.NoCustomerReply.TimeoutMinutes)
	require.Equal(t, aicc.SegmentList{{Start: "00:00", End: "24:00"}}, ch.Basic.WorkTime.Workday)
	require.Empty(t, ch.Warnings())

	ch.Algorithm = aicc.AlgorithmSHA1
	require.NoError(t, ch.Validate(refs))
	require.Len(t, ch.Warnings(), 1)
}

func TestChannelValidateRules(t *testing.T) {
	seg := func(pairs ...string) []aicc.TimeSegment {
		var s []aicc.TimeSegment
		for i := 0; i < len(pairs); i += 2 {
			s = append(s, aicc.TimeSegment{Start: pairs[i], End: pairs[i+1]})
		}
		return s
	}
	tests := []struct {
		name   string
		change func(*aicc.Channel)
		field  string // "" means valid
	}{
		{"name 64 chars", func(c *aicc.Channel) { c.Name = "_" + strings.Repeat("a", 63) }, ""},
		{"name 65 chars", func(c *aicc.Channel) { c.Name = strings.Repeat("a", 65) }, "name"},
		{"name starts with digit", func(c *aicc.Channel) { c.Name = "1fb" }, "name"},
		{"name with dash", func(c *aicc.Channel) { c.Name = "fb-main" }, "name"},
		{"name empty", func(c *aicc.Channel) { c.Name = "" }, "name"},
		{"app id not numeric", func(c *aicc.Channel) { c.AppID = "12ab" }, "appId"},
		{"algorithm md5", func(c *aicc.Channel) { c.Algorithm = "md5" }, "algorithm"},
		{"ou unknown", func(c *aicc.Channel) { c.Basic.OUID = "ou_x" }, "basic.ouId"},
		{"skill queue missing", func(c *aicc.Channel) { c.Basic.SkillQueueID = "" }, "basic.skillQueueId"},
		{"robot without keywords", func(c *aicc.Channel) {
			c.Robot.Robot = aicc.IntelligentRobot{Enabled: true, AccessCode: "r1", Name: "Ann", Avatar: 1, Gender: aicc.GenderFemale}
		}, "basic.transferKeywords"},
		{"robot with keywords", func(c *aicc.Channel) {
			c.Robot.Robot = aicc.IntelligentRobot{Enabled: true, AccessCode: "r1", Name: "Ann", Avatar: 1, Gender: aicc.GenderFemale}
			c.Basic.TransferKeywords = []string{"agent"}
		}, ""},
		{"repeated keyword", func(c *aicc.Channel) { c.Basic.TransferKeywords = []string{"agent", "agent"} }, "basic.transferKeywords[1]"},
		{"four segments", func(c *aicc.Channel) {
			c.Basic.WorkTime.Workday = seg("00:00", "06:00", "06:00", "12:00", "12:00", "18:00", "18:00", "24:00")
		}, ""},
		{"five segments", func(c *aicc.Channel) {
			c.Basic.WorkTime.Workday = seg("00:00", "01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00", "08:00", "09:00")
		}, "basic.workTime.workday"},
		{"hour 25", func(c *aicc.Channel) { c.Basic.WorkTime.Workday = seg("09:00", "25:00") }, "basic.workTime.workday[0].end"},
		{"past 24:00", func(c *aicc.Channel) { c.Basic.WorkTime.Workday = seg("09:00", "24:30") }, "basic.workTime.workday[0].end"},
		{"minute 60", func(c *aicc.Channel) { c.Basic.WorkTime.Workday = seg("09:60", "10:00") }, "basic.workTime.workday[0].start"},
		{"no colon", func(c *aicc.Channel) { c.Basic.WorkTime.Workday = seg("0900", "10:00") }, "basic.workTime.workday[0].start"},
		{"start after end", func(c *aicc.Channel) { c.Basic.WorkTime.Workday = seg("18:00", "09:00") }, "basic.workTime.workday[0]"},
		{"empty segment", func(c *aicc.Channel) { c.Basic.WorkTime.Workday = seg("09:00", "09:00") }, "basic.workTime.workday[0]"},
		{"overlap", func(c *aicc.Channel) {
			c.Basic.WorkTime.NonWorkday = seg("13:00", "18:00", "09:00", "13:30")
		}, "basic.workTime.nonWorkday[1]"},
		{"touching segments", func(c *aicc.Channel) { c.Basic.WorkTime.NonWorkday = seg("09:00", "12:00", "12:00", "18:00") }, ""},
		{"calendar unknown", func(c *aicc.Channel) { c.Basic.ServiceCalendarID = "cal_x" }, "basic.serviceCalendarId"},
		{"no-reply 0", func(c *aicc.Channel) { c.Basic.NoCustomerReply.TimeoutMinutes = 0 }, "basic.noCustomerReplyEnd.timeoutMinutes"},
		{"no-reply 61", func(c *aicc.Channel) { c.Basic.NoCustomerReply.TimeoutMinutes = 61 }, "basic.noCustomerReplyEnd.timeoutMinutes"},
		{"no-reply not above max wait", func(c *aicc.Channel) {
			c.Basic.NoCustomerReply = aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 1, EndMessage: "bye"}
		}, "basic.noCustomerReplyEnd.timeoutMinutes"},
		{"no-reply above max wait", func(c *aicc.Channel) {
			c.Basic.NoCustomerReply = aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 2, EndMessage: "bye"}
		}, ""},
		{"no-reply without end message", func(c *aicc.Channel) {
			c.Basic.NoCustomerReply = aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 20}
		}, "basic.noCustomerReplyEnd.endMessage"},
		{"work-time-only end without work time", func(c *aicc.Channel) {
			c.Basic.NoCustomerReply = aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 20, EndMessage: "bye", WorkTimeOnly: true}
			c.Basic.WorkTime = aicc.WorkTime{}
		}, "basic.noCustomerReplyEnd.workTimeOnly"},
		{"work-time-only end", func(c *aicc.Channel) {
			c.Basic.NoCustomerReply = aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 20, EndMessage: "bye", WorkTimeOnly: true}
			c.Basic.WorkTime = aicc.WorkTime{NonWorkday: seg("10:00", "12:00")}
		}, ""},
		{"last agent window", func(c *aicc.Channel) { c.Basic.LastAgent.WindowMinutes = 10_081 }, "basic.lastAgentMode.windowMinutes"},
		{"no-agent transfer without target", func(c *aicc.Channel) { c.Basic.NoAgentReply.Enabled = true }, "basic.noAgentReplyTransfer.targetSkillQueueId"},
		{"session transfer unknown target", func(c *aicc.Channel) {
			c.Basic.SessionTransfer = aicc.SessionTransfer{Enabled: true, TargetSkillQueueIDs: []string{"sq_2", "sq_x"}}
		}, "basic.sessionTransfer.targetSkillQueueIds[1]"},
		{"avatar 8", func(c *aicc.Channel) { c.Robot.Robot.Avatar = 8 }, "robot.intelligentRobot.avatar"},
		{"gender", func(c *aicc.Channel) { c.Robot.Robot.Gender = "robot" }, "robot.intelligentRobot.gender"},
		{"assistant without queue", func(c *aicc.Channel) {
			c.Robot.Assistant = aicc.RobotAssistant{Enabled: true, AccessCode: "a1"}
		}, "robot.robotAssistant.silentAgentSkillQueueId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, refs := validChannel()
			tt.change(ch)
			err := ch.Validate(refs)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			fields := fieldErrors(t, err)
			require.Contains(t, fields, tt.field, "got %v", fields)
		})
	}
}

func TestChannelValidateReportsEveryField(t *testing.T) {
	ch, refs := validChannel()
	ch.Name = "9"
	ch.AppID = "x"
	ch.Basic.OUID = ""
	ch.Basic.WorkTime.Workday = []aicc.TimeSegment{{Start: "10:00", End: "09:00"}}
	err := aicc.JoinInvalid(ch.Validate(refs), aicc.ValidateAppSecret(""))
	fields := fieldErrors(t, err)
	for _, f := range []string{"name", "appId", "basic.ouId", "basic.workTime.workday[0]", "appSecret"} {
		require.Contains(t, fields, f)
	}
}

func TestReferences(t *testing.T) {
	ch, _ := validChannel()
	ch.Basic.ServiceCalendarID = "cal_1"
	ch.Basic.SessionTransfer = aicc.SessionTransfer{Enabled: true, TargetSkillQueueIDs: []string{"sq_1", "sq_2"}}
	ch.Robot.Assistant = aicc.RobotAssistant{Enabled: true, SilentAgentSkillQueueID: "sq_3"}
	ous, queues, calendars := ch.References()
	require.Equal(t, []string{"ou_1"}, ous)
	require.Equal(t, []string{"sq_1", "sq_2", "sq_3"}, queues)
	require.Equal(t, []string{"cal_1"}, calendars)
}

func TestValidatePage(t *testing.T) {
	require.NoError(t, aicc.ValidatePage("1029384756", "EAAB-token"))
	fields := fieldErrors(t, aicc.ValidatePage("page1", "has space"))
	require.Contains(t, fields, "pageId")
	require.Contains(t, fields, "tokenSecret")
}

func TestJoinInvalidKeepsOtherErrors(t *testing.T) {
	conflict := aicc.Errorf(aicc.ECONFLICT, "taken")
	require.Same(t, conflict, aicc.JoinInvalid(aicc.ValidateAppSecret(""), conflict))
	require.NoError(t, aicc.JoinInvalid(nil, nil))
}

// An oversized list is refused with one error on the list, and its items are neither checked nor looked up:
// the cost of a request stays linear in its size, however long the list.
func TestOversizedListsAreRefusedWhole(t *testing.T) {
	ch := new(aicc.DefaultChannel())
	keywords := make([]string, 100_000)
	for i := range keywords {
		keywords[i] = "same"
	}
	targets := make([]string, 50_000)
	for i := range targets {
		targets[i] = "sq_missing"
	}
	ch.Basic.TransferKeywords = keywords
	ch.Basic.SessionTransfer = aicc.SessionTransfer{Enabled: true, TargetSkillQueueIDs: targets}
	_, queueIDs, _ := ch.References()
	if len(queueIDs) > 1 {
		t.Errorf("References lists %d queues of an oversized transfer list, want none of them", len(queueIDs))
	}
	var e *aicc.Error
	if !errors.As(ch.Validate(aicc.Refs{}), &e) {
		t.Fatal("an oversized channel validated")
	}
	for field := range e.Fields {
		if strings.Contains(field, "[") && (strings.HasPrefix(field, "basic.transferKeywords") ||
			strings.HasPrefix(field, "basic.sessionTransfer")) {
			t.Errorf("item %s of an oversized list was checked", field)
		}
	}
	if e.Fields["basic.transferKeywords"] == "" || e.Fields["basic.sessionTransfer.targetSkillQueueIds"] == "" {
		t.Errorf("fields = %v, want both lists refused", e.Fields)
	}

	cal := &aicc.ServiceCalendar{Name: "c", TimeZone: "UTC", WeeklyNonWorkingDays: make([]time.Weekday, 10_000)}
	if !errors.As(cal.Validate(), &e) || e.Fields["weeklyNonWorkingDays"] == "" || e.Fields["weeklyNonWorkingDays[1]"] != "" {
		t.Errorf("calendar fields = %v, want the weekday list refused whole", e)
	}
}
