package lines

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
)

// fuzzModes are the modes FuzzLines tries: plain lines, regexes, and
// presets (as "preset:name").
var fuzzModes = []string{"", genRegex, `(?P<a>[a-c]+)(?:-(?P<b>\d))?`, "preset:alb", "preset:combined", "preset:s3-access"}

// fuzzOptions are the options for a fuzz mode.
func fuzzOptions(mode uint8) format.Options {
	m := fuzzModes[int(mode)%len(fuzzModes)]
	if p, ok := strings.CutPrefix(m, "preset:"); ok {
		return format.Options{Preset: p, MaxRecordBytes: 2048}
	}
	return format.Options{Regex: m, MaxRecordBytes: 32}
}

// FuzzLines checks that the reader never panics, that it reads what
// splitting the input at LFs gives (a BOM dropped, one CR before each LF
// or at the end dropped, blank lines skipped, long lines rejected, the
// regex applied), and that batching, buffer sizes and resuming do not
// change what it reads.
func FuzzLines(f *testing.F) {
	seeds := []string{
		"a\nb c\n",
		"a\r\n\r\n\nb\r",
		"\xEF\xBB\xBFw1 2\nbad line\n",
		"w -\n\n \n\r\r\n",
		"aaa-1\nzzz\nb-c",
		genLines(30),
	}
	for _, cases := range presetCases {
		for _, c := range cases {
			seeds = append(seeds, c.line+"\n")
		}
	}
	for _, s := range seeds {
		for mode := range len(fuzzModes) {
			f.Add([]byte(s), uint8(3), uint8(2), uint8(mode))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, size, rows, mode uint8) {
		o := fuzzOptions(mode)
		full := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, 4096, formattest.Identity), formattest.Values)
		if full.Final != io.EOF {
			t.Fatalf("final error %v", full.Final)
		}
		if want := expected(in, o); !slices.Equal(full.Raws, want) {
			t.Fatalf("got\n%q\nwant\n%q", full.Raws, want)
		}

		o.BatchRows = int(rows%5) + 1
		small := formattest.Drain(t, open(t, string(in), o, pusher.Position{}, int(size%16)+1, iotest.OneByteReader), formattest.Values)
		formattest.CheckBatches(t, string(in), 0, o, full, small, len(small.Batches)/8, func(p pusher.Position) formattest.Result {
			return formattest.Drain(t, open(t, string(in), o, p, int(size%16)+1, iotest.HalfReader), formattest.Values)
		})
	})
}

// expected is what drain should see reading in with o, rendered as
// result.raws.
func expected(in []byte, o format.Options) []string {
	var re *regexp.Regexp
	switch {
	case o.Regex != "":
		re = regexp.MustCompile(o.Regex)
	case o.Preset != "":
		re = regexp.MustCompile(Presets[o.Preset])
	}
	off := 0
	if bytes.HasPrefix(in, bom) {
		off = len(bom)
	}
	var out []string
	rec := 0
	for piece := range bytes.SplitSeq(in[off:], []byte("\n")) {
		start := off
		off += len(piece) + 1
		line := bytes.TrimSuffix(piece, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		rec++
		bad := func(what string) {
			out = append(out, fmt.Sprintf("ERR record %d (byte %d): %s raw=%q", rec, start, what, pusher.CutRaw(line)))
		}
		if len(line) > o.MaxRecordBytes {
			bad(fmt.Sprintf("line longer than %d bytes", o.MaxRecordBytes))
			continue
		}
		if re == nil {
			out = append(out, string(line))
			continue
		}
		m := re.FindSubmatch(line)
		if m == nil {
			bad("line does not match the pattern")
			continue
		}
		// A name given to several groups is one column: the first of
		// them that took part in the match.
		var vals []string
		col := map[string]int{}
		decided := map[int]bool{}
		for i, name := range re.SubexpNames() {
			k, seen := col[name]
			switch {
			case name == "":
				continue
			case !seen:
				k = len(vals)
				col[name] = k
				vals = append(vals, null)
			}
			if m[i] == nil || decided[k] {
				continue
			}
			decided[k] = true
			if o.Preset == "" || string(m[i]) != "-" {
				vals[k] = string(m[i])
			}
		}
		out = append(out, strings.Join(vals, "|"))
	}
	return out
}
