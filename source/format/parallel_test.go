package format_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
	_ "github.com/ferrydata/ferry/source/format/csv"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
	_ "github.com/ferrydata/ferry/source/format/jsonl"
	_ "github.com/ferrydata/ferry/source/format/lines"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// open returns the sequential Reader of in.
func open(t testing.TB, in string, o format.Options, start pusher.Position, wrap func(io.Reader) io.Reader) format.Reader {
	t.Helper()
	rd, err := format.New(wrap(strings.NewReader(in)), o, start)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// formFor is how records are compared: JSON lines records may lack the
// trailing Null fields of columns another block found first.
func formFor(o format.Options) formattest.Form {
	if o.Format == format.JSONL {
		return formattest.Canonical
	}
	return formattest.Values
}

// checkParallel reads in sequentially and in parallel with each number of
// workers and block size, from start, and requires the same events (records,
// bad records with their Raw, final error), batch ends at the positions
// the sequential reader has after the same record, and the same final Pos.
func checkParallel(t testing.TB, in string, o format.Options, start pusher.Position, workers, blocks []int) {
	t.Helper()
	form := formFor(o)
	seq := open(t, in, o, start, formattest.Identity)
	full := formattest.Drain(t, seq, form)
	one := o
	one.BatchRows = 1
	perRecord := formattest.Drain(t, open(t, in, one, start, formattest.Identity), form)
	after := map[int]pusher.Position{0: start} // good records read -> Pos
	for _, be := range perRecord.Batches {
		after[be.NRecs] = be.Pos
	}
	for _, w := range workers {
		for _, bs := range blocks {
			for _, wrap := range []func(io.Reader) io.Reader{formattest.Identity, halfReader} {
				rd := open(t, in, o, start, wrap)
				s, ok := rd.(format.Splitter)
				if !ok {
					t.Fatalf("%s reader is not a Splitter", o.Format)
				}
				p := format.NewParallel(s, o, format.ParallelOptions{Workers: w, BlockBytes: bs})
				got := formattest.Drain(t, p, form)
				p.Close()
				name := fmt.Sprintf("workers %d, block %d", w, bs)
				if !slices.Equal(got.Raws, full.Raws) {
					t.Fatalf("%s: input %.300q\nevents\n%.2000q\nwant\n%.2000q", name, in, got.Raws, full.Raws)
				}
				if fmt.Sprint(got.Final) != fmt.Sprint(full.Final) {
					t.Fatalf("%s: input %.300q: final %v, want %v", name, in, got.Final, full.Final)
				}
				for _, be := range got.Batches {
					if want, ok := after[be.NRecs]; !ok || be.Pos != want {
						t.Fatalf("%s: input %.300q: batch ends at %+v after %d records, sequential at %+v", name, in, be.Pos, be.NRecs, want)
					}
				}
				if p.Pos() != seq.Pos() {
					t.Fatalf("%s: input %.300q: final pos %+v, want %+v", name, in, p.Pos(), seq.Pos())
				}
			}
		}
	}
}

func halfReader(r io.Reader) io.Reader { return &half{r} }

// half returns at most half of what is asked (at least one byte).
type half struct{ r io.Reader }

func (h *half) Read(p []byte) (int, error) { return h.r.Read(p[:max(len(p)/2, 1)]) }

var (
	allWorkers = []int{2, 3, 4}
	tinyBlocks = []int{1, 2, 3, 5, 8, 13, 64, 0}
)

func TestParallelCSV(t *testing.T) {
	quoted := "id,name,note\r\n" +
		"1,\"multi\nline\",x\r\n" +
		"2,\"say \"\"hi\"\"\",\"a,b\"\r\n" +
		"\r\n" +
		"3,,\"\"\n" +
		"4,\"\"\"\",\"\n\n\n\"\n" +
		"5,plain,\"crlf\r\ninside\"\n" +
		"6,last,no-newline"
	bad := "a,b\n1,2\n3\n4,\"x\n\"\n5,x\"y\n6,7\n\"8\"z,9\n10,\"11\n12,13\n14,15\n"
	tests := []struct {
		name string
		in   string
		o    format.Options
	}{
		{"quoted, CRLF, header", quoted, format.Options{Format: format.CSV, Header: true}},
		{"quoted, small batches", quoted, format.Options{Format: format.CSV, Header: true, BatchRows: 2}},
		{"no header, width from the first record", "\xEF\xBB\xBF1,\"a\nb\"\n2,c\n3\n4,d\n", format.Options{Format: format.CSV}},
		{"columns given", "1,\"a\nb\"\n2,c\n3\n4,d\n", format.Options{Format: format.CSV, Columns: []string{"x", "y"}}},
		{"skip rows with quotes", "junk \"\nmore\"junk\nid,v\n1,\"x\ny\"\n2,z\n", format.Options{Format: format.CSV, Header: true, SkipRows: 2}},
		{"BOM and header", "\xEF\xBB\xBFid,v\n1,x\n2,\"y\"\n", format.Options{Format: format.CSV, Header: true}},
		{"tsv", "a\tb\n1\t\"x\ty\"\n2\tz\n", format.Options{Format: format.TSV, Header: true}},
		{"single quote", "a,b\n1,'x\n,y'\n2,'it''s'\n", format.Options{Format: format.CSV, Header: true, Quote: '\''}},
		{"null string", "a,b\n1,NULL\n\"NULL\",2\n", format.Options{Format: format.CSV, Header: true, NullString: "NULL"}},
		{"bad records", bad, format.Options{Format: format.CSV, Header: true}},
		{"bad records, batch of one", bad, format.Options{Format: format.CSV, Header: true, BatchRows: 1}},
		{"unterminated at the end", "a,b\n1,2\n3,\"4\n5,6\n", format.Options{Format: format.CSV, Header: true}},
		{"record larger than MaxRecordBytes", "a,b\n1,2\n3,\"" + strings.Repeat("x\n", 40) + "\"\n4,5\n6," + strings.Repeat("y", 70) + "\n7,8\n", format.Options{Format: format.CSV, Header: true, MaxRecordBytes: 30}},
		{"empty", "", format.Options{Format: format.CSV, Header: true}},
		{"header only", "a,b\n", format.Options{Format: format.CSV, Header: true}},
		{"escape: sequential", "a,b\n1,\"x\\\"\n\"\n", format.Options{Format: format.CSV, Header: true, Escape: '\\'}},
		{"comment: sequential", "#\"\na,b\n1,2\n", format.Options{Format: format.CSV, Header: true, Comment: '#'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParallel(t, tt.in, tt.o, pusher.Position{}, allWorkers, tinyBlocks)
		})
	}
}

// TestParallelResume starts parallel reads at every position a sequential
// read passes.
func TestParallelResume(t *testing.T) {
	tests := []struct {
		in string
		o  format.Options
	}{
		{"skip\"\nid,name\n1,\"a\nb\"\n2,x\r\n\n3,\"\"\"\"\n4,y\n5,z", format.Options{Format: format.CSV, Header: true, SkipRows: 1}},
		{"1,\"a\nb\"\n2,x\n3,y\n", format.Options{Format: format.CSV}},
		{"{\"a\":1}\n\n{\"b\":2}\r\n{\"a\":3,\"c\":[1,\n{\"c\":4}\n", format.Options{Format: format.JSONL}},
		{"one\ntwo\r\n\nthree\nfour", format.Options{Format: format.Lines}},
	}
	for _, tt := range tests {
		one := tt.o
		one.BatchRows = 1
		res := formattest.Drain(t, open(t, tt.in, one, pusher.Position{}, formattest.Identity), formFor(tt.o))
		for _, be := range res.Batches {
			checkParallel(t, tt.in, tt.o, be.Pos, []int{2, 3}, []int{1, 4, 0})
		}
	}
}

func TestParallelJSONL(t *testing.T) {
	keys := "{\"a\":1,\"b\":\"x\"}\n{\"b\":2,\"c\":true}\r\n\n  \n{\"d\":null,\"a\":[1,2]}\n" +
		"[1]\n{\"e\":{\"f\":1}}\n{\"bad\":}\n{\"c\":\"\\n\",\"g\":1}\n{\"h\":1}\n{\"a\":2}"
	tests := []struct {
		name string
		in   string
		o    format.Options
	}{
		{"columns found along the way", keys, format.Options{Format: format.JSONL}},
		{"small batches", keys, format.Options{Format: format.JSONL, BatchRows: 2}},
		{"BOM", "\xEF\xBB\xBF{\"a\":1}\n{\"a\":2}\n", format.Options{Format: format.JSONL}},
		{"line larger than MaxRecordBytes", "{\"a\":1}\n{\"a\":\"" + strings.Repeat("x", 80) + "\"}\r\n{\"b\":2}\n{\"c\":\"" + strings.Repeat("y", 5000) + "\"}\n{\"d\":3}\n", format.Options{Format: format.JSONL, MaxRecordBytes: 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParallel(t, tt.in, tt.o, pusher.Position{}, allWorkers, tinyBlocks)
		})
	}
}

func TestParallelLines(t *testing.T) {
	nginx := `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08"`
	var log strings.Builder
	for i := range 30 {
		switch i % 7 {
		case 3:
			log.WriteString("not a log line\n")
		case 5:
			log.WriteString("\r\n")
		default:
			fmt.Fprintf(&log, "%s\r\n", strings.Replace(nginx, "2326", fmt.Sprint(i), 1))
		}
	}
	tests := []struct {
		name string
		in   string
		o    format.Options
	}{
		{"preset", log.String(), format.Options{Format: format.Lines, Preset: "nginx"}},
		{"preset, small batches", log.String(), format.Options{Format: format.Lines, Preset: "nginx", BatchRows: 3}},
		{"regex", "a=1\nb=2\nnope\n\nc=3", format.Options{Format: format.Lines, Regex: `^(?P<k>\w)=(?P<v>\d)$`}},
		{"plain, long line", "x\n" + strings.Repeat("z", 5000) + "\ny\n" + strings.Repeat("w", 30) + "\r\nv", format.Options{Format: format.Lines, MaxRecordBytes: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkParallel(t, tt.in, tt.o, pusher.Position{}, allWorkers, tinyBlocks)
		})
	}
}

// randomCSV is CSV made of the bytes that matter to cutting it: quotes,
// delimiters, CR, LF; mostly well-formed, with some malformed records.
func randomCSV(r *rand.Rand, n int) string {
	var b strings.Builder
	fields := []string{"", "a", "bc", `"q"`, `"a,b"`, "\"l1\nl2\"", "\"cr\r\nlf\"", `"x""y"`, `""`, "\"\n\"", "\"\"\"\""}
	malformed := []string{`a"b`, `"a"b`, `"open`, "\"\r", `"`, "x\r"}
	for range n {
		width := 2
		if r.IntN(10) == 0 {
			width = 1 + r.IntN(3)
		}
		for k := range width {
			if k > 0 {
				b.WriteByte(',')
			}
			if r.IntN(25) == 0 {
				b.WriteString(malformed[r.IntN(len(malformed))])
			} else {
				b.WriteString(fields[r.IntN(len(fields))])
			}
		}
		switch r.IntN(6) {
		case 0:
			b.WriteString("\r\n")
		case 1:
			b.WriteString("\n\n")
		default:
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// TestParallelRandomCSV compares sequential and parallel reads of random
// CSV, and of random bytes from the alphabet that matters.
func TestParallelRandomCSV(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	iterations := 300
	if testing.Short() {
		iterations = 50
	}
	for i := range iterations {
		var in string
		if i%3 == 2 {
			alpha := "a,\"\n\r"
			b := make([]byte, r.IntN(120))
			for k := range b {
				b[k] = alpha[r.IntN(len(alpha))]
			}
			in = string(b)
		} else {
			in = randomCSV(r, r.IntN(40))
		}
		o := format.Options{Format: format.CSV, Header: r.IntN(2) == 0, BatchRows: 1 + r.IntN(6)}
		if r.IntN(4) == 0 {
			o.MaxRecordBytes = 8 + r.IntN(20)
		}
		if r.IntN(4) == 0 {
			o.SkipRows = 1
		}
		checkParallel(t, in, o, pusher.Position{}, []int{2 + r.IntN(3)}, []int{1 + r.IntN(40), 0})
	}
}

// FuzzParallelCSV: go test -run XXX -fuzz FuzzParallelCSV ./source/format
func FuzzParallelCSV(f *testing.F) {
	f.Add([]byte("a,b\n1,\"x\ny\"\r\n2,3\n"), uint8(3), uint8(2), true, uint8(0))
	f.Add([]byte("a,\"b\n1,2\n\"\"\"\n"), uint8(1), uint8(1), false, uint8(1))
	f.Add([]byte("x'\n'a;b'\n1;''''\n"), uint8(2), uint8(3), true, uint8(6))
	f.Add([]byte(randomCSV(rand.New(rand.NewPCG(3, 4)), 30)), uint8(7), uint8(4), true, uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, block, rows uint8, header bool, opts uint8) {
		o := format.Options{Format: format.CSV, Header: header, BatchRows: int(rows%6) + 1, MaxRecordBytes: 64, SkipRows: int(opts % 3)}
		if opts&4 != 0 {
			o.Quote, o.Delimiter = '\'', ';'
		}
		checkParallel(t, string(in), o, pusher.Position{}, []int{2}, []int{int(block%32) + 1})
	})
}

func TestCutQuoted(t *testing.T) {
	cut := format.CutQuoted('"')
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 0},
		{"a\nb", 2},
		{"a\nb\n", 4},
		{"\"a\nb", 0},
		{"\"a\nb\"\n", 6},
		{"1\n\"a\nb", 2},
		{"\"\"\"\n\"\nx", 6},
		{"x\r\n\"y\r\n", 3},
	} {
		if got := cut([]byte(tt.in)); got != tt.want {
			t.Errorf("CutQuoted(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
	if got := format.CutLines([]byte("a\nb\nc")); got != 4 {
		t.Errorf("CutLines = %d", got)
	}
}

// wellFormed is n records of CSV with quoted fields and no bad record.
func wellFormed(n int) string {
	var b strings.Builder
	b.WriteString("id,note\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,\"line\n%d, \"\"quoted\"\"\"\r\n", i, i)
	}
	return b.String()
}

// zeroReader returns data, then nothing and no error forever.
type zeroReader struct{ data []byte }

func (z *zeroReader) Read(p []byte) (int, error) {
	n := copy(p, z.data)
	z.data = z.data[n:]
	return n, nil
}

// TestParallelReadError: records before a read error come out, then the
// error the sequential reader gives, at the same offset; the error comes
// well after the sequential reader's first buffer, once the split is done.
func TestParallelReadError(t *testing.T) {
	in := wellFormed(100_000) // about 3 MB
	o := format.Options{Format: format.CSV, Header: true}
	for _, tt := range []struct {
		name string
		src  func() io.Reader
	}{
		{"error", func() io.Reader {
			return &formattest.FailingReader{Data: []byte(in[:len(in)-10]), Err: io.ErrUnexpectedEOF}
		}},
		{"no progress", func() io.Reader { return &zeroReader{data: []byte(in[:len(in)-10])} }},
	} {
		mk := func() format.Reader {
			rd, err := format.New(tt.src(), o, pusher.Position{})
			if err != nil {
				t.Fatal(err)
			}
			return rd
		}
		seq := mk()
		want := formattest.Drain(t, seq, formattest.Values)
		if want.Final == io.EOF {
			t.Fatalf("%s: no error", tt.name)
		}
		for _, bs := range []int{1000, 100_000, 0} {
			p := format.NewParallel(mk().(format.Splitter), o, format.ParallelOptions{Workers: 2, BlockBytes: bs})
			got := formattest.Drain(t, p, formattest.Values)
			p.Close()
			if !slices.Equal(got.Raws, want.Raws) || p.Pos() != seq.Pos() {
				t.Fatalf("%s, block %d: %d events ending %q at %+v, want %d ending %q at %+v", tt.name, bs,
					len(got.Raws), got.Raws[len(got.Raws)-1], p.Pos(), len(want.Raws), want.Raws[len(want.Raws)-1], seq.Pos())
			}
		}
	}
}

// TestParallelClose stops a parallel read half way: every goroutine exits
// (TestMain checks) and Next then fails.
func TestParallelClose(t *testing.T) {
	in := wellFormed(5000)
	o := format.Options{Format: format.CSV, Header: true, BatchRows: 10}
	for _, stopAfter := range []int{0, 1, 5, 100} {
		rd, err := format.New(strings.NewReader(in), o, pusher.Position{})
		if err != nil {
			t.Fatal(err)
		}
		p := format.NewParallel(rd.(format.Splitter), o, format.ParallelOptions{Workers: 3, BlockBytes: 100})
		var b pusher.Batch
		for range stopAfter {
			if err := p.Next(&b); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
		if err := p.Next(&b); err != format.ErrClosed {
			t.Fatalf("after Close: %v", err)
		}
	}
}

// TestParallelBigRecord: a record much larger than the block grows it.
func TestParallelBigRecord(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	in := "a,b\n1," + big + "\n2,\"" + strings.Replace(big, "x", "\n", 1000) + "\"\n3,y\n"
	checkParallel(t, in, format.Options{Format: format.CSV, Header: true}, pusher.Position{}, []int{2}, []int{10, 1000, 0})
	var buf bytes.Buffer
	for i := range 50 {
		fmt.Fprintf(&buf, "{\"i\":%d,\"s\":%q}\n", i, strings.Repeat("z", i*1000))
	}
	checkParallel(t, buf.String(), format.Options{Format: format.JSONL}, pusher.Position{}, []int{2, 4}, []int{100, 0})
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestParallelReadAhead: with a slow consumer, the splitter reads at most
// Workers+1 blocks past the block whose batch Next returned last (Workers
// pending in the parse queue, one read and waiting to be added): at most
// Workers+2 blocks exist.
func TestParallelReadAhead(t *testing.T) {
	const workers, blockBytes, lineBytes = 2, 64 << 10, 64
	var in strings.Builder
	for i := 0; in.Len() < 8<<20; i++ {
		fmt.Fprintf(&in, "%0*d\n", lineBytes-1, i)
	}
	src := &countingReader{r: strings.NewReader(in.String())}
	o := format.Options{Format: format.Lines}
	rd, err := format.New(src, o, pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	p := format.NewParallel(rd.(format.Splitter), o, format.ParallelOptions{Workers: workers, BlockBytes: blockBytes})
	defer p.Close()
	var b pusher.Batch
	var ahead int64
	for {
		if err := p.Next(&b); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // let the splitter and the parsers run ahead
		// The sequential reader read its first buffer before the split.
		if pos := p.Pos().Offset; pos > 2<<20 {
			ahead = max(ahead, src.n.Load()-pos)
		}
	}
	if limit := int64(workers+1) * blockBytes; ahead > limit {
		t.Fatalf("the splitter read %d bytes ahead of the last batch, more than %d (%d blocks)", ahead, limit, workers+1)
	}
	t.Logf("read ahead at most %d bytes (%.1f blocks)", ahead, float64(ahead)/blockBytes)
}
