package lines

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/readerr"
)

func init() {
	format.Register(format.Lines, New)
	format.RegisterPresets(PresetNames)
}

// bufSize is the initial size of the read buffer. It grows only for a line
// longer than it (up to MaxRecordBytes).
const bufSize = 1 << 20

// rawCap is how much of an over-long line is kept while skipping it:
// MaxRawBytes and room for the CRLF to remove.
const rawCap = pusher.MaxRawBytes + 2

var bom = []byte{0xEF, 0xBB, 0xBF}

var errNoMatch = errors.New("line does not match the pattern")

// Reader reads lines. Create it with New. It is not safe for concurrent
// use.
type Reader struct {
	o     format.Options
	start pusher.Position
	pat   *pattern // nil: one column "line"
	cols  []string

	format.Stream // Buf[P:N] is read but not yet parsed

	started bool
	nrec    int64 // records consumed (good and bad) since the file start
	pos     pusher.Position
	errs    readerr.Errs
	// skipLine discards through the next LF (the rest of an over-long
	// line), appending what it drops to raw (at most rawCap bytes).
	skipLine bool
	raw      []byte

	recStart int64 // stream offset of the line being parsed
	spans    []int // a preset scanner's spans, 2 per column
}

var _ format.Reader = (*Reader)(nil)

// pattern is a compiled Regex or Preset.
type pattern struct {
	re *regexp.Regexp
	// groups[i] are the capture groups of column i: one, or several
	// alternatives of the same name (the first that took part in a match
	// gives the value).
	groups [][]int
	cols   []string
	// dashNull: a field that is exactly "-" is Null (presets).
	dashNull bool
	// scan, for a preset, matches as re does, only faster; see scan.go.
	scan func(line []byte, m []int, general bool) scanResult
}

// patterns caches compiled patterns by regex and preset flag: a reader is
// created per file, and a regexp is safe for concurrent use.
var patterns sync.Map // patternKey -> *pattern

type patternKey struct {
	regex    string
	dashNull bool
}

// New returns a lines Reader for r, starting at start (the zero Position
// for the beginning of the stream, or a Position returned by Pos). It fails
// on an invalid Options.Regex or an unknown Options.Preset.
func New(r io.Reader, o format.Options, start pusher.Position) (format.Reader, error) {
	return newReader(r, o, start, bufSize)
}

// newReader is New with the initial buffer size; tests make it tiny to
// exercise lines that straddle reads.
func newReader(r io.Reader, o format.Options, start pusher.Position, size int) (*Reader, error) {
	o = o.WithDefaults()
	if start.Offset < 0 || start.Records < 0 || (start.Offset == 0 && start.Records != 0) {
		return nil, fmt.Errorf("lines: invalid start position %+v", start)
	}
	pat, err := compile(o.Regex, o.Preset)
	if err != nil {
		return nil, err
	}
	rd := &Reader{
		o:      o,
		start:  start,
		pat:    pat,
		cols:   []string{"line"},
		nrec:   start.Records,
		pos:    start,
		Stream: format.NewStream(r, "lines", size, o),
	}
	if pat != nil {
		rd.cols = pat.cols
	}
	return rd, nil
}

// compile returns the pattern for regex or preset, nil for neither.
func compile(regex, preset string) (*pattern, error) {
	dashNull := false
	switch {
	case regex != "" && preset != "":
		return nil, fmt.Errorf("lines: set a regex or a preset, not both")
	case preset != "":
		p, ok := Presets[preset]
		if !ok {
			return nil, fmt.Errorf("lines: unknown preset %q (known: %s)", preset, strings.Join(PresetNames(), ", "))
		}
		regex, dashNull = p, true
	case regex == "":
		return nil, nil
	}
	key := patternKey{regex, dashNull}
	if p, ok := patterns.Load(key); ok {
		return p.(*pattern), nil
	}
	re, err := regexp.Compile(regex)
	if err != nil {
		return nil, fmt.Errorf("lines: invalid regex: %w", err)
	}
	p := &pattern{re: re, dashNull: dashNull}
	col := map[string]int{}
	for i, name := range re.SubexpNames() {
		if name == "" {
			continue
		}
		if k, ok := col[name]; ok {
			p.groups[k] = append(p.groups[k], i)
			continue
		}
		col[name] = len(p.cols)
		p.groups = append(p.groups, []int{i})
		p.cols = append(p.cols, name)
	}
	if len(p.cols) == 0 {
		return nil, fmt.Errorf("lines: regex %q has no named groups ((?P<name>...)) to make columns of", regex)
	}
	if sc, ok := scanners[regex]; ok && dashNull && slices.Equal(sc.cols, p.cols) {
		p.scan = sc.scan
	}
	patterns.Store(key, p)
	return p, nil
}

// Pos is the position just after the last record returned by Next.
func (r *Reader) Pos() pusher.Position { return r.pos }

// Next resets b and fills it with the next records; see the package doc.
func (r *Reader) Next(b *pusher.Batch) error {
	b.Reset()
	err := r.next(b)
	b.Columns = r.cols
	return err
}

// Parse outcomes.
const (
	stOK   = iota // a record was added to the batch
	stSkip        // bytes were consumed without a record (blank line, BOM)
	stMore        // the line is incomplete: read more
	stEOF         // no more data
)

func (r *Reader) next(b *pusher.Batch) error {
	if err := r.errs.Due(); err != nil {
		return err
	}
	if !r.started {
		r.started = true
		if r.start.Offset > 0 {
			if err := r.SkipTo(r.start.Offset); err != nil {
				return r.errs.Fail(b, err)
			}
		}
	}
	for {
		if r.skipLine && !r.discard() {
			// A read error while skipping an over-long line.
			return r.errs.Fail(b, r.ReadErr)
		}
		st, err := r.parseLine(b)
		if err != nil {
			r.nrec++
			return r.errs.Fail(b, err)
		}
		switch st {
		case stOK:
			r.nrec++
			r.pos = pusher.Position{Records: r.nrec, Offset: r.Base + int64(r.P)}
			if b.Len() >= r.o.BatchRows || b.Size() >= r.o.BatchBytes {
				return nil
			}
		case stSkip:
		case stMore:
			if r.ReadErr != nil {
				return r.errs.Fail(b, r.ReadErr)
			}
			r.Fill()
		case stEOF:
			return r.errs.Fail(b, io.EOF)
		}
	}
}

// parseLine reads one line from Buf[P:N]. On stOK the record is in b and P
// is after the line; on stSkip P has moved past a blank line or the BOM; on
// stMore and stEOF nothing changed. A bad line is a *pusher.RecordError,
// with P past it.
func (r *Reader) parseLine(b *pusher.Batch) (int, error) {
	data := r.Buf[r.P:r.N]
	r.recStart = r.Base + int64(r.P)
	if len(data) == 0 {
		if r.EOF {
			return stEOF, nil
		}
		return stMore, nil
	}
	if r.recStart == 0 && data[0] == bom[0] {
		if len(data) < len(bom) && !r.EOF && bytes.HasPrefix(bom, data) {
			return stMore, nil
		}
		if bytes.HasPrefix(data, bom) {
			r.P += len(bom)
			return stSkip, nil
		}
	}
	nl := bytes.IndexByte(data, '\n')
	next := nl + 1
	if nl < 0 {
		if !r.EOF {
			if r.exceeds(data) {
				return 0, r.skipTooLong()
			}
			return stMore, nil
		}
		nl, next = len(data), len(data)
	}
	line := data[:nl]
	if nl > 0 && line[nl-1] == '\r' {
		line = line[:nl-1]
	}
	r.P += next
	if len(line) > r.o.MaxRecordBytes {
		return 0, r.recordError(r.tooLong(), line)
	}
	if len(line) == 0 {
		return stSkip, nil
	}
	if r.pat == nil {
		b.StartRecord()
		b.AddField(pusher.String, line)
		return stOK, nil
	}
	return r.match(b, line)
}

// match splits line into the pattern's groups as a new record of b.
func (r *Reader) match(b *pusher.Batch, line []byte) (int, error) {
	p := r.pat
	if p.scan != nil {
		if len(r.spans) != 2*len(p.cols) {
			r.spans = make([]int, 2*len(p.cols))
		}
		switch p.scan(line, r.spans, false) {
		case scanMatch:
			b.StartRecord()
			for k := range p.cols {
				r.addField(b, line, r.spans[2*k], r.spans[2*k+1])
			}
			return stOK, nil
		case scanNoMatch:
			return 0, r.recordError(errNoMatch, line)
		}
	}
	m := p.re.FindSubmatchIndex(line)
	if m == nil {
		return 0, r.recordError(errNoMatch, line)
	}
	b.StartRecord()
	for k := range p.cols {
		s, e := p.span(m, k)
		r.addField(b, line, s, e)
	}
	return stOK, nil
}

// span returns the span of column k in m, the regex's submatch indices:
// that of the first of its groups that took part in the match, or -1 -1.
func (p *pattern) span(m []int, k int) (int, int) {
	for _, g := range p.groups[k] {
		if m[2*g] >= 0 {
			return m[2*g], m[2*g+1]
		}
	}
	return -1, -1
}

// addField adds line[s:e], the span of a group, to the record: Null if the
// group did not take part in the match (s < 0) or, in a preset, is "-".
func (r *Reader) addField(b *pusher.Batch, line []byte, s, e int) {
	switch {
	case s < 0:
		b.AddNull()
	case r.pat.dashNull && e-s == 1 && line[s] == '-':
		b.AddNull()
	default:
		b.AddField(pusher.String, line[s:e])
	}
}

// exceeds reports whether a line that holds data (and maybe more) is
// longer than MaxRecordBytes, not counting the CR of a CRLF.
func (r *Reader) exceeds(data []byte) bool {
	n := len(data)
	if n > 0 && data[n-1] == '\r' {
		n--
	}
	return n > r.o.MaxRecordBytes
}

func (r *Reader) tooLong() error {
	return fmt.Errorf("line longer than %d bytes", r.o.MaxRecordBytes)
}

func (r *Reader) recordError(err error, raw []byte) *pusher.RecordError {
	return &pusher.RecordError{Record: r.nrec + 1, Offset: r.recStart, Err: err, Raw: pusher.CutRaw(raw)}
}

// skipTooLong reports the over-long line at P, whose end is not in the
// buffer. It skips the line now, so that Raw holds its first bytes however
// reads split the stream; a read error while skipping is returned by the
// next call.
func (r *Reader) skipTooLong() error {
	r.skipLine = true
	r.raw = r.raw[:0]
	r.discard()
	raw := r.raw
	if n := len(raw); n > 0 && raw[n-1] == '\n' {
		raw = raw[:n-1]
	}
	if n := len(raw); n > 0 && raw[n-1] == '\r' {
		raw = raw[:n-1]
	}
	return r.recordError(r.tooLong(), raw)
}

// discard drops the bytes of an over-long line through its LF (or the end
// of the stream), reading as needed, keeping the first rawCap in raw. It
// reports whether it is done; false means the stream failed (ReadErr).
func (r *Reader) discard() bool {
	for {
		data := r.Buf[r.P:r.N]
		k := bytes.IndexByte(data, '\n')
		if k >= 0 {
			data = data[:k+1]
		}
		if len(r.raw) < rawCap {
			r.raw = append(r.raw, data[:min(len(data), rawCap-len(r.raw))]...)
		}
		r.P += len(data)
		switch {
		case k >= 0, r.P == r.N && r.EOF:
			r.skipLine = false
			return true
		case r.ReadErr != nil:
			return false
		}
		r.Fill()
	}
}
