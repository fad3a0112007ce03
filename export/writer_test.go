package export_test

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
	"github.com/aiccfb/aicc/export/exporttest"
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

func TestFormatsHoldTheSameCells(t *testing.T) {
	records := sampleRecords()
	want := wantCells(records)
	require.Equal(t, want, exporttest.Cells(t, aicc.ExportJSONL, writeFile(t, aicc.ExportJSONL, records)))
	require.Equal(t, want, exporttest.Cells(t, aicc.ExportXLSX, writeFile(t, aicc.ExportXLSX, records)))

	// encoding/csv's reader turns a quoted "\r\n" into "\n"; the file itself holds the "\r\n".
	gotCSV := exporttest.Cells(t, aicc.ExportCSV, writeFile(t, aicc.ExportCSV, records))
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
	rows := exporttest.Cells(t, aicc.ExportCSV, writeFile(t, aicc.ExportCSV, []aicc.ExportRecord{r}))
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
	require.Equal(t, [][]string{export.Columns()}, exporttest.Cells(t, aicc.ExportCSV, writeFile(t, aicc.ExportCSV, nil)))
	require.Equal(t, [][]string{export.Columns()}, exporttest.Cells(t, aicc.ExportXLSX, writeFile(t, aicc.ExportXLSX, nil)))
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
