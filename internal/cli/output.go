package cli

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// Output formats of the management commands (--output).
const (
	outputTable = "table"
	outputJSON  = "json"
)

// writeJSON prints v as indented JSON, one document per command.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeTable prints a header and rows in columns aligned by
// text/tabwriter. Cells are made single-line and tab-free (cell), so that
// a column never shifts.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				_, _ = io.WriteString(tw, "\t")
			}
			_, _ = io.WriteString(tw, cell(c))
		}
		_, _ = io.WriteString(tw, "\n")
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	return tw.Flush()
}

// cell makes s fit in one table cell: "-" when empty; control characters,
// tabs, newlines and invalid UTF-8 escaped as Go escapes them in a
// quoted string (without the quotes).
func cell(s string) string {
	if s == "" {
		return "-"
	}
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// timeCell formats a timestamp for a table: UTC, to the millisecond, as
// the API sends it.
func timeCell(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// dataCell shows a message in a table: its text when it is valid UTF-8,
// else "b64:" and its base64 (the rule of docs/protocol.md, "Payloads", for bytes that are not text).
func dataCell(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "b64:" + base64.StdEncoding.EncodeToString(b)
}
