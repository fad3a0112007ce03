// Package export writes channel configuration exports: the rows of aicc.ExportRecord, the CSV, XLSX and JSONL
// files of at most aicc.MaxExportFileRecords rows, the manifest, the zip for download, and the blob storage
// they are kept in. It reads no database and knows no workflow.
//
// The same records always give the same bytes, in every format, so two exports of the same configuration
// diff cleanly.
package export

import (
	"strconv"
	"strings"
	"time"

	"github.com/aiccfb/aicc"
)

// column is one column of an exported file: its header and how a record gives its cell.
type column struct {
	name  string
	value func(r *aicc.ExportRecord) string
}

// columns are every field of an aicc.ExportRecord, flattened; their order is the schema of
// aicc.ExportSchemaVersion and changes only with it.
var columns = []column{
	{"channel_id", func(r *aicc.ExportRecord) string { return r.ChannelID }},
	{"name", func(r *aicc.ExportRecord) string { return r.Name }},
	{"app_id", func(r *aicc.ExportRecord) string { return r.AppID }},
	{"algorithm", func(r *aicc.ExportRecord) string { return string(r.Algorithm) }},
	{"status", func(r *aicc.ExportRecord) string { return string(r.Status) }},
	{"ou_id", func(r *aicc.ExportRecord) string { return r.Basic.OUID }},
	{"skill_queue_id", func(r *aicc.ExportRecord) string { return r.Basic.SkillQueueID }},
	{"transfer_keywords", func(r *aicc.ExportRecord) string { return list(r.Basic.TransferKeywords) }},
	{"workday_segments", func(r *aicc.ExportRecord) string { return segments(r.Basic.WorkTime.Workday) }},
	{"non_workday_segments", func(r *aicc.ExportRecord) string { return segments(r.Basic.WorkTime.NonWorkday) }},
	{"service_calendar_id", func(r *aicc.ExportRecord) string { return r.Basic.ServiceCalendarID }},
	{"non_working_time_notice", func(r *aicc.ExportRecord) string { return r.Basic.NonWorkingTimeNotice }},
	{"last_agent_enabled", func(r *aicc.ExportRecord) string { return strconv.FormatBool(r.Basic.LastAgent.Enabled) }},
	{"last_agent_window_minutes", func(r *aicc.ExportRecord) string { return strconv.Itoa(r.Basic.LastAgent.WindowMinutes) }},
	{"no_customer_reply_enabled", func(r *aicc.ExportRecord) string {
		return strconv.FormatBool(r.Basic.NoCustomerReply.Enabled)
	}},
	{"no_customer_reply_timeout_minutes", func(r *aicc.ExportRecord) string {
		return strconv.Itoa(r.Basic.NoCustomerReply.TimeoutMinutes)
	}},
	{"no_customer_reply_end_message", func(r *aicc.ExportRecord) string { return r.Basic.NoCustomerReply.EndMessage }},
	{"no_customer_reply_work_time_only", func(r *aicc.ExportRecord) string {
		return strconv.FormatBool(r.Basic.NoCustomerReply.WorkTimeOnly)
	}},
	{"no_agent_reply_enabled", func(r *aicc.ExportRecord) string { return strconv.FormatBool(r.Basic.NoAgentReply.Enabled) }},
	{"no_agent_reply_timeout_seconds", func(r *aicc.ExportRecord) string {
		return strconv.Itoa(r.Basic.NoAgentReply.TimeoutSeconds)
	}},
	{"no_agent_reply_target_skill_queue_id", func(r *aicc.ExportRecord) string {
		return r.Basic.NoAgentReply.TargetSkillQueueID
	}},
	{"no_agent_reply_notice", func(r *aicc.ExportRecord) string { return r.Basic.NoAgentReply.Notice }},
	{"session_transfer_enabled", func(r *aicc.ExportRecord) string {
		return strconv.FormatBool(r.Basic.SessionTransfer.Enabled)
	}},
	{"session_transfer_target_skill_queue_ids", func(r *aicc.ExportRecord) string {
		return list(r.Basic.SessionTransfer.TargetSkillQueueIDs)
	}},
	{"robot_enabled", func(r *aicc.ExportRecord) string { return strconv.FormatBool(r.Robot.Robot.Enabled) }},
	{"robot_access_code", func(r *aicc.ExportRecord) string { return r.Robot.Robot.AccessCode }},
	{"robot_name", func(r *aicc.ExportRecord) string { return r.Robot.Robot.Name }},
	{"robot_avatar", func(r *aicc.ExportRecord) string { return strconv.Itoa(r.Robot.Robot.Avatar) }},
	{"robot_gender", func(r *aicc.ExportRecord) string { return string(r.Robot.Robot.Gender) }},
	{"robot_assistant_enabled", func(r *aicc.ExportRecord) string { return strconv.FormatBool(r.Robot.Assistant.Enabled) }},
	{"robot_assistant_access_code", func(r *aicc.ExportRecord) string { return r.Robot.Assistant.AccessCode }},
	{"robot_assistant_silent_agent_skill_queue_id", func(r *aicc.ExportRecord) string {
		return r.Robot.Assistant.SilentAgentSkillQueueID
	}},
	{"page_ids", func(r *aicc.ExportRecord) string {
		return pages(r.Pages, func(p aicc.ExportPage) string { return p.PageID })
	}},
	{"page_names", func(r *aicc.ExportRecord) string {
		return pages(r.Pages, func(p aicc.ExportPage) string { return p.Name })
	}},
	{"created_at", func(r *aicc.ExportRecord) string { return timestamp(r.CreatedAt) }},
	{"updated_at", func(r *aicc.ExportRecord) string { return timestamp(r.UpdatedAt) }},
}

// Columns returns the header row of every exported file.
func Columns() []string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return names
}

// Row returns the cells of r, one per column, as text: booleans "true"/"false", numbers in base 10, times
// RFC 3339 in UTC to the second ("" when unset), time segments "08:00-12:00", and lists as their items joined
// with "; " in their order. An item's "\" and ";" are escaped as "\\" and "\;", so a list splits back exactly
// at each unescaped ";" followed by its space. An empty list is "" (so is a list of one empty item, which no
// valid configuration holds). The Pages give two lists of the same
// length, page_ids and page_names.
func Row(r aicc.ExportRecord) []string {
	row := make([]string, len(columns))
	for i, c := range columns {
		row[i] = c.value(&r)
	}
	return row
}

// listSeparator joins the items of a list cell; listEscaper escapes what would make the join ambiguous.
const listSeparator = "; "

var listEscaper = strings.NewReplacer(`\`, `\\`, `;`, `\;`)

func list(items []string) string {
	var b strings.Builder
	for i, item := range items {
		if i > 0 {
			b.WriteString(listSeparator)
		}
		listEscaper.WriteString(&b, item)
	}
	return b.String()
}

func segments(segs []aicc.TimeSegment) string {
	items := make([]string, len(segs))
	for i, s := range segs {
		items[i] = s.Start + "-" + s.End
	}
	return list(items)
}

func pages(ps []aicc.ExportPage, field func(aicc.ExportPage) string) string {
	items := make([]string, len(ps))
	for i, p := range ps {
		items[i] = field(p)
	}
	return list(items)
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
