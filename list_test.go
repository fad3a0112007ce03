package aicc_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

func TestWeekdayListDecodesWithinItsLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		json string
		want aicc.WeekdayList
	}{
		{"null", `null`, nil},
		{"empty", `[]`, aicc.WeekdayList{}},
		{"seven", `[0, 1, 2, 3, 4, 5, 6]`, aicc.WeekdayList{0, 1, 2, 3, 4, 5, 6}},
		{"repeats within the limit are decoded for Validate", `[6,6]`, aicc.WeekdayList{6, 6}},
		// Past the limit nothing is decoded, not even the items that would fail: eight zero weekdays, which
		// Validate refuses by their number.
		{"eight", `[0,1,2,3,4,5,6,0]`, make(aicc.WeekdayList, 8)},
		{"half a million", "[" + strings.Repeat("1,", 500_000) + "1]", make(aicc.WeekdayList, 8)},
		{"wrong items past the limit", `[0,1,2,3,4,5,6,"x",{"a":[1,2]}]`, make(aicc.WeekdayList, 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got struct {
				Days aicc.WeekdayList `json:"days"`
			}
			require.NoError(t, json.Unmarshal([]byte(`{"days":`+tc.json+`}`), &got))
			require.Equal(t, tc.want, got.Days)
		})
	}
}

func TestDateListCountsItemsNotTheirCommas(t *testing.T) {
	within := `["a,b", "c\",d", "[e,f]", "{g,h}", "\\", "i"]` // six items, many commas inside their strings
	var got aicc.DateList
	require.NoError(t, json.Unmarshal([]byte(within), &got))
	require.Equal(t, aicc.DateList{"a,b", `c",d`, "[e,f]", "{g,h}", `\`, "i"}, got)

	dates := make([]string, aicc.MaxCalendarDates+1)
	for i := range dates {
		dates[i] = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(time.DateOnly)
	}
	data, err := json.Marshal(dates[:aicc.MaxCalendarDates])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &got))
	require.Equal(t, aicc.DateList(dates[:aicc.MaxCalendarDates]), got, "the limit itself is decoded")
	data, err = json.Marshal(dates)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &got))
	require.Equal(t, make(aicc.DateList, aicc.MaxCalendarDates+1), got, "one more is not")
}

func TestListTypeErrorsAreEncodingJSONs(t *testing.T) {
	var got struct {
		Days aicc.WeekdayList `json:"weeklyNonWorkingDays"`
	}
	err := json.Unmarshal([]byte(`{"weeklyNonWorkingDays":[1,"x"]}`), &got)
	var typeErr *json.UnmarshalTypeError
	require.ErrorAs(t, err, &typeErr)
	require.Equal(t, "weeklyNonWorkingDays", typeErr.Field)
}

// TestOversizedCalendarListsRefusedWhole: a list past its limit is refused by its length, with no error about
// any of its items.
func TestOversizedCalendarListsRefusedWhole(t *testing.T) {
	var req struct {
		Days   aicc.WeekdayList `json:"weeklyNonWorkingDays"`
		Rest   aicc.DateList    `json:"restDates"`
		MakeUp aicc.DateList    `json:"makeUpWorkDates"`
	}
	body := `{"weeklyNonWorkingDays":[` + strings.Repeat("9,", 100) + `9],"restDates":[` +
		strings.Repeat(`"x",`, 400) + `"x"],"makeUpWorkDates":[` + strings.Repeat(`"x",`, 400) + `"x"]}`
	require.NoError(t, json.Unmarshal([]byte(body), &req))
	c := aicc.ServiceCalendar{Name: "Cal", TimeZone: "UTC", WeeklyNonWorkingDays: req.Days, RestDates: req.Rest,
		MakeUpWorkDates: req.MakeUp}
	var e *aicc.Error
	require.ErrorAs(t, c.Validate(), &e)
	require.Equal(t, map[string]string{
		"weeklyNonWorkingDays": "must have at most 7 weekdays",
		"restDates":            "must have at most 366 dates",
		"makeUpWorkDates":      "must have at most 366 dates",
	}, e.Fields)
}

// The channel's and the export's lists are decoded only within their limits as well: past it, into limit+1
// zero items (which Validate refuses by their number alone), even when the items past the limit could not be
// decoded at all.
func TestChannelAndExportListsDecodeWithinTheirLimits(t *testing.T) {
	var basic aicc.BasicConfig
	within := `{"transferKeywords":["agent","human"],"sessionTransfer":{"targetSkillQueueIds":["sq_1"]},` +
		`"workTime":{"workday":[{"start":"09:00","end":"12:00"}],"nonWorkday":null}}`
	require.NoError(t, json.Unmarshal([]byte(within), &basic))
	require.Equal(t, aicc.KeywordList{"agent", "human"}, basic.TransferKeywords)
	require.Equal(t, aicc.QueueIDList{"sq_1"}, basic.SessionTransfer.TargetSkillQueueIDs)
	require.Equal(t, aicc.SegmentList{{Start: "09:00", End: "12:00"}}, basic.WorkTime.Workday)
	require.Nil(t, basic.WorkTime.NonWorkday)

	over := func(n int, item string) string { return "[" + strings.Repeat(item+",", n) + `{"not":"an item"}]` }
	past := `{"transferKeywords":` + over(aicc.MaxTransferKeywords, `"k"`) +
		`,"sessionTransfer":{"targetSkillQueueIds":` + over(aicc.MaxTransferTargets, `"sq"`) +
		`},"workTime":{"workday":` + over(aicc.MaxWorkTimeSegments, `{"start":"09:00","end":"10:00"}`) +
		`,"nonWorkday":` + over(100_000, `7`) + `}}`
	require.NoError(t, json.Unmarshal([]byte(past), &basic))
	require.Equal(t, make(aicc.KeywordList, aicc.MaxTransferKeywords+1), basic.TransferKeywords)
	require.Equal(t, make(aicc.QueueIDList, aicc.MaxTransferTargets+1), basic.SessionTransfer.TargetSkillQueueIDs)
	require.Equal(t, make(aicc.SegmentList, aicc.MaxWorkTimeSegments+1), basic.WorkTime.Workday)
	require.Equal(t, make(aicc.SegmentList, aicc.MaxWorkTimeSegments+1), basic.WorkTime.NonWorkday)

	var ids aicc.ChannelIDList
	require.NoError(t, json.Unmarshal([]byte(over(aicc.MaxExportSelection, `"ch_1"`)), &ids))
	require.Len(t, ids, aicc.MaxExportSelection+1)
	require.NoError(t, json.Unmarshal([]byte(`["ch_1","ch_2"]`), &ids))
	require.Equal(t, aicc.ChannelIDList{"ch_1", "ch_2"}, ids)
}
