package lines

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
)

// scanCases are lines on which the scanners are easy to get wrong; the
// tests check that the scanners and the regexes agree on them, on every
// prefix of them, and on variants (see scanVariants).
var scanCases = map[string][]string{
	"alb": {
		// The request line closed at an escaped quote, "HTTP/1.1\" being
		// a version to the regex: the rest of the line decides.
		albHead[:strings.Index(albHead, `" "curl`)] + `\" "curl/7.46.0" - - ` + tgARN + ` "Root=1" "-" "-"`,
		strings.Replace(albHead, `HTTP/1.1"`, `HTTP/1.1\" x"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a\"b HTTP/1.1\" HTTP/1.0"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a\\" HTTP/1.1"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GE\ /x HTTP/1.1"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"\ GET /x HTTP/1.1"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"\x16\x03\x01\x00\xF7\x01\x00\x00"`, 1),
		strings.Replace(albHead, `"curl/7.46.0"`, `"curl/7.46.0 \"x\\\" y\\"`, 1),
		// Request lines that split in unusual ways.
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `""`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `" "`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET "`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET  "`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET HTTP/1.1"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET  HTTP/1.1"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a b HTTP/1.1 "`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a HTTP/1.1 HTTP/1.0"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a HTTP/1.1  "`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a HTTP/"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a -"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a - "`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"- - - "`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"-"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `" GET /a HTTP/1.1"`, 1),
		strings.Replace(albHead, `"GET http://www.example.com:80/ HTTP/1.1"`, `"GET /a HTTP/1.1\"`, 1),
		// Addresses.
		strings.Replace(albHead, "192.168.131.39:2817 10.0.0.1:80", "[2001:db8::1]:443 [2600:1f18::10]:80", 1),
		strings.Replace(albHead, "192.168.131.39:2817 10.0.0.1:80", "2001:db8::1:443 2600:1f18::10:80", 1),
		strings.Replace(albHead, "192.168.131.39:2817 10.0.0.1:80", "[2001:db8::1:443 2600:1f18::10]:80", 1),
		strings.Replace(albHead, "192.168.131.39:2817 10.0.0.1:80", ":443 []:80", 1),
		strings.Replace(albHead, "192.168.131.39:2817 10.0.0.1:80", "[[::1]:443 -:80", 1),
		strings.Replace(albHead, "192.168.131.39:2817 10.0.0.1:80", "1.2.3.4: 10.0.0.1:8a", 1),
		strings.Replace(albHead, "192.168.131.39:2817 10.0.0.1:80", "1.2.3.4:80:90 10.0.0.1:80]", 1),
		strings.Replace(albHead, "192.168.131.39:2817 10.0.0.1:80", "1.2.3.4:80 --", 1),
		// Trailing fields: kept, dropped when what follows them is not a
		// space, ignored after the known ones.
		albHead + " 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\"x",
		albHead + " 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\"x",
		albHead + " 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\"x",
		albHead + " 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\" ",
		albHead + " 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\"  x",
		albHead + " 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" x",
		albHead + " 0 2018-07-02T22:22:48.364000Z \"forward\" \"-\" x",
		albHead + " 0 2018-07-02T22:22:48.364000Z forward \"-\" \"-\"",
		albHead + "x",
		albHead + " ",
		albHead + "\r",
		albHead + "\t0",
		" " + albHead,
		"  2018-07-02T22:23:00.186641Z  192.168.131.39:2817 -         \"\" \"\"    \"\" \"\" \"\"",
	},
	"combined": {
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET /a\" HTTP/1.1\" 200 5 "-" "x" "y"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET /a HTTP/1.1\" 200 5 "-" "x" "y"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET /a HTTP/1.1\" 200 5 "-" "x"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET /a HTTP/1.1\" 200 5 "\" 200 5 "-" "x"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET /a\\" 200 5 "-" "x"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "\\\"" 200 5 "-" "x"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "" 400 0 "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET" 400 0 "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET /" 400 0 "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / HTTP/1.1 " 400 0 "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / -" 400 - "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / HTTP/1.1" - - "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / HTTP/1.1" 200 12x "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / HTTP/1.1" -1 0 "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / HTTP/1.1" 200 0 "-" "-"x`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / HTTP/1.1" 200 0 "-" "-" `,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / HTTP/1.1" 200 0 "-" "-"` + "\r",
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000] "GET / HTTP/1.1" 200 0 "-"  "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 +0000]] "GET / HTTP/1.1" 200 0 "-" "-"`,
		`10.0.0.1 - - [01/Mar/2024:12:35:02 [+0000] "GET / HTTP/1.1" 200 0 "-" "-"`,
		`10.0.0.1 - - [] "GET / HTTP/1.1" 200 0 "-" "-"`,
		`10.0.0.1 - [x] [t] "GET / HTTP/1.1" 200 0 "-" "-"`,
		`10.0.0.1  - [t] "GET / HTTP/1.1" 200 0 "-" "-"`,
		` - - [t] "GET / HTTP/1.1" 200 0 "-" "-"`,
		"10.0.0.1\t-\t-\t[t] \"GET / HTTP/1.1\" 200 0 \"-\" \"-\"",
		// A backslash takes a whole UTF-8 character, or one invalid byte, to
		// the regex.
		"10.0.0.1 - - [t] \"GET /\xc3\xa9\\\xc3\xa9\\\xff\\\xe2\x82 HTTP/1.1\\\xe2\x82\xac\" 200 0 \"\\\xc3\" \"\xff\\\"\"",
		`fe80::1%eth0 - alice [01/Mar/2024:12:35:02 +0000] "PROPFIND /dav/ HTTP/1.1" 207 1234 "-" "Microsoft-WebDAV-MiniRedir/10.0.19045"`,
	},
	"common": {
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET / HTTP/1.1\" 200 12`,
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET / HTTP/1.1\" 200 12" 200 12`,
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET /\" HTTP/1.1" 200 12`,
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET / HTTP/1.1" 200 12 "-" "curl"`,
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET / HTTP/1.1" 200 12x`,
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET / HTTP/1.1" 200 -`,
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET / HTTP/1.1" 200`,
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET / HTTP/1.1" 200 12 `,
		`10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "GET / HTTP/1.1" 200 12` + "\t",
	},
	"s3-access": {
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key "GET /b/k?x=\"y\" HTTP/1.1" 200 - 1 2 3 4 "-" "ua \"q\"" -`,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key "GET /b/k HTTP/1.1\" 200 - 1 2 3 4 "-" "ua" -`,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key "-" 200 - 1 2 3 4 "-" "-" - h s c a hh t apa acl extra more`,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key - 200 - 1 2 3 4 - - - h s c`,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key - 200 - 1 2 3 4 - - -  s  c `,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key - 200 - 1 2 3 4 - - `,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key - 200 - 1 2 3 4 - -`,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key -- 200 - 1 2 3 4 - - -`,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key "x"y 200 - 1 2 3 4 - - -`,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key "x" 200 - 1 2 3 4 "-"x "-" -`,
		s3Owner + ` b [06/Feb/2019 :00:00:38 +0000] 192.0.2.3 - id OP key "x" 200 - 1 2 3 4 - - -`,
		s3Owner + ` b [06/Feb/2019:00:00:38 +0000]x 192.0.2.3 - id OP key "x" 200 - 1 2 3 4 - - -`,
		`  [] 192.0.2.3 - id OP key "x" 200 - 1 2 3 4 - - -` + "\r",
		s3Owner + "\tb [t] 192.0.2.3 - id OP key \"x\" 200 - 1 2 3 4 - - -",
	},
}

// scanVariants are variants of line to check besides it: every prefix,
// and the line with each space doubled, each space a tab, and each quote
// escaped, one at a time.
func scanVariants(line string) []string {
	var out []string
	for i := range len(line) {
		out = append(out, line[:i])
	}
	for i := range len(line) {
		switch line[i] {
		case ' ':
			out = append(out, line[:i]+" "+line[i:], line[:i]+"\t"+line[i+1:])
		case '"':
			out = append(out, line[:i]+`\`+line[i:])
		}
	}
	return out
}

// checkScan checks that the scanner of preset agrees with its regex on each
// LF-separated line of in, both with the quick request path and the general
// one. It returns how many lines the scanner left to the regex.
func checkScan(t *testing.T, preset string, in []byte) (unsure int) {
	t.Helper()
	p, err := compile("", preset)
	if err != nil {
		t.Fatal(err)
	}
	m := make([]int, 2*len(p.cols))
	for line := range bytes.SplitSeq(in, []byte("\n")) {
		want := p.re.FindSubmatchIndex(line)
		for _, general := range []bool{false, true} {
			switch p.scan(line, m, general) {
			case scanUnsure:
				unsure++
			case scanNoMatch:
				if want != nil {
					t.Fatalf("%s (general %v): the scanner does not match what the regex matches:\n%q\nregex: %s",
						preset, general, line, spans(p, line, want, true))
				}
			case scanMatch:
				if want == nil {
					t.Fatalf("%s (general %v): the scanner matches what the regex does not:\n%q\nscanner: %s",
						preset, general, line, spans(p, line, m, false))
				}
				for k := range p.cols {
					if s, e := p.span(want, k); m[2*k] != s || m[2*k+1] != e {
						t.Fatalf("%s (general %v): column %s differs on\n%q\nscanner: %s\nregex:   %s", preset, general, p.cols[k],
							line, spans(p, line, m, false), spans(p, line, want, true))
					}
				}
			}
		}
	}
	return unsure
}

// spans renders the columns of a match: the scanner's spans, or the
// regex's (byGroup).
func spans(p *pattern, line []byte, m []int, byGroup bool) string {
	var b strings.Builder
	for k := range p.cols {
		s, e := m[2*k], m[2*k+1]
		if byGroup {
			s, e = p.span(m, k)
		}
		if s < 0 {
			fmt.Fprintf(&b, "%s=<unset> ", p.cols[k])
		} else {
			fmt.Fprintf(&b, "%s=%q ", p.cols[k], line[s:e])
		}
	}
	return b.String()
}

func TestScannersAttached(t *testing.T) {
	for name, re := range Presets {
		p, err := compile("", name)
		if err != nil {
			t.Fatal(err)
		}
		if p.scan == nil {
			t.Errorf("%s: no scanner (its columns are not those of the regex?)", name)
		}
		if _, ok := scanners[re]; !ok {
			t.Errorf("%s: no scanner", name)
		}
	}
	// A regex given as Regex is matched by regexp, even a preset's.
	p, err := compile(ALB, "")
	if err != nil || p.scan != nil {
		t.Fatalf("%v, scan set %v", err, p.scan != nil)
	}
}

// TestScan checks the scanners against the regexes on the sample lines,
// the lines above and their variants. The scanners must decide all of
// them.
func TestScan(t *testing.T) {
	for _, name := range []string{"alb", "combined", "common", "s3-access"} {
		t.Run(name, func(t *testing.T) {
			lines := scanCases[name]
			for _, c := range presetCases[name] {
				lines = append(lines, c.line)
			}
			for _, line := range lines {
				if n := checkScan(t, name, []byte(line)); n > 0 {
					t.Errorf("left to the regex: %q", line)
				}
				for _, v := range scanVariants(line) {
					checkScan(t, name, []byte(v))
				}
			}
		})
	}
}

// seqs returns every sequence of at most n of the tokens, concatenated.
func seqs(tokens []string, n int) []string {
	out := []string{""}
	prev := []string{""}
	for range n {
		var next []string
		for _, p := range prev {
			for _, t := range tokens {
				next = append(next, p+t)
			}
		}
		out = append(out, next...)
		prev = next
	}
	return out
}

// TestScanExhaustive checks the scanners against the regexes on every
// short sequence of the bytes that matter to the pieces with choices: the
// request line, the address:port fields and the optional trailing fields.
func TestScanExhaustive(t *testing.T) {
	n := 5
	if testing.Short() {
		n = 3
	}
	var in bytes.Buffer
	check := func(preset string, lines ...string) {
		t.Helper()
		in.Reset()
		for _, l := range lines {
			in.WriteString(l)
			in.WriteByte('\n')
		}
		checkScan(t, preset, in.Bytes())
	}
	for _, r := range seqs([]string{" ", `"`, `\`, "HTTP/1", "-", "a"}, n) {
		check("combined", clfHead+r+`" 200 5 "-" "x"`, clfHead+r+` 200 5 "-" "x"`, clfHead+r+`" 200 5 "-" "x\"`)
		check("common", clfHead+r+`" 200 5`, clfHead+r+` 200 5`, clfHead+r)
	}
	for _, r := range seqs([]string{" ", `"`, `\`, "HTTP/1", "-", "a"}, n-1) {
		check("alb", strings.Replace(albHead, albRequest, `"`+r+`"`, 1), strings.Replace(albHead, albRequest, `"`+r, 1))
	}
	for _, a := range seqs([]string{"[", "]", ":", "1", "a", "-"}, n) {
		check("alb", strings.Replace(albHead, albAddrs, a+" 10.0.0.1:80", 1), strings.Replace(albHead, albAddrs, "1.2.3.4:5 "+a, 1))
	}
	for _, tail := range seqs([]string{" ", `"`, `\`, "x", `"-"`}, n) {
		check("alb", albHead+tail, albHead+` 0 t "forward" "-" "-"`+tail, albHead+` 0 t "forward" "-" "-" "a" "b"`+tail)
	}
	for _, r := range seqs([]string{" ", `"`, `\`, "x", "-"}, n) {
		check("s3-access", s3Head+r+` 200 - 1 2 3 4 "-" "-" -`, s3Head+`- 200 - 1 2 3 4 - - -`+r, s3Head+`- 200 - 1 2 3 4 `+r+` - -`)
	}
}

// TestScanUnsure checks that the general request path leaves a line to the
// regex after maxCloses closing quotes that do not work, and decides one
// where they all close at the same quote.
func TestScanUnsure(t *testing.T) {
	p, err := compile("", "common")
	if err != nil {
		t.Fatal(err)
	}
	m := make([]int, 2*len(p.cols))
	many := `10.0.0.1 - - [t] "GET /` + strings.Repeat(` HTTP/1\"`, maxCloses+1) + `" 200 x`
	if got := p.scan([]byte(many), m, false); got != scanUnsure {
		t.Errorf("%d closes: %d, want unsure", maxCloses+1, got)
	}
	few := `10.0.0.1 - - [t] "GET /` + strings.Repeat(` HTTP/1\"`, maxCloses-1) + `" 200 x`
	if got := p.scan([]byte(few), m, false); got != scanNoMatch {
		t.Errorf("%d closes: %d, want no match", maxCloses-1, got)
	}
	checkScan(t, "common", []byte(many+"\n"+few))

	// Through the reader, a line left to the regex reads as the regex has it.
	manyOK := strings.TrimSuffix(many, "x") + "5"
	if got := p.scan([]byte(manyOK), m, false); got != scanUnsure {
		t.Fatalf("%d closes: %d, want unsure", maxCloses+1, got)
	}
	in := many + "\n" + manyOK + "\n" + few + "\n"
	o := format.Options{Preset: "common"}
	res := formattest.Drain(t, open(t, in, o, pusher.Position{}, bufSize, formattest.Identity), formattest.Values)
	if want := expected([]byte(in), o.WithDefaults()); !slices.Equal(res.Raws, want) || !strings.Contains(want[1], "|GET|/ HTTP/1") {
		t.Fatalf("got\n%q\nwant\n%q", res.Raws, want)
	}
}

// fuzzScan checks the scanner of preset against its regex on random lines,
// seeded with the preset's sample lines and the others'. It also checks
// the input put in slots, places of a good line where the scanner has
// choices to get right, so that more of the lines the fuzzer makes match.
func fuzzScan(f *testing.F, preset string, slots ...func(string) string) {
	for name, cases := range presetCases {
		for _, c := range cases {
			f.Add([]byte(c.line))
		}
		for _, line := range scanCases[name] {
			f.Add([]byte(line))
		}
	}
	f.Add(benchALB(1)[:0])
	f.Add(benchALB(1))
	f.Add(benchALBLong(1))
	f.Add(benchCombined(1))
	f.Add(benchS3(1))
	for _, r := range []string{`GET /a\"b HTTP/1.1`, `GET /a HTTP/1.1\" "x`, `- - - `, `"-" "-" x`, `[::1]:80`, `"a" "b" "c" "d" x`} {
		f.Add([]byte(r))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkScan(t, preset, in)
		for _, slot := range slots {
			checkScan(t, preset, []byte(slot(string(in))))
		}
	})
}

// Slots for fuzzScan.
const (
	albRequest = `"GET http://www.example.com:80/ HTTP/1.1"`
	albAddrs   = "192.168.131.39:2817 10.0.0.1:80"
	clfHead    = `10.0.0.1 - - [01/Mar/2024:12:34:56 +0000] "`
	s3Head     = s3Owner + ` b [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - id OP key `
)

func FuzzScanALB(f *testing.F) {
	fuzzScan(f, "alb",
		func(r string) string { return strings.Replace(albHead, albRequest, `"`+r+`"`, 1) },
		func(r string) string { return strings.Replace(albHead, albAddrs, r, 1) },
		func(r string) string { return albHead + r })
}

func FuzzScanCombined(f *testing.F) {
	fuzzScan(f, "combined",
		func(r string) string { return clfHead + r + `" 200 5 "-" "x"` },
		func(r string) string { return clfHead + `GET / HTTP/1.1" 200 5 ` + r })
}

func FuzzScanCommon(f *testing.F) {
	fuzzScan(f, "common",
		func(r string) string { return clfHead + r + `" 200 5` },
		func(r string) string { return clfHead + `GET / HTTP/1.1" ` + r })
}

func FuzzScanS3Access(f *testing.F) {
	fuzzScan(f, "s3-access",
		func(r string) string { return s3Head + r + ` 200 - 1 2 3 4 "-" "-" -` },
		func(r string) string { return s3Head + `- 200 - 1 2 3 4 - - -` + r })
}
