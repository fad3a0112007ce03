package export

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"

	"github.com/aiccfb/aicc"
)

// FileWriter writes one exported file: the header (but in JSONL, whose keys name the columns), then one row
// per record. It streams to its io.Writer, which it does not close, and never holds more than a row; the
// XLSX writer holds its sheet in excelize's buffer until Close, which aicc.MaxExportFileRecords bounds.
type FileWriter interface {
	Write(r aicc.ExportRecord) error
	// Close ends the file and flushes it; the file is whole only once Close returned nil.
	Close() error
}

// NewFileWriter returns a FileWriter of format writing to w. Every format holds the same cells, Row's:
//   - csv: UTF-8 without a byte-order mark, the header row first, cells quoted as encoding/csv does (RFC 4180:
//     when they hold a comma, a quote, a line break or a leading space), lines ended by "\n";
//   - jsonl: one JSON object a line, the columns its keys in Columns' order, every value a string;
//   - xlsx: one sheet "channels", the header row first, every cell an inline string (never a number, a date
//     or a formula), an empty cell left out.
func NewFileWriter(format aicc.ExportFormat, w io.Writer) (FileWriter, error) {
	switch format {
	case aicc.ExportCSV:
		return newCSVWriter(w)
	case aicc.ExportJSONL:
		return newJSONLWriter(w), nil
	case aicc.ExportXLSX:
		return newXLSXWriter(w)
	}
	return nil, aicc.Errorf(aicc.EINVALID, "Unknown export format %q.", format)
}

// FileName returns the name of the n-th file of an export in format, counting from 1: channels-0001.csv, ….
func FileName(format aicc.ExportFormat, n int) string {
	return fmt.Sprintf("channels-%04d.%s", n, format)
}

type csvWriter struct{ w *csv.Writer }

func newCSVWriter(w io.Writer) (*csvWriter, error) {
	c := &csvWriter{w: csv.NewWriter(w)}
	return c, c.w.Write(Columns())
}

func (c *csvWriter) Write(r aicc.ExportRecord) error { return c.w.Write(Row(r)) }

func (c *csvWriter) Close() error {
	c.w.Flush()
	return c.w.Error()
}

type jsonlWriter struct {
	w    *bufio.Writer
	keys [][]byte // `"channel_id":`, … in column order
	line bytes.Buffer
	enc  *json.Encoder // into line, without HTML escaping, so that text reads as it was typed
}

func newJSONLWriter(w io.Writer) *jsonlWriter {
	j := &jsonlWriter{w: bufio.NewWriter(w)}
	j.enc = json.NewEncoder(&j.line)
	j.enc.SetEscapeHTML(false)
	for _, name := range Columns() {
		j.string(name)
		j.line.WriteByte(':')
		j.keys = append(j.keys, bytes.Clone(j.line.Bytes()))
		j.line.Reset()
	}
	return j
}

func (j *jsonlWriter) Write(r aicc.ExportRecord) error {
	j.line.Reset()
	j.line.WriteByte('{')
	for i, cell := range Row(r) {
		if i > 0 {
			j.line.WriteByte(',')
		}
		j.line.Write(j.keys[i])
		j.string(cell)
	}
	j.line.WriteString("}\n")
	_, err := j.w.Write(j.line.Bytes())
	return err
}

// string appends s to the line as a JSON string. Encoding a string cannot fail; Encode ends it with a newline,
// which is dropped.
func (j *jsonlWriter) string(s string) {
	_ = j.enc.Encode(s)
	j.line.Truncate(j.line.Len() - 1)
}

func (j *jsonlWriter) Close() error { return j.w.Flush() }

// xlsxSheet is the one sheet of an XLSX file.
const xlsxSheet = "channels"

type xlsxWriter struct {
	w      io.Writer
	file   *excelize.File
	stream *excelize.StreamWriter
	rows   int
}

func newXLSXWriter(w io.Writer) (*xlsxWriter, error) {
	x := &xlsxWriter{w: w, file: excelize.NewFile()}
	if err := x.start(); err != nil {
		_ = x.file.Close()
		return nil, err
	}
	return x, nil
}

// start names the sheet, states fixed document times (excelize's own would do today, but a later version may
// stamp the current time, and the bytes must depend on the rows alone) and writes the header.
func (x *xlsxWriter) start() error {
	if err := x.file.SetSheetName(x.file.GetSheetName(0), xlsxSheet); err != nil {
		return err
	}
	stamp := epoch.Format("2006-01-02T15:04:05Z")
	if err := x.file.SetDocProps(&excelize.DocProperties{Creator: "aicc", Created: stamp, Modified: stamp}); err != nil {
		return err
	}
	var err error
	if x.stream, err = x.file.NewStreamWriter(xlsxSheet); err != nil {
		return err
	}
	return x.row(Columns())
}

func (x *xlsxWriter) Write(r aicc.ExportRecord) error { return x.row(Row(r)) }

func (x *xlsxWriter) row(cells []string) error {
	x.rows++
	ref, err := excelize.CoordinatesToCellName(1, x.rows)
	if err != nil {
		return err
	}
	values := make([]any, len(cells))
	for i, c := range cells {
		if c != "" { // a nil value is no cell at all, smaller than an empty string cell
			values[i] = c
		}
	}
	return x.stream.SetRow(ref, values)
}

// Close writes the workbook and removes excelize's temporary files. excelize writes its zip entries with no
// modification time, so the bytes depend on the rows alone.
func (x *xlsxWriter) Close() error {
	err := x.stream.Flush()
	if err == nil {
		err = x.file.Write(x.w)
	}
	return errors.Join(err, x.file.Close())
}
