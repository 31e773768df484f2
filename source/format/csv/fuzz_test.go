package csv

import (
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
)

// Option bytes the fuzzer chooses from (by index, modulo the length).
var (
	fuzzDelims   = []byte{',', ';', '\t', '\''}
	fuzzQuotes   = []byte{'"', '\''}
	fuzzEscapes  = []byte{0, '\\', '"', '\''}
	fuzzComments = []byte{0, '#', ';'}
)

// FuzzCSV checks that the reader never panics, that it agrees with a
// reference parser (and with encoding/csv where their rules coincide), that
// every bad record's Raw is the input at its offset, and that batching,
// buffer sizes and resuming do not change what it reads.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n",
		"a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n",
		"\"l1\nl2\",x\n\n3,4",
		"1,\"\"\n,\n",
		"a\"b\n",
		"\"a\"b\n",
		"\"abc",
		"\xEF\xBB\xBFa\n1\n",
		"1,2\n3\n4,5,6\n",
		"\"\"\"\"\n\r\n\r",
		"#c\n'a\\'b';\"x\\\"\"\n;1;2\n#\n",
		genCSV(20),
		genCSVOpts(20),
	} {
		f.Add([]byte(s), uint8(3), uint8(2), false, uint8(0), uint8(0), uint8(0), uint8(0), uint8(0))
		f.Add([]byte(s), uint8(0), uint8(0), true, uint8(0), uint8(0), uint8(0), uint8(0), uint8(0))
		f.Add([]byte(s), uint8(5), uint8(1), true, uint8(1), uint8(1), uint8(1), uint8(1), uint8(2))
		f.Add([]byte(s), uint8(1), uint8(3), false, uint8(0), uint8(0), uint8(1), uint8(2), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, size, rows uint8, header bool, delim, quote, esc, comment, skip uint8) {
		o := format.Options{
			Header:         header,
			MaxRecordBytes: 64,
			Delimiter:      fuzzDelims[int(delim)%len(fuzzDelims)],
			Quote:          fuzzQuotes[int(quote)%len(fuzzQuotes)],
			Escape:         fuzzEscapes[int(esc)%len(fuzzEscapes)],
			Comment:        fuzzComments[int(comment)%len(fuzzComments)],
			SkipRows:       int(skip % 3),
		}
		if checkOptions(o.WithDefaults()) != nil {
			return
		}
		full := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, 4096, formattest.Identity), formattest.Values)
		if full.Final != io.EOF && !strings.HasPrefix(full.Final.Error(), "csv header") {
			t.Fatalf("final error %v", full.Final)
		}
		for _, re := range full.Rejects {
			if !bytes.HasPrefix(in[re.Offset:], re.Raw) {
				t.Fatalf("%v: Raw %q is not the input at its offset", re, re.Raw)
			}
		}

		// Reads split anyhow, tiny buffers and small batches change
		// nothing; resuming at any batch end gives the rest.
		o.BatchRows = int(rows%5) + 1
		small := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, int(size%16)+1, iotest.OneByteReader), formattest.Values)
		if small.Final != full.Final && small.Final.Error() != full.Final.Error() {
			t.Fatalf("small reads: final %v, want %v", small.Final, full.Final)
		}
		formattest.CheckBatches(t, string(in), 0, o, full, small, len(small.Batches)/8, func(p pusher.Position) formattest.Result {
			return formattest.Drain(t, open(t, string(in), o, p, int(size%16)+1, iotest.HalfReader), formattest.Values)
		})

		o.BatchRows, o.MaxRecordBytes = 0, 0
		compareRef(t, in, o)
		if !header && o.Quote == '"' && (o.Escape == 0 || o.Escape == '"') && o.SkipRows == 0 {
			compareStd(t, in, o)
		}
	})
}

// compareRef compares with refCSV up to the first bad record.
func compareRef(t *testing.T, in []byte, o format.Options) {
	cols, want, errAt, hdrErr := refCSV(in, o)
	res := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, 4096, formattest.Identity), formattest.Values)
	if hdrErr {
		if res.Final == nil || !strings.HasPrefix(res.Final.Error(), "csv header") {
			t.Fatalf("reference: bad header; reader: %q, %v", res.Events, res.Final)
		}
		return
	}
	got := res.Events
	for i, e := range got {
		if strings.HasPrefix(e, "ERR ") {
			got = got[:i]
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("records differ from the reference:\n%q\nwant\n%q", got, want)
	}
	if len(want) > 0 && !slices.Equal(res.Cols, cols) {
		t.Fatalf("columns %q, reference %q", res.Cols, cols)
	}
	switch {
	case errAt > 0 && len(res.Rejects) == 0:
		t.Fatalf("reference: record %d is bad; reader: %q", errAt, res.Events)
	case errAt > 0 && res.Rejects[0].Record != int64(errAt):
		t.Fatalf("reference: record %d is bad; reader: %v", errAt, res.Rejects[0])
	case errAt == 0 && len(res.Rejects) > 0:
		t.Fatalf("reference reads it all; reader: %v", res.Rejects[0])
	}
}

// refField is a field as refCSV reads it.
type refField struct {
	v    string
	null bool
}

// refCSV is a slow, byte-at-a-time reading of the package doc's rules: the
// columns, the records rendered like recString, and the ordinal of the
// first bad record (0 when none) or a bad header.
func refCSV(in []byte, o format.Options) (cols, events []string, errAt int, hdrErr bool) {
	o = o.WithDefaults()
	esc := o.Escape
	if esc == o.Quote {
		esc = 0
	}
	for range o.SkipRows {
		k := bytes.IndexByte(in, '\n')
		if k < 0 {
			return nil, nil, 0, false
		}
		in = in[k+1:]
	}
	if o.SkipRows == 0 {
		in = bytes.TrimPrefix(in, bom)
	}
	width := -1
	for len(in) > 0 {
		line := in
		if k := bytes.IndexByte(in, '\n'); k >= 0 {
			line = in[:k]
		}
		if len(line) == 0 || string(line) == "\r" || o.Comment != 0 && in[0] == o.Comment {
			in = in[min(len(line)+1, len(in)):]
			continue
		}
		rec, rest, ok := refRecord(in, o, esc)
		in = rest
		switch {
		case !ok && o.Header && width < 0:
			return nil, nil, 0, true
		case !ok:
			return cols, events, len(events) + 1, false
		case o.Header && width < 0:
			names := make([]string, len(rec))
			for i, f := range rec {
				names[i] = f.v
			}
			cols, width = uniqueNames(names), len(rec)
			continue
		case width < 0:
			width = len(rec)
			cols = make([]string, width)
			for i := range cols {
				cols[i] = fmt.Sprintf("column_%d", i+1)
			}
		case len(rec) != width:
			return cols, events, len(events) + 1, false
		}
		var parts []string
		for _, f := range rec {
			if f.null {
				parts = append(parts, null)
			} else {
				parts = append(parts, f.v)
			}
		}
		events = append(events, strings.Join(parts, "|"))
	}
	return cols, events, 0, false
}

// refRecord reads the record at the start of in and returns what follows
// it; ok is false for a malformed record.
func refRecord(in []byte, o format.Options, esc byte) (rec []refField, rest []byte, ok bool) {
	i := 0
	for {
		if i < len(in) && in[i] == o.Quote {
			var v []byte
			for i++; ; {
				if i >= len(in) {
					return nil, nil, false
				}
				c := in[i]
				if esc != 0 && c == esc {
					if i+1 >= len(in) {
						return nil, nil, false
					}
					v = append(v, in[i+1])
					i += 2
					continue
				}
				if c == o.Quote {
					if i+1 < len(in) && in[i+1] == o.Quote {
						v = append(v, c)
						i += 2
						continue
					}
					i++
					break
				}
				v = append(v, c)
				i++
			}
			rec = append(rec, refField{v: string(v)})
			switch {
			case i == len(in):
				return rec, nil, true
			case in[i] == o.Delimiter:
				i++
				continue
			case in[i] == '\n':
				return rec, in[i+1:], true
			case in[i] == '\r' && i+1 == len(in):
				return rec, nil, true
			case in[i] == '\r' && in[i+1] == '\n':
				return rec, in[i+2:], true
			}
			return nil, nil, false
		}
		j := i
		for j < len(in) && in[j] != o.Delimiter && in[j] != '\n' {
			j++
		}
		f := in[i:j]
		if bytes.IndexByte(f, o.Quote) >= 0 {
			return nil, nil, false
		}
		last := j == len(in) || in[j] == '\n'
		if last && len(f) > 0 && f[len(f)-1] == '\r' {
			f = f[:len(f)-1]
		}
		rec = append(rec, refField{v: string(f), null: string(f) == o.NullString})
		if last {
			return rec, in[min(j+1, len(in)):], true
		}
		i = j + 1
	}
}

// compareStd compares with encoding/csv on inputs where the rules are the
// same: no CR (encoding/csv rewrites CRLF inside quotes), no BOM, records
// within the length limit.
func compareStd(t *testing.T, in []byte, o format.Options) {
	if bytes.IndexByte(in, '\r') >= 0 || bytes.HasPrefix(in, bom) {
		return
	}
	std := stdcsv.NewReader(bytes.NewReader(in))
	std.FieldsPerRecord = -1
	std.Comma = rune(o.Delimiter)
	std.Comment = rune(o.Comment)
	var want [][]string
	var stdErr error
	for {
		rec, err := std.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			stdErr = err
			break
		}
		want = append(want, rec)
	}

	r := open(t, string(in), format.Options{Delimiter: o.Delimiter, Comment: o.Comment}, pusher.Position{}, 4096, formattest.Identity)
	var got [][]string
	var gotErr error
	var b pusher.Batch
	for gotErr == nil {
		err := r.Next(&b)
		for i := range b.Len() {
			var rec []string
			for _, f := range b.Record(i) {
				rec = append(rec, string(b.Value(f)))
			}
			got = append(got, rec)
		}
		if err == io.EOF {
			break
		}
		gotErr = err
	}

	// encoding/csv allows records of any width; the reader requires the
	// first record's.
	k := len(want)
	for i := range want {
		if len(want[i]) != len(want[0]) {
			k = i
			break
		}
	}
	if !slices.EqualFunc(got, want[:min(k, len(want))], slices.Equal) {
		t.Fatalf("records differ from encoding/csv:\n%q\nwant\n%q", got, want[:k])
	}
	var re *pusher.RecordError
	switch {
	case k < len(want):
		if !errors.As(gotErr, &re) || re.Record != int64(k+1) || !strings.Contains(re.Err.Error(), "fields") {
			t.Fatalf("record %d has %d fields, want a field count error; got %v", k+1, len(want[k]), gotErr)
		}
	case stdErr != nil:
		if !errors.As(gotErr, &re) || re.Record != int64(len(want)+1) || strings.Contains(re.Err.Error(), "fields") {
			t.Fatalf("encoding/csv: %v; got %v after %d records", stdErr, gotErr, len(got))
		}
	case gotErr != nil:
		if !errors.As(gotErr, &re) || !strings.Contains(re.Err.Error(), "longer than") {
			t.Fatalf("encoding/csv reads it all; got %v", gotErr)
		}
	}
}
