package csv

import (
	"bytes"
	stdcsv "encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
)

// FuzzCSV checks that the reader never panics, that it agrees with
// encoding/csv where their rules coincide, and that batching, buffer sizes
// and resuming do not change what it reads.
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
		genCSV(20),
	} {
		f.Add([]byte(s), uint8(3), uint8(2), false)
		f.Add([]byte(s), uint8(0), uint8(0), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, size, rows uint8, header bool) {
		o := format.Options{Header: header, MaxRecordBytes: 64}
		full := drain(t, open(t, string(in), o, source.Position{}, 4096, identity))
		if full.final != io.EOF && !strings.HasPrefix(full.final.Error(), "csv header") {
			t.Fatalf("final error %v", full.final)
		}

		// Reads split anyhow, tiny buffers and small batches change
		// nothing; resuming at any batch end gives the rest.
		o.BatchRows = int(rows%5) + 1
		small := drain(t, open(t, string(in), o, source.Position{}, int(size%16)+1, iotest.OneByteReader))
		if !slices.Equal(small.events, full.events) || small.final != full.final && small.final.Error() != full.final.Error() {
			t.Fatalf("small reads:\n%q\nwant\n%q", small.events, full.events)
		}
		step := max(1, len(small.batches)/8)
		for k := 0; k < len(small.batches); k += step {
			be := small.batches[k]
			rest := drain(t, open(t, string(in), o, be.pos, int(size%16)+1, iotest.HalfReader))
			if !slices.Equal(rest.events, full.events[be.nevents:]) {
				t.Fatalf("resume at %+v:\n%q\nwant\n%q", be.pos, rest.events, full.events[be.nevents:])
			}
		}

		if !header {
			compareStd(t, in)
		}
	})
}

func identity(r io.Reader) io.Reader { return r }

// compareStd compares with encoding/csv on inputs where the rules are the
// same: no CR (encoding/csv rewrites CRLF inside quotes), no BOM, records
// within the length limit.
func compareStd(t *testing.T, in []byte) {
	if bytes.IndexByte(in, '\r') >= 0 || bytes.HasPrefix(in, bom) {
		return
	}
	std := stdcsv.NewReader(bytes.NewReader(in))
	std.FieldsPerRecord = -1
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

	r := open(t, string(in), format.Options{}, source.Position{}, 4096, identity)
	var got [][]string
	var gotErr error
	var b source.Batch
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
	var re *source.RecordError
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
