package export_test

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
)

// awkward is text that every format must carry unchanged: the CSV and list separators, quotes, a line break,
// the list escape, leading space, a formula, and text beyond ASCII.
const awkward = " Closed, \"now\"\nback at 08:00; see you\\soon =SUM(A1) — 营业时间外 ✓ 😀"

// sampleRecords are two channels: one with every setting on and awkward text everywhere text goes, one as
// bare as a record gets.
func sampleRecords() []aicc.ExportRecord {
	cet := time.FixedZone("CET", 3600)
	return []aicc.ExportRecord{
		{
			ChannelID: "ch_01", Name: "fb_main", AppID: "0123456789", Algorithm: aicc.AlgorithmSHA256,
			Status: aicc.StatusActive,
			Basic: aicc.BasicConfig{
				OUID: "ou_1", SkillQueueID: "sq_1",
				TransferKeywords: []string{"agent", "human; please", `back\slash`, "人工"},
				WorkTime: aicc.WorkTime{
					Workday:    []aicc.TimeSegment{{Start: "08:00", End: "12:00"}, {Start: "13:00", End: "18:00"}},
					NonWorkday: []aicc.TimeSegment{{Start: "10:00", End: "14:00"}},
				},
				ServiceCalendarID: "cal_1", NonWorkingTimeNotice: awkward,
				LastAgent:       aicc.LastAgentMode{Enabled: true, WindowMinutes: 1440},
				NoCustomerReply: aicc.NoCustomerReplyEnd{Enabled: true, TimeoutMinutes: 20, EndMessage: "Bye, \"friend\"\r\n", WorkTimeOnly: true},
				NoAgentReply: aicc.NoAgentReplyTransfer{
					Enabled: true, TimeoutSeconds: 60, TargetSkillQueueID: "sq_2", Notice: "\tTransferring…",
				},
				SessionTransfer: aicc.SessionTransfer{Enabled: true, TargetSkillQueueIDs: []string{"sq_2", "sq_3"}},
			},
			Robot: aicc.RobotConfig{
				Robot:     aicc.IntelligentRobot{Enabled: true, AccessCode: "1001", Name: "Ada 🤖", Avatar: 3, Gender: aicc.GenderFemale},
				Assistant: aicc.RobotAssistant{Enabled: true, AccessCode: "2002", SilentAgentSkillQueueID: "sq_4"},
			},
			Pages:     []aicc.ExportPage{{PageID: "1001", Name: `Shop, "Main"; 1`}, {PageID: "1002", Name: "店铺"}},
			CreatedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, cet),
			UpdatedAt: time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC),
		},
		{
			ChannelID: "ch_02", Name: "fb_bare", AppID: "42", Algorithm: aicc.AlgorithmSHA1, Status: aicc.StatusPending,
			Basic:     aicc.BasicConfig{NonWorkingTimeNotice: "=1+1"}, // text, never a formula
			CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		},
	}
}

// splitList is the inverse of the list format Row documents.
func splitList(cell string) []string {
	if cell == "" {
		return nil
	}
	var items []string
	var item strings.Builder
	for i := 0; i < len(cell); i++ {
		switch cell[i] {
		case '\\':
			i++
			item.WriteByte(cell[i])
		case ';':
			items = append(items, item.String())
			item.Reset()
			i++ // the separator's space
		default:
			item.WriteByte(cell[i])
		}
	}
	return append(items, item.String())
}

func TestRow(t *testing.T) {
	records := sampleRecords()
	cells := func(r aicc.ExportRecord) map[string]string {
		m := map[string]string{}
		for i, name := range export.Columns() {
			m[name] = export.Row(r)[i]
		}
		return m
	}
	got := cells(records[0])
	want := map[string]string{
		"channel_id": "ch_01", "name": "fb_main", "app_id": "0123456789", "algorithm": "sha256", "status": "active",
		"ou_id": "ou_1", "skill_queue_id": "sq_1",
		"transfer_keywords":                           `agent; human\; please; back\\slash; 人工`,
		"workday_segments":                            "08:00-12:00; 13:00-18:00",
		"non_workday_segments":                        "10:00-14:00",
		"service_calendar_id":                         "cal_1",
		"non_working_time_notice":                     awkward,
		"last_agent_enabled":                          "true",
		"last_agent_window_minutes":                   "1440",
		"no_customer_reply_enabled":                   "true",
		"no_customer_reply_timeout_minutes":           "20",
		"no_customer_reply_end_message":               "Bye, \"friend\"\r\n",
		"no_customer_reply_work_time_only":            "true",
		"no_agent_reply_enabled":                      "true",
		"no_agent_reply_timeout_seconds":              "60",
		"no_agent_reply_target_skill_queue_id":        "sq_2",
		"no_agent_reply_notice":                       "\tTransferring…",
		"session_transfer_enabled":                    "true",
		"session_transfer_target_skill_queue_ids":     "sq_2; sq_3",
		"robot_enabled":                               "true",
		"robot_access_code":                           "1001",
		"robot_name":                                  "Ada 🤖",
		"robot_avatar":                                "3",
		"robot_gender":                                "female",
		"robot_assistant_enabled":                     "true",
		"robot_assistant_access_code":                 "2002",
		"robot_assistant_silent_agent_skill_queue_id": "sq_4",
		"page_ids":                                    "1001; 1002",
		"page_names":                                  `Shop, "Main"\; 1; 店铺`,
		"created_at":                                  "2024-05-06T06:08:09Z",
		"updated_at":                                  "2024-06-07T08:09:10Z",
	}
	require.Equal(t, want, got)
	require.Equal(t, records[0].Basic.TransferKeywords, aicc.KeywordList(splitList(got["transfer_keywords"])))
	require.Equal(t, []string{`Shop, "Main"; 1`, "店铺"}, splitList(got["page_names"]))

	bare := cells(records[1])
	for _, name := range []string{"transfer_keywords", "workday_segments", "page_ids", "page_names", "robot_name"} {
		require.Empty(t, bare[name], name)
	}
	require.Equal(t, "false", bare["robot_enabled"])
	require.Equal(t, "0", bare["robot_avatar"])
	require.Empty(t, cells(aicc.ExportRecord{})["created_at"], "an unset time is empty")
}

func TestColumnsAreDistinctAndReadable(t *testing.T) {
	cols := export.Columns()
	require.Len(t, cols, 36) // a change of the columns is a new aicc.ExportSchemaVersion
	require.Len(t, export.Row(aicc.ExportRecord{}), len(cols))
	seen := map[string]bool{}
	for _, c := range cols {
		require.Regexp(t, `^[a-z][a-z0-9_]*$`, c)
		require.False(t, seen[c], "column %s repeats", c)
		seen[c] = true
	}
}

// leaf is a field of aicc.ExportRecord that holds a value rather than more fields, and how to set it to a
// value other than its zero in a record.
type leaf struct {
	path string
	set  func(record reflect.Value)
}

// leaves walks typ, the type of what at finds in a record, down to its leaves. A slice of structs is walked
// as its one element. A field of a kind this does not know fails the test, so that a new kind of field is
// looked at rather than skipped.
func leaves(t *testing.T, typ reflect.Type, path string, at func(reflect.Value) reflect.Value) []leaf {
	t.Helper()
	switch {
	case typ == reflect.TypeFor[time.Time]():
		return []leaf{{path, func(r reflect.Value) {
			at(r).Set(reflect.ValueOf(time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)))
		}}}
	case typ.Kind() == reflect.Struct:
		var out []leaf
		for i := range typ.NumField() {
			f := typ.Field(i)
			out = append(out, leaves(t, f.Type, path+"."+f.Name, func(r reflect.Value) reflect.Value {
				return at(r).Field(i)
			})...)
		}
		return out
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Struct:
		return leaves(t, typ.Elem(), path+"[0]", func(r reflect.Value) reflect.Value {
			s := at(r)
			if s.Len() == 0 {
				s.Set(reflect.MakeSlice(typ, 1, 1))
			}
			return s.Index(0)
		})
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.String:
		return []leaf{{path, func(r reflect.Value) {
			s := reflect.MakeSlice(typ, 1, 1)
			s.Index(0).SetString("x")
			at(r).Set(s)
		}}}
	case typ.Kind() == reflect.String:
		return []leaf{{path, func(r reflect.Value) { at(r).SetString("x") }}}
	case typ.Kind() == reflect.Int:
		return []leaf{{path, func(r reflect.Value) { at(r).SetInt(7) }}}
	case typ.Kind() == reflect.Bool:
		return []leaf{{path, func(r reflect.Value) { at(r).SetBool(true) }}}
	}
	t.Fatalf("%s is a %s: teach this test and the columns about it", path, typ)
	return nil
}

// TestColumnsCoverEveryField sets each field of ExportRecord (Basic and Robot Configuration included) alone
// and checks that some cell shows it, and that every column shows some field: a field added to the structs
// and not to the columns fails here.
func TestColumnsCoverEveryField(t *testing.T) {
	cols := export.Columns()
	base := export.Row(aicc.ExportRecord{})
	shown := make([]bool, len(cols))
	all := leaves(t, reflect.TypeFor[aicc.ExportRecord](), "ExportRecord", func(r reflect.Value) reflect.Value { return r })
	require.Greater(t, len(all), 30)
	for _, l := range all {
		var record aicc.ExportRecord
		l.set(reflect.ValueOf(&record).Elem())
		changed := false
		for i, cell := range export.Row(record) {
			if cell != base[i] {
				shown[i], changed = true, true
			}
		}
		if !changed {
			t.Errorf("%s is in no column", l.path)
		}
	}
	for i, ok := range shown {
		if !ok {
			t.Errorf("column %s shows no field", cols[i])
		}
	}
}

// secretWord matches a word of a name that would mean a credential.
var secretWord = regexp.MustCompile(`(?i)^(secret|secrets|token|tokens|password|passwd|key|keys|credential|credentials|proof)$`)

// words splits a Go field name at its capitals ("TransferKeywords" → Transfer, Keywords) and a column name at
// its underscores.
func words(name string) []string {
	return regexp.MustCompile(`[A-Z]+[a-z0-9]*|[a-z0-9]+`).FindAllString(name, -1)
}

// TestExportRecordHoldsNoSecret is the canary: no field anywhere in ExportRecord, and no column, is named like
// a credential or has a type the domain keeps credentials in, so no export can carry an app secret, a verify
// token or a Page token. The robots' AccessCode is not a credential: it is the AICC access code that names
// which robot serves the channel, a Robot Configuration setting the seed exports with the rest.
func TestExportRecordHoldsNoSecret(t *testing.T) {
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		require.NotEqual(t, reflect.TypeFor[aicc.SecretInfo](), typ, path)
		require.NotEqual(t, reflect.TypeFor[aicc.SealedSecret](), typ, path)
		switch typ.Kind() {
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				for _, w := range words(f.Name) {
					require.False(t, secretWord.MatchString(w), "%s.%s is named like a secret", path, f.Name)
				}
				walk(f.Type, path+"."+f.Name)
			}
		case reflect.Slice, reflect.Array, reflect.Pointer, reflect.Map:
			walk(typ.Elem(), path+"[]")
		}
	}
	walk(reflect.TypeFor[aicc.ExportRecord](), "ExportRecord")
	for _, c := range export.Columns() {
		require.False(t, slices.ContainsFunc(strings.Split(c, "_"), secretWord.MatchString), "column %s", c)
	}
}
