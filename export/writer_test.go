package export_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
)

// writeFile writes records to a file of format and returns its bytes.
func writeFile(t *testing.T, format aicc.ExportFormat, records []aicc.ExportRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := export.NewFileWriter(format, &buf)
	require.NoError(t, err)
	for _, r := range records {
		require.NoError(t, fw.Write(r))
	}
	require.NoError(t, fw.Close())
	return buf.Bytes()
}

// wantCells are the header and Row of each record.
func wantCells(records []aicc.ExportRecord) [][]string {
	rows := [][]string{export.Columns()}
	for _, r := range records {
		rows = append(rows, export.Row(r))
	}
	return rows
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	require.NoError(t, err)
	return rows
}

// readJSONL reads each line's object in key order, and returns the keys of the first line with the values of
// every line, checking that every line has the same keys.
func readJSONL(t *testing.T, b []byte) [][]string {
	t.Helper()
	var rows [][]string
	var header []string
	lines := bufio.NewScanner(bytes.NewReader(b))
	for lines.Scan() {
		dec := json.NewDecoder(bytes.NewReader(lines.Bytes()))
		tok, err := dec.Token()
		require.NoError(t, err)
		require.Equal(t, json.Delim('{'), tok)
		var keys, values []string
		for dec.More() {
			k, err := dec.Token()
			require.NoError(t, err)
			v, err := dec.Token()
			require.NoError(t, err)
			keys, values = append(keys, k.(string)), append(values, v.(string))
		}
		if header == nil {
			header = keys
		}
		require.Equal(t, header, keys)
		rows = append(rows, values)
	}
	require.NoError(t, lines.Err())
	return append([][]string{header}, rows...)
}

// readXLSX reads the sheet "channels", padding each row to the header's width (excelize drops trailing empty
// cells), and checks that it is the only sheet.
func readXLSX(t *testing.T, b []byte) [][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	require.NoError(t, err)
	defer f.Close()
	require.Equal(t, []string{"channels"}, f.GetSheetList())
	rows, err := f.GetRows("channels")
	require.NoError(t, err)
	for i := range rows {
		for len(rows[i]) < len(export.Columns()) {
			rows[i] = append(rows[i], "")
		}
	}
	return rows
}

func TestFormatsHoldTheSameCells(t *testing.T) {
	records := sampleRecords()
	want := wantCells(records)
	require.Equal(t, want, readJSONL(t, writeFile(t, aicc.ExportJSONL, records)))
	require.Equal(t, want, readXLSX(t, writeFile(t, aicc.ExportXLSX, records)))

	// encoding/csv's reader turns a quoted "\r\n" into "\n"; the file itself holds the "\r\n".
	gotCSV := readCSV(t, writeFile(t, aicc.ExportCSV, records))
	col := indexOf(t, "no_customer_reply_end_message")
	require.Equal(t, "Bye, \"friend\"\n", gotCSV[1][col])
	gotCSV[1][col] = want[1][col]
	require.Equal(t, want, gotCSV)
	require.Contains(t, string(writeFile(t, aicc.ExportCSV, records)), "\"Bye, \"\"friend\"\"\r\n\"")
}

func indexOf(t *testing.T, column string) int {
	t.Helper()
	for i, c := range export.Columns() {
		if c == column {
			return i
		}
	}
	t.Fatalf("no column %s", column)
	return -1
}

// TestCSVRoundTripsAwkwardText puts the awkward text in every text cell of a record and reads it back.
func TestCSVRoundTripsAwkwardText(t *testing.T) {
	r := aicc.ExportRecord{ChannelID: awkward, Name: awkward, Basic: aicc.BasicConfig{
		NonWorkingTimeNotice: awkward, TransferKeywords: []string{awkward, awkward},
		NoCustomerReply: aicc.NoCustomerReplyEnd{EndMessage: awkward},
	}, Pages: []aicc.ExportPage{{PageID: "1", Name: awkward}}}
	rows := readCSV(t, writeFile(t, aicc.ExportCSV, []aicc.ExportRecord{r}))
	require.Equal(t, wantCells([]aicc.ExportRecord{r}), rows)
	cells := rows[1]
	require.Equal(t, awkward, cells[indexOf(t, "name")])
	require.Equal(t, awkward, cells[indexOf(t, "no_customer_reply_end_message")])
	require.Equal(t, []string{awkward, awkward}, splitList(cells[indexOf(t, "transfer_keywords")]))
	require.Equal(t, []string{awkward}, splitList(cells[indexOf(t, "page_names")]))
}

func TestWritesAreByteIdentical(t *testing.T) {
	records := sampleRecords()
	for _, format := range aicc.ExportFormats {
		t.Run(string(format), func(t *testing.T) {
			first := writeFile(t, format, records)
			require.Equal(t, first, writeFile(t, format, records))
			require.Equal(t, writeFile(t, format, nil), writeFile(t, format, nil))
			require.NotEqual(t, first, writeFile(t, format, records[:1]))
		})
	}
}

// TestXLSXStatesNoWriteTime checks what makes XLSX bytes independent of when they were written, beyond what
// two writes within a second could show.
func TestXLSXStatesNoWriteTime(t *testing.T) {
	b := writeFile(t, aicc.ExportXLSX, sampleRecords())
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	for _, f := range zr.File {
		require.Zero(t, f.ModifiedTime, f.Name)
		require.Zero(t, f.ModifiedDate, f.Name)
	}
	x, err := excelize.OpenReader(bytes.NewReader(b))
	require.NoError(t, err)
	defer x.Close()
	props, err := x.GetDocProps()
	require.NoError(t, err)
	require.Equal(t, "2000-01-01T00:00:00Z", props.Created)
	require.Equal(t, "2000-01-01T00:00:00Z", props.Modified)
}

func TestEmptyFileHasTheHeader(t *testing.T) {
	require.Equal(t, [][]string{export.Columns()}, readCSV(t, writeFile(t, aicc.ExportCSV, nil)))
	require.Equal(t, [][]string{export.Columns()}, readXLSX(t, writeFile(t, aicc.ExportXLSX, nil)))
	require.Empty(t, writeFile(t, aicc.ExportJSONL, nil), "JSONL's keys name the columns: no line, no header")
}

func TestNewFileWriterRejectsUnknownFormat(t *testing.T) {
	_, err := export.NewFileWriter("ods", io.Discard)
	require.Equal(t, aicc.EINVALID, aicc.ErrorCode(err))
}

func TestFileName(t *testing.T) {
	require.Equal(t, "channels-0001.csv", export.FileName(aicc.ExportCSV, 1))
	require.Equal(t, "channels-0050.xlsx", export.FileName(aicc.ExportXLSX, 50))
	require.Equal(t, "channels-1234.jsonl", export.FileName(aicc.ExportJSONL, 1234))
}
