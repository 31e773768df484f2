package inspect

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferrydata/ferry/state"
)

// The --json outputs of status, files and rejects. Their field names are
// a stable interface: fields may be added, none renamed or removed
// (testdata/*.golden hold them). Times are RFC 3339 in UTC, null when not
// known; counts are numbers, null when not known.

type statusJSON struct {
	Pipelines []pipelineJSON `json:"pipelines"`
}

type pipelineJSON struct {
	Pipeline string `json:"pipeline"`
	Files    struct {
		Done        int64 `json:"done"`
		Loading     int64 `json:"loading"`
		Failed      int64 `json:"failed"`
		Quarantined int64 `json:"quarantined"`
	} `json:"files"`
	// MaxAttempts is the --max-attempts that told failed from quarantined.
	MaxAttempts     int   `json:"max_attempts"`
	RecordsLoaded   int64 `json:"records_loaded"`
	RecordsRejected int64 `json:"records_rejected"`
	// RecordsRescued counts the loaded records with values kept in the
	// --rescue-column.
	RecordsRescued int64 `json:"records_rescued"`
	BytesLoaded    int64 `json:"bytes_loaded"`
	// AfterLoad counts the done files whose --after-load action is
	// pending or failed its last try.
	AfterLoad struct {
		Pending int64 `json:"pending"`
		Failed  int64 `json:"failed"`
	} `json:"after_load"`
	FirstLoad     *string   `json:"first_load"`
	LastLoad      *string   `json:"last_load"`
	OldestLoading *fileJSON `json:"oldest_loading"`
	LastError     *fileJSON `json:"last_error"`
	// Leases are the hash ranges leased to the processes polling the
	// pipeline (replicate --lease-ranges); null when none.
	Leases *leasesJSON `json:"leases"`
}

type leasesJSON struct {
	Ranges int              `json:"ranges"`
	Free   int              `json:"free"`
	Owners []leaseOwnerJSON `json:"owners"`
}

type leaseOwnerJSON struct {
	Owner     string  `json:"owner"`
	Ranges    int     `json:"ranges"`
	Alive     bool    `json:"alive"`
	ExpiresAt *string `json:"expires_at"`
}

type filesJSON struct {
	Files []fileJSON `json:"files"`
}

type fileJSON struct {
	Pipeline string `json:"pipeline"`
	Key      string `json:"key"`
	ETag     string `json:"etag"`
	Size     int64  `json:"size"`
	// Status is loading, done, failed or quarantined.
	Status      string      `json:"status"`
	Attempts    int         `json:"attempts"`
	Records     int64       `json:"records"`
	Loaded      *int64      `json:"loaded"`
	Rejected    *int64      `json:"rejected"`
	Rescued     *int64      `json:"rescued"`
	Error       string      `json:"error"`
	Modified    *string     `json:"last_modified"`
	StartedAt   *string     `json:"started_at"`
	AttemptedAt *string     `json:"attempted_at"`
	UpdatedAt   *string     `json:"updated_at"`
	Retries     []retryJSON `json:"retries"`
	// AfterLoad is the --after-load action of a done file; null when
	// none.
	AfterLoad *afterLoadJSON `json:"after_load"`
}

type afterLoadJSON struct {
	// Status is pending, done, failed or skipped.
	Status   string  `json:"status"`
	Action   string  `json:"action"`
	Attempts int     `json:"attempts"`
	Error    string  `json:"error"`
	At       *string `json:"at"`
}

type retryJSON struct {
	At       string `json:"at"`
	Attempts int    `json:"attempts"`
	Error    string `json:"error"`
}

type rejectsJSON struct {
	Rejects []rejectJSON `json:"rejects"`
}

type rejectJSON struct {
	Pipeline   string  `json:"pipeline"`
	Key        string  `json:"key"`
	ETag       string  `json:"etag"`
	Record     *int64  `json:"record"`
	ByteOffset *int64  `json:"byte_offset"`
	MessageID  *string `json:"message_id"`
	Error      string  `json:"error"`
	Raw        string  `json:"raw"`
	RejectedAt *string `json:"rejected_at"`
}

func newPipelineJSON(s state.Summary, maxAttempts int) pipelineJSON {
	p := pipelineJSON{Pipeline: s.Pipeline, MaxAttempts: maxAttempts, RecordsLoaded: s.Loaded, RecordsRejected: s.Rejected,
		RecordsRescued: s.Rescued, BytesLoaded: s.Bytes, FirstLoad: timeJSON(s.FirstLoad), LastLoad: timeJSON(s.LastLoad)}
	p.AfterLoad.Pending, p.AfterLoad.Failed = s.AfterLoadPending, s.AfterLoadFailed
	p.Files.Done, p.Files.Loading, p.Files.Failed, p.Files.Quarantined = s.Done, s.Loading, s.Failed, s.Quarantined
	if s.OldestLoading != nil {
		f := newFileJSON(*s.OldestLoading, maxAttempts)
		p.OldestLoading = &f
	}
	if s.LastError != nil {
		f := newFileJSON(*s.LastError, maxAttempts)
		p.LastError = &f
	}
	if l := s.Leases; l != nil {
		p.Leases = &leasesJSON{Ranges: l.Ranges, Free: l.Free, Owners: []leaseOwnerJSON{}}
		for _, o := range l.Owners {
			p.Leases.Owners = append(p.Leases.Owners, leaseOwnerJSON{Owner: o.Owner, Ranges: o.Ranges, Alive: o.Alive, ExpiresAt: timeJSON(o.Expires)})
		}
	}
	return p
}

func newFileJSON(f state.FileInfo, maxAttempts int) fileJSON {
	out := fileJSON{Pipeline: f.Pipeline, Key: f.Key, ETag: f.ETag, Size: f.Size, Status: string(f.Status), Attempts: f.Attempts,
		Records: f.Records, Loaded: countJSON(f.Loaded), Rejected: countJSON(f.Rejected), Rescued: countJSON(f.Rescued), Error: f.Error,
		Modified: timeJSON(f.Modified), StartedAt: timeJSON(f.Started), AttemptedAt: timeJSON(f.Attempted), UpdatedAt: timeJSON(f.Updated),
		Retries: []retryJSON{}}
	if f.Status == state.Failed && maxAttempts > 0 && f.Attempts >= maxAttempts {
		out.Status = "quarantined"
	}
	for _, r := range f.Retries {
		out.Retries = append(out.Retries, retryJSON{At: utc(r.At), Attempts: r.Attempts, Error: r.Error})
	}
	if a := f.AfterLoad; a.Status != state.AfterLoadNone {
		out.AfterLoad = &afterLoadJSON{Status: string(a.Status), Action: a.Action, Attempts: a.Attempts, Error: a.Error, At: timeJSON(a.At)}
	}
	return out
}

func newRejectJSON(r state.Reject) rejectJSON {
	out := rejectJSON{Pipeline: r.Pipeline, Key: r.Key, ETag: r.ETag, Error: r.Error, Raw: r.Raw, RejectedAt: timeJSON(r.At)}
	if r.Record > 0 {
		out.Record = &r.Record
	}
	if r.Offset >= 0 {
		out.ByteOffset = &r.Offset
	}
	if r.MessageID != "" {
		out.MessageID = &r.MessageID
	}
	return out
}

func timeJSON(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := utc(t)
	return &s
}

func countJSON(n int64) *int64 {
	if n < 0 {
		return nil
	}
	return &n
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// clipLine keeps an error or a raw record on one line (runs of white
// space, line breaks included, become one space), cut at n bytes.
func clipLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if n > 0 && len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func orDash(p *string) string {
	if p == nil {
		return "-"
	}
	return *p
}

// humanBytes writes n in B, KiB, MiB, GiB or TiB.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f, unit = f/1024, u
		if f < 1024 {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", f, unit)
}

func writeStatus(w io.Writer, s statusJSON) error {
	if len(s.Pipelines) == 0 {
		_, err := fmt.Fprintln(w, "no pipelines")
		return err
	}
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-16s"+format+"\n", append([]any{label}, args...)...)
	}
	for i, p := range s.Pipelines {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "pipeline %q\n", p.Pipeline)
		quarantine := ""
		if p.MaxAttempts > 0 {
			quarantine = fmt.Sprintf(" (at --max-attempts %d)", p.MaxAttempts)
		}
		line("files", "%d done, %d loading, %d failed, %d quarantined%s", p.Files.Done, p.Files.Loading, p.Files.Failed, p.Files.Quarantined, quarantine)
		line("records", "%d loaded (%d with rescued values), %d rejected", p.RecordsLoaded, p.RecordsRescued, p.RecordsRejected)
		line("bytes", "%s in done files", humanBytes(p.BytesLoaded))
		line("loads", "first %s, last %s", orDash(p.FirstLoad), orDash(p.LastLoad))
		if a := p.AfterLoad; a.Pending > 0 || a.Failed > 0 {
			line("after load", "%d pending, %d failed (retried with backoff; 'ferry files --json' says why)", a.Pending, a.Failed)
		}
		if f := p.OldestLoading; f != nil {
			line("oldest loading", "%s since %s (attempt %d, at record %d)", f.Key, orDash(cmpOr(f.AttemptedAt, f.UpdatedAt)), f.Attempts, f.Records)
		}
		if f := p.LastError; f != nil && f.Attempts == 0 {
			line("last error", "%s at %s, retried, loads at the next run or poll: %s", f.Key, orDash(f.UpdatedAt), clipLine(f.Error, 300))
		} else if f != nil {
			line("last error", "%s at %s, %s after %d attempts: %s", f.Key, orDash(f.UpdatedAt), f.Status, f.Attempts, clipLine(f.Error, 300))
		}
		if l := p.Leases; l != nil {
			alive := 0
			for _, o := range l.Owners {
				if o.Alive {
					alive++
				}
			}
			line("leases", "%d hash ranges, %d free, %d processes alive", l.Ranges, l.Free, alive)
			for _, o := range l.Owners {
				when := "alive until"
				if !o.Alive {
					when = "dead since"
				}
				fmt.Fprintf(&b, "    %s: %d ranges, %s %s\n", o.Owner, o.Ranges, when, orDash(o.ExpiresAt))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cmpOr(a, b *string) *string {
	if a != nil {
		return a
	}
	return b
}

func writeFiles(w io.Writer, fs filesJSON, showPipeline bool) error {
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	head := "STATUS\tATTEMPTS\tRECORDS\tBYTES\tUPDATED\tKEY\tERROR\n"
	// The after-load column only when a file has an action.
	afterLoad := slices.ContainsFunc(fs.Files, func(f fileJSON) bool { return f.AfterLoad != nil })
	if afterLoad {
		head = strings.Replace(head, "KEY", "AFTER LOAD\tKEY", 1)
	}
	if showPipeline {
		head = "PIPELINE\t" + head
	}
	fmt.Fprint(tw, head)
	for _, f := range fs.Files {
		if showPipeline {
			fmt.Fprintf(tw, "%s\t", f.Pipeline)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t", f.Status, f.Attempts, f.Records, humanBytes(f.Size), orDash(f.UpdatedAt))
		msg := f.Error
		if afterLoad {
			al := "-"
			if a := f.AfterLoad; a != nil {
				al = a.Action + " " + a.Status
				if a.Status == string(state.AfterLoadFailed) || a.Status == string(state.AfterLoadSkipped) {
					msg = cmp.Or(msg, "after load: "+a.Error)
				}
			}
			fmt.Fprintf(tw, "%s\t", al)
		}
		fmt.Fprintf(tw, "%s\t%s\n", f.Key, clipLine(msg, 120))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(buf.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

func writeRetried(w io.Writer, pipeline string, fs []state.FileInfo) {
	for _, f := range fs {
		fmt.Fprintf(w, "retry %s (etag %s): %d attempts, error: %s\n", f.Key, f.ETag, f.Attempts, clipLine(f.Error, 300))
	}
	fmt.Fprintf(w, "%d files of pipeline %q load again at the next run or poll\n", len(fs), pipeline)
}

func writeRejects(w io.Writer, rs rejectsJSON) error {
	for _, r := range rs.Rejects {
		where := r.Key
		switch {
		case r.MessageID != nil:
			where = fmt.Sprintf("message %s on %s", *r.MessageID, r.Key)
		case r.Record != nil && r.ByteOffset != nil:
			where = fmt.Sprintf("%s record %d (byte %d)", r.Key, *r.Record, *r.ByteOffset)
		case r.Record != nil:
			where = fmt.Sprintf("%s record %d", r.Key, *r.Record)
		}
		if _, err := fmt.Fprintf(w, "%s  %s: %s\n    %s\n", orDash(r.RejectedAt), where, clipLine(r.Error, 300), clipLine(r.Raw, 200)); err != nil {
			return err
		}
	}
	return nil
}
