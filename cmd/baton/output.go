package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm/statepb"
)

// protoJSON writes messages with the .proto field names (snake_case), the
// form documented for -o json and the one grpcurl and buf curl show.
var protoJSON = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}

// renderer prints every command's result, as a table for people or as JSON
// for programs (-o json).
type renderer struct {
	w    io.Writer
	json bool
}

// print writes v as one indented JSON document, or lets table draw it.
// v is normally the API's response message; commands without one pass a
// plain Go value.
func (r *renderer) print(v any, table func(*table)) error {
	if r.json {
		b, err := marshalJSON(v, true)
		if err != nil {
			return err
		}
		_, err = r.w.Write(b)
		return err
	}
	t := newTable(r.w)
	table(t)
	return t.flush()
}

// printLine writes one item of a stream: a compact JSON object per line, so
// the output can be read line by line, or the given text.
func (r *renderer) printLine(v any, text string) error {
	if r.json {
		b, err := marshalJSON(v, false)
		if err != nil {
			return err
		}
		_, err = r.w.Write(b)
		return err
	}
	_, err := fmt.Fprintln(r.w, text)
	return err
}

// marshalJSON re-indents (or compacts) what protojson produced, because
// protojson's own spacing deliberately varies between builds and we want
// stable output.
func marshalJSON(v any, indent bool) ([]byte, error) {
	var raw []byte
	var err error
	if m, ok := v.(proto.Message); ok {
		raw, err = protoJSON.Marshal(m)
	} else {
		raw, err = json.Marshal(v)
	}
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if indent {
		err = json.Indent(&buf, raw, "", "  ")
	} else {
		err = json.Compact(&buf, raw)
	}
	if err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// table lays out aligned columns. Rows separated by a blank line are aligned
// independently, so a key/value header and a list can share one table.
type table struct {
	w  io.Writer
	tw *tabwriter.Writer
}

func newTable(w io.Writer) *table {
	return &table{w: w, tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
}

// row writes one line; empty cells show as "-" so columns stay readable.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) blank() { fmt.Fprintln(t.tw) }

// text writes free-form text (a log tail) below what was laid out so far.
func (t *table) text(s string) {
	t.tw.Flush()
	io.WriteString(t.w, s)
}

func (t *table) flush() error { return t.tw.Flush() }

// cell keeps a value on one line: a table row cannot hold a multi-line
// error, and the full text is in -o json.
func cell(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "-"
	}
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i]) + " …"
	}
	return strings.ReplaceAll(s, "\t", " ")
}

// truncate shortens s to n runes for columns that would otherwise push the
// table off the screen.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func fmtTime(ts *timestamppb.Timestamp) string {
	if ts == nil || (ts.Seconds == 0 && ts.Nanos == 0) {
		return ""
	}
	return ts.AsTime().Local().Format(time.RFC3339)
}

func fmtInt(n int64) string { return strconv.FormatInt(n, 10) }

// fmtSignals lists signals by name as "name #seq".
func fmtSignals(signals map[string]*statepb.Signal) string {
	names := make([]string, 0, len(signals))
	for n := range signals {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		names[i] = fmt.Sprintf("%s #%d", n, signals[n].GetSeq())
	}
	return strings.Join(names, ", ")
}

// fmtParam shows a param's value as JSON, so strings are quoted and maps and
// arrays keep their shape.
func fmtParam(p *statepb.Param) string {
	if p == nil || p.Value == nil {
		return "null"
	}
	b, err := marshalJSON(p.Value, false)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func fmtParams(params map[string]*statepb.Param) string {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = name + "=" + fmtParam(params[name])
	}
	return strings.Join(parts, ", ")
}

// fmtEvent is the one-line form of a timeline event, used by instance watch
// and instance start --wait.
func fmtEvent(e *statepb.Event) string {
	subject := e.GetStepId()
	if subject == "" {
		subject = "instance"
	}
	when := fmtTime(e.GetTime())
	if when == "" {
		when = "-"
	}
	parts := []string{when, subject}
	if e.GetAttemptNumber() > 0 {
		parts = append(parts, "attempt "+fmtInt(e.GetAttemptNumber()))
	}
	parts = append(parts, e.GetStatus())
	if msg := strings.Join(strings.Fields(e.GetMessage()), " "); msg != "" {
		parts = append(parts, msg)
	}
	return strings.Join(parts, "  ")
}
