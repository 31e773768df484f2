package plan

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ferrydata/ferry/pusher"
)

// Report is the plan: ferry plan prints it as text, or with --json as
// this object (its field names are stable; fields are only added).
type Report struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	Pipeline string `json:"pipeline"`
	Files    Files  `json:"files"`
	Sample   Sample `json:"sample"`
	// Table is the target's section (PostgreSQL: postgres.TablePlan);
	// absent for a JSON-lines target.
	Table   Section `json:"table,omitempty"`
	OnError string  `json:"on_error"`
	// Rejected counts the sample's records a load would reject, Rescued
	// those it would keep in the rescue column; Rejects lists the first
	// of both (--plan-rejects).
	Rejected int      `json:"rejected"`
	Rescued  int      `json:"rescued"`
	Rejects  []Reject `json:"rejects"`
	// WouldFail: the load would fail (exit status 1), for the Reasons.
	WouldFail bool     `json:"would_fail"`
	Reasons   []string `json:"reasons,omitempty"`

	perFile map[string]int
	all     []Reject // every reject of the sample, sorted and cut into Rejects at the end
}

// Files are the listing's files, by what a snapshot would do with them.
type Files struct {
	// Listed: keys the store listed; NotSelected: hidden, left out by
	// --include/--exclude or older than --since.
	Listed      int64 `json:"listed"`
	NotSelected int64 `json:"not_selected"`
	// ToLoad: the files a snapshot would load now (Resuming of them from
	// where an earlier run stopped), Bytes their size, FirstKeys the first
	// of them in listing order.
	ToLoad    int      `json:"to_load"`
	Bytes     int64    `json:"bytes"`
	Resuming  int      `json:"resuming"`
	FirstKeys []string `json:"first_keys"`
	// Loaded: already loaded (or skipped by --on-change ignore);
	// Quarantined: failed --max-attempts times.
	Loaded      int `json:"already_loaded"`
	Quarantined int `json:"quarantined"`
}

// Sample is what was read.
type Sample struct {
	Files   int   `json:"files"`
	Records int64 `json:"records"`
}

// Reject is a record a load would reject (or rescue).
type Reject struct {
	File string `json:"file"`
	// Record is the record's ordinal in the file (from 1; -1: the file
	// itself cannot be read), Offset its byte offset (-1: not known).
	Record  int64  `json:"record"`
	Offset  int64  `json:"offset"`
	Error   string `json:"error"`
	Rescued bool   `json:"rescued"`
}

func (r *Report) reject(cfg Config, key string, e *pusher.RecordError, rescued bool) {
	if rescued {
		r.Rescued++
	} else {
		r.Rejected++
		if r.perFile == nil {
			r.perFile = map[string]int{}
		}
		r.perFile[key]++
	}
	r.all = append(r.all, Reject{File: key, Record: e.Record, Offset: e.Offset, Error: e.Err.Error(), Rescued: rescued})
}

// cut keeps the first n rejects, in the order of the files, then of the
// records.
func (r *Report) cut(files []pusher.Object, n int) {
	at := map[string]int{}
	for i, f := range files {
		at[f.Key] = i
	}
	slices.SortStableFunc(r.all, func(a, b Reject) int {
		return cmp.Or(cmp.Compare(at[a.File], at[b.File]), cmp.Compare(a.Record, b.Record))
	})
	r.Rejects = append(r.Rejects[:0], r.all[:min(n, len(r.all))]...)
}

func (r *Report) fail(why string) {
	r.WouldFail = true
	r.Reasons = append(r.Reasons, why)
}

// Write writes the report as text, or as JSON.
func (r *Report) Write(w io.Writer, asJSON bool) error {
	if asJSON {
		return r.WriteJSON(w)
	}
	return r.WriteText(w)
}

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Plan for %s -> %s (pipeline %q). Nothing was written.\n\n", r.Source, r.Target, r.Pipeline)
	f := r.Files
	p("Files: %d listed, %d not selected (hidden, --include/--exclude, --since), %d already loaded, %d quarantined.\n",
		f.Listed, f.NotSelected, f.Loaded, f.Quarantined)
	p("A snapshot would load %d file(s), %s", f.ToLoad, size(f.Bytes))
	if f.Resuming > 0 {
		p(", %d of them resuming where an earlier run stopped", f.Resuming)
	}
	p(".\n")
	for _, k := range f.FirstKeys {
		p("  %s\n", k)
	}
	if more := f.ToLoad - len(f.FirstKeys); more > 0 {
		p("  ... and %d more\n", more)
	}
	p("\nSample: the first %d record(s) of %d file(s); types and conversions are checked on the sample only.\n\n", r.Sample.Records, r.Sample.Files)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	b.Reset()
	if r.Table != nil {
		if err := r.Table.WriteText(w); err != nil {
			return err
		}
		p("\n")
	}
	p("Records a load would reject (--on-error %s): %d", r.OnError, r.Rejected)
	if r.Rescued > 0 {
		p("; kept in the rescue column instead: %d", r.Rescued)
	}
	p("\n")
	for _, rj := range r.Rejects {
		at := fmt.Sprintf("record %d", rj.Record)
		if rj.Record < 0 {
			at = "the file"
		}
		if rj.Offset >= 0 {
			at += fmt.Sprintf(" (byte %d)", rj.Offset)
		}
		verb := ""
		if rj.Rescued {
			verb = " [rescued]"
		}
		p("  %s %s%s: %s\n", rj.File, at, verb, rj.Error)
	}
	if n := r.Rejected + r.Rescued - len(r.Rejects); n > 0 {
		p("  ... and %d more (--plan-rejects)\n", n)
	}
	if r.WouldFail {
		p("\nThe load would fail:\n")
		for _, why := range r.Reasons {
			p("  %s\n", why)
		}
	} else {
		p("\nThe load would succeed on the sample.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// size is n in B, KiB, MiB, GiB.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
