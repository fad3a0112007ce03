package aicc

import (
	"bytes"
	"encoding/json"
	"time"
)

// A list a request sends is checked against its limit before any work per item, and decoding an item is such
// work: a 1 MiB body holds half a million one-digit weekdays, which encoding/json would convert and store one
// by one only for Validate to refuse the list by its length (51 ms of CPU for POST /v1/service-calendars; see
// docs/benchmarks.md, "Validation"). The list types below decode an array only within their limit.

// maxWeekdays bounds WeeklyNonWorkingDays: a week has seven days.
const maxWeekdays = 7

// WeekdayList is a calendar's weekly non-working days as a request sends them: a JSON array of more than seven
// items is not decoded (see decodeList).
type WeekdayList []time.Weekday

// UnmarshalJSON decodes the array when it has at most seven items.
func (l *WeekdayList) UnmarshalJSON(data []byte) error {
	return decodeList(data, maxWeekdays, (*[]time.Weekday)(l))
}

// DateList is a calendar's rest or make-up work dates as a request sends them: a JSON array of more than
// MaxCalendarDates items is not decoded (see decodeList).
type DateList []string

// UnmarshalJSON decodes the array when it has at most MaxCalendarDates items.
func (l *DateList) UnmarshalJSON(data []byte) error {
	return decodeList(data, MaxCalendarDates, (*[]string)(l))
}

// KeywordList is a channel's transfer keywords as a request sends them: a JSON array of more than
// MaxTransferKeywords items is not decoded (see decodeList).
type KeywordList []string

// UnmarshalJSON decodes the array when it has at most MaxTransferKeywords items.
func (l *KeywordList) UnmarshalJSON(data []byte) error {
	return decodeList(data, MaxTransferKeywords, (*[]string)(l))
}

// QueueIDList is a channel's session-transfer target queues as a request sends them: a JSON array of more than
// MaxTransferTargets items is not decoded (see decodeList).
type QueueIDList []string

// UnmarshalJSON decodes the array when it has at most MaxTransferTargets items.
func (l *QueueIDList) UnmarshalJSON(data []byte) error {
	return decodeList(data, MaxTransferTargets, (*[]string)(l))
}

// SegmentList is the working-time segments of one kind of day as a request sends them: a JSON array of more
// than MaxWorkTimeSegments items is not decoded (see decodeList).
type SegmentList []TimeSegment

// UnmarshalJSON decodes the array when it has at most MaxWorkTimeSegments items.
func (l *SegmentList) UnmarshalJSON(data []byte) error {
	return decodeList(data, MaxWorkTimeSegments, (*[]TimeSegment)(l))
}

// ChannelIDList is the channel IDs an export request selects: a JSON array of more than MaxExportSelection
// items is not decoded (see decodeList).
type ChannelIDList []string

// UnmarshalJSON decodes the array when it has at most MaxExportSelection items.
func (l *ChannelIDList) UnmarshalJSON(data []byte) error {
	return decodeList(data, MaxExportSelection, (*[]string)(l))
}

// decodeList decodes the JSON array data into *list when it has at most limit items. A longer array is not
// decoded: *list becomes limit+1 zero items, which Validate refuses by the list's length alone, as it would the
// whole list; telling that takes a scan of the array's bytes up to its limit+1st item. Anything else (null, an
// array within the limit, a value that is no array) is decoded as encoding/json decodes it, errors included.
func decodeList[T any](data []byte, limit int, list *[]T) error {
	if arrayLonger(data, limit) {
		*list = make([]T, limit+1)
		return nil
	}
	var items []T // a plain slice, which encoding/json decodes itself
	if err := json.Unmarshal(data, &items); err != nil {
		return err
	}
	*list = items
	return nil
}

// arrayLonger reports whether data, one valid JSON value (the decoder has checked its syntax before it calls
// an UnmarshalJSON), is an array of more than limit items: whether it has limit commas outside its items'
// strings, arrays and objects. It stops at the one that tells.
func arrayLonger(data []byte, limit int) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '[' {
		return false
	}
	depth, commas := 0, 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			// Skip the string: to its closing quote, past escaped characters.
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 1 {
				if commas++; commas >= limit {
					return true
				}
			}
		}
	}
	return false
}
