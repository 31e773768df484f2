package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
	"github.com/ferrydata/ferry/source/format/internal/jsonscan"
)

// FuzzJSONL checks that the reader never panics, that it accepts exactly
// the lines encoding/json decodes as one object and reads the same values,
// and that batching, buffer sizes and resuming do not change what it reads.
func FuzzJSONL(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x"}` + "\n" + `{"b":[1,{"c":null}],"d":true}`,
		`{"s":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x"}` + "\r\n\n  \n",
		`[1]` + "\n" + `"s"` + "\n" + `{"a":01}` + "\n" + `{"a":1}x`,
		`{"a":-0.5e+10,"b":1E5,"c":{"d":[[],{}]}}`,
		"\xEF\xBB\xBF{\"a\":{}}\n",
		`{"a":1,"a":2,"":null}`,
		`{"a":"\u12"}` + "\n" + `{"a":"` + "\x01" + `"}`,
		genJSONL(20),
	} {
		f.Add([]byte(s), uint8(3), uint8(2))
	}
	f.Fuzz(func(t *testing.T, in []byte, size, rows uint8) {
		o := format.Options{MaxRecordBytes: 256}
		full := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, 4096, formattest.Identity), formattest.Canonical)
		if full.Final != io.EOF {
			t.Fatalf("final error %v", full.Final)
		}

		o.BatchRows = int(rows%5) + 1
		small := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, int(size%16)+1, iotest.OneByteReader), formattest.Canonical)
		formattest.CheckBatches(t, string(in), 0, o, full, small, len(small.Batches)/8, func(p pusher.Position) formattest.Result {
			return formattest.Drain(t, open(t, string(in), o, p, int(size%16)+1, iotest.HalfReader), formattest.Canonical)
		})

		compareStd(t, in, o.MaxRecordBytes)
	})
}

func compareStd(t *testing.T, in []byte, maxRecord int) {
	r := open(t, string(in), format.Options{MaxRecordBytes: maxRecord, BatchRows: 3}, pusher.Position{}, 4096, formattest.Identity)
	got, final := formattest.Outcomes(t, r)
	if final != io.EOF {
		t.Fatal(final)
	}

	in = bytes.TrimPrefix(in, bom)
	ord := int64(0)
	lines := bytes.Split(in, []byte("\n"))
	for k, line := range lines {
		long := len(line) > maxRecord && !(len(line) == maxRecord+1 && line[maxRecord] == '\r')
		if !long && len(bytes.Trim(line, " \t\r")) == 0 {
			continue
		}
		ord++
		o, ok := got[ord]
		if !ok {
			t.Fatalf("line %d (%q): no outcome", ord, line)
		}
		if o.Err != nil {
			raw := line
			if k < len(lines)-1 {
				raw = bytes.TrimSuffix(raw, []byte("\r"))
			}
			if raw = raw[:min(len(raw), pusher.MaxRawBytes)]; !bytes.Equal(o.Err.Raw, raw) {
				t.Fatalf("line %d (%q): Raw %q", ord, line, o.Err.Raw)
			}
		}
		if long {
			if o.Err == nil || !strings.Contains(o.Err.Error(), "longer than") {
				t.Fatalf("line %d: %d bytes, want too long, got %v", ord, len(line), o.Err)
			}
			continue
		}
		trimmed := bytes.TrimLeft(line, " \t\r")
		if !json.Valid(line) || trimmed[0] != '{' {
			if o.Err == nil {
				t.Fatalf("line %d (%q): encoding/json rejects it as an object; reader accepted it", ord, line)
			}
			continue
		}
		if o.Err != nil && errors.Is(o.Err, jsonscan.ErrTooDeep) {
			continue
		}
		formattest.MatchStd(t, fmt.Sprintf("line %d", ord), o, line)
	}
}
