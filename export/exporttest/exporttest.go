// Package exporttest reads exported files back, for tests: every format as the rows of cells it holds.
package exporttest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/export"
)

// Cells returns the rows of an exported file of format, the header first. XLSX rows are padded to the header's
// width (excelize drops trailing empty cells) and "channels" must be the only sheet; each JSONL line's keys
// must be the columns, in order. Anything else fails tb.
func Cells(tb testing.TB, format aicc.ExportFormat, b []byte) [][]string {
	tb.Helper()
	switch format {
	case aicc.ExportCSV:
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			tb.Fatalf("read CSV: %v", err)
		}
		return rows
	case aicc.ExportXLSX:
		return xlsxCells(tb, b)
	case aicc.ExportJSONL:
		return jsonlCells(tb, b)
	}
	tb.Fatalf("unknown format %q", format)
	return nil
}

func xlsxCells(tb testing.TB, b []byte) [][]string {
	tb.Helper()
	x, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("read XLSX: %v", err)
	}
	defer x.Close()
	if sheets := x.GetSheetList(); !slices.Equal(sheets, []string{"channels"}) {
		tb.Fatalf("XLSX sheets = %v, want channels alone", sheets)
	}
	rows, err := x.GetRows("channels")
	if err != nil {
		tb.Fatalf("read XLSX rows: %v", err)
	}
	for i := range rows {
		for len(rows[i]) < len(export.Columns()) {
			rows[i] = append(rows[i], "")
		}
	}
	return rows
}

func jsonlCells(tb testing.TB, b []byte) [][]string {
	tb.Helper()
	rows := [][]string{export.Columns()}
	lines := bufio.NewScanner(bytes.NewReader(b))
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		dec := json.NewDecoder(bytes.NewReader(lines.Bytes()))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			tb.Fatalf("JSONL line %d is not an object: %v", len(rows), err)
		}
		var keys, values []string
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				tb.Fatal(err)
			}
			v, err := dec.Token()
			if err != nil {
				tb.Fatal(err)
			}
			key, okKey := k.(string)
			value, okValue := v.(string)
			if !okKey || !okValue {
				tb.Fatalf("JSONL line %d: %v: %v is not a string cell", len(rows), k, v)
			}
			keys, values = append(keys, key), append(values, value)
		}
		if !slices.Equal(keys, export.Columns()) {
			tb.Fatalf("JSONL line %d has the keys %v, want the columns in order", len(rows), keys)
		}
		rows = append(rows, values)
	}
	if err := lines.Err(); err != nil {
		tb.Fatal(err)
	}
	return rows
}
