package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	_ "github.com/ferrydata/ferry/source/format/jsonl"
	_ "github.com/ferrydata/ferry/source/format/lines"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seenChunk is what a pusher saw of a chunk: its records rendered with
// their ordinals (Null fields left out, so that a JSON lines record is the
// same whatever columns it was read with), and its rejects.
type seenChunk struct {
	seq        int
	start, end pusher.Position
	last       bool
	first      int64
	records    []string
	rejects    []string
	rejectAt   []int64
}

type loaded struct {
	chunks []seenChunk
	stats  Stats
	err    error
}

func loadAll(t testing.TB, store source.Store, key string, start pusher.Position, cfg Config) loaded {
	t.Helper()
	var res loaded
	p := &funcPusher{push: func(c *pusher.Chunk) error {
		s := seenChunk{seq: c.Seq, start: c.Start, end: c.End, last: c.Last, first: c.First()}
		b := c.Batch
		for i := range b.Len() {
			var parts []string
			for k, f := range b.Record(i) {
				if f.Kind != pusher.Null {
					parts = append(parts, fmt.Sprintf("%s=%s:%q", b.Columns[k], f.Kind, b.Value(f)))
				}
			}
			s.records = append(s.records, fmt.Sprintf("%d %s", c.First()+int64(i), strings.Join(parts, " ")))
		}
		for _, re := range c.Rejects {
			s.rejects = append(s.rejects, fmt.Sprintf("%v raw=%q", re, re.Raw))
			s.rejectAt = append(s.rejectAt, re.Record)
		}
		res.chunks = append(res.chunks, s)
		return nil
	}}
	res.stats, res.err = File(t.Context(), store, pusher.Object{Key: key}, start, cfg, p)
	return res
}

// flat lists the records and rejects of all chunks, in order.
func (l loaded) flat() (records, rejects []string) {
	for _, c := range l.chunks {
		records = append(records, c.records...)
		rejects = append(rejects, c.rejects...)
	}
	return records, rejects
}

// checkLoad loads key sequentially, then in parallel with each number of
// workers and block size, and requires: the same records with the same
// ordinals, the same rejects and error and stats; chunks that follow each
// other from start, the last one flagged Last (when the sequential load
// has one) and no other; each chunk ending at the position the sequential
// reader has after the same record; each reject riding with the chunk of
// the next good record (or the final chunk).
func checkLoad(t *testing.T, store memStore, key string, start pusher.Position, cfg Config, workers, blocks []int) {
	t.Helper()
	seq := loadAll(t, store, key, start, cfg)
	one := cfg
	one.Format.BatchRows = 1
	after := map[int64]pusher.Position{}
	for _, c := range loadAll(t, store, key, start, one).chunks {
		if len(c.records) > 0 {
			after[c.end.Records] = c.end
		}
	}
	wantRecs, wantRejects := seq.flat()
	for _, w := range workers {
		for _, bs := range blocks {
			cfg := cfg
			cfg.ParseWorkers, cfg.blockBytes = w, bs
			par := loadAll(t, store, key, start, cfg)
			name := fmt.Sprintf("%s from %+v, workers %d, block %d", key, start, w, bs)
			if fmt.Sprint(par.err) != fmt.Sprint(seq.err) {
				t.Fatalf("%s: error %v, want %v", name, par.err, seq.err)
			}
			if par.stats.Records != seq.stats.Records || par.stats.Rejects != seq.stats.Rejects {
				t.Fatalf("%s: stats %+v, want %+v", name, par.stats, seq.stats)
			}
			recs, rejects := par.flat()
			if !slices.Equal(recs, wantRecs) {
				t.Fatalf("%s: records\n%.3000q\nwant\n%.3000q", name, recs, wantRecs)
			}
			if !slices.Equal(rejects, wantRejects) {
				t.Fatalf("%s: rejects\n%q\nwant\n%q", name, rejects, wantRejects)
			}
			prev := start
			for i, c := range par.chunks {
				if c.seq != i || c.start != prev {
					t.Fatalf("%s: chunk %d: seq %d, start %+v after %+v", name, i, c.seq, c.start, prev)
				}
				final := i == len(par.chunks)-1
				if c.last && !final {
					t.Fatalf("%s: chunk %d of %d is last", name, i, len(par.chunks))
				}
				if len(c.records) > 0 {
					if want, ok := after[c.end.Records]; !ok || c.end != want || c.first+int64(len(c.records))-1 != c.end.Records {
						t.Fatalf("%s: chunk %d ends at %+v, sequential after record %d: %+v", name, i, c.end, c.end.Records, want)
					}
				} else if !final {
					t.Fatalf("%s: chunk %d without records is not the final one", name, i)
				}
				for _, n := range c.rejectAt {
					if n <= c.start.Records || (len(c.records) > 0 && n >= c.first) || n > c.end.Records {
						t.Fatalf("%s: chunk %d (%+v..%+v, first %d) carries reject %d", name, i, c.start, c.end, c.first, n)
					}
				}
				prev = c.end
			}
			if n := len(seq.chunks); n > 0 && seq.chunks[n-1].last {
				if m := len(par.chunks); m == 0 || !par.chunks[m-1].last || par.chunks[m-1].end != seq.chunks[n-1].end {
					t.Fatalf("%s: final chunk %+v, want %+v", name, par.chunks[m-1], seq.chunks[n-1])
				}
			} else if m := len(par.chunks); m > 0 && par.chunks[m-1].last {
				t.Fatalf("%s: last chunk after an error", name)
			}
		}
	}
}

var (
	allWorkers = []int{2, 3, 4}
	tinyBlocks = []int{1, 3, 8, 29, 0}
)

const quotedCSV = "junk \"skipped\nid,name,note\r\n" +
	"1,\"multi\nline\",x\r\n" +
	"2,\"say \"\"hi\"\"\",\"a,b\"\r\n" +
	"\r\n" +
	"3,,\"\"\n" +
	"4,\"\"\"\",\"\n\n\n\"\n" +
	"5,plain,\"crlf\r\ninside\"\n" +
	"6,\"x\",y\n" +
	"7,last,no-newline"

const badCSV = "id,v\n1,x\n2,\"y\nz\"\n3\n4,x\"y\n5,\"unterminated\n6,x\n7,\"q\"r\n8,x\n9,y\n10\n11\n"

func TestParallelChunks(t *testing.T) {
	var keys strings.Builder
	for i := range 40 {
		switch i % 9 {
		case 4:
			keys.WriteString("{\"bad\":\n")
		case 6:
			keys.WriteString("\r\n")
		default:
			fmt.Fprintf(&keys, "{\"id\":%d,\"k%d\":\"v\\n%d\"}\r\n", i, i%5, i)
		}
	}
	nginx := `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.0" 200 %d "-" "curl"`
	var logs strings.Builder
	for i := range 40 {
		if i%7 == 3 {
			logs.WriteString("garbage\n")
		} else {
			fmt.Fprintf(&logs, nginx+"\n", i)
		}
	}
	big := strings.Repeat("x", 3000)
	store := memStore{
		"quoted.csv": []byte(quotedCSV),
		"bad.csv":    []byte(badCSV),
		"big.csv":    []byte("id,v\n1,a\n2,\"" + big + "\n" + big + "\"\n3,b\n4," + big + big + "\n5,c\n"),
		"keys.jsonl": []byte(keys.String()),
		"nginx.log":  []byte(logs.String()),
		"tsv.tsv":    []byte("a\tb\n1\t\"x\ny\"\n2\tz\n"),
	}
	header := format.Options{Format: "auto", Header: true, SkipRows: 1}
	tests := []struct {
		name string
		key  string
		cfg  Config
	}{
		{"csv", "quoted.csv", Config{Format: header, MaxRejects: -1}},
		{"csv, batches of 2", "quoted.csv", Config{Format: withRows(header, 2), MaxRejects: -1}},
		{"bad csv, abort", "bad.csv", Config{Format: format.Options{Format: "auto", Header: true}, MaxRejects: -1}},
		{"bad csv, skip", "bad.csv", Config{Format: format.Options{Format: "auto", Header: true, BatchRows: 2}, SkipRecords: true, MaxRejects: -1}},
		{"bad csv, skip, max rejects", "bad.csv", Config{Format: format.Options{Format: "auto", Header: true, BatchRows: 2}, SkipRecords: true, MaxRejects: 3}},
		{"record larger than the block", "big.csv", Config{Format: format.Options{Format: "auto", Header: true}, MaxRejects: -1}},
		{"record larger than MaxRecordBytes, skip", "big.csv", Config{Format: format.Options{Format: "auto", Header: true, MaxRecordBytes: 4000}, SkipRecords: true, MaxRejects: -1}},
		{"record larger than MaxRecordBytes, abort", "big.csv", Config{Format: format.Options{Format: "auto", Header: true, MaxRecordBytes: 4000}, MaxRejects: -1}},
		{"tsv", "tsv.tsv", Config{Format: format.Options{Format: "auto", Header: true}, MaxRejects: -1}},
		{"jsonl, skip", "keys.jsonl", Config{Format: format.Options{Format: "auto", BatchRows: 3}, SkipRecords: true, MaxRejects: -1}},
		{"jsonl, abort", "keys.jsonl", Config{Format: format.Options{Format: "auto"}, MaxRejects: -1}},
		{"nginx preset, skip", "nginx.log", Config{Format: format.Options{Format: "auto", Preset: "nginx", BatchRows: 4}, SkipRecords: true, MaxRejects: -1}},
		{"nginx preset, abort", "nginx.log", Config{Format: format.Options{Format: "auto", Preset: "nginx"}, MaxRejects: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLoad(t, store, tt.key, pusher.Position{}, tt.cfg, allWorkers, tinyBlocks)
		})
	}
}

func withRows(o format.Options, n int) format.Options { o.BatchRows = n; return o }

// TestParallelResume loads in parallel from every position a sequential
// load passes, plain and gzipped.
func TestParallelResume(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(quotedCSV))
	zw.Close()
	store := memStore{"q.csv": []byte(quotedCSV), "q.csv.gz": gz.Bytes(), "bad.csv": []byte(badCSV)}
	for _, key := range []string{"q.csv", "q.csv.gz", "bad.csv"} {
		cfg := Config{Format: format.Options{Format: "auto", Header: true, BatchRows: 1}, SkipRecords: true, MaxRejects: -1}
		if key != "bad.csv" {
			cfg.Format.SkipRows = 1
		}
		for _, c := range loadAll(t, store, key, pusher.Position{}, cfg).chunks {
			if c.last {
				break
			}
			rcfg := cfg
			rcfg.Format.BatchRows = 2
			checkLoad(t, store, key, c.end, rcfg, []int{2, 3}, []int{1, 7, 0})
		}
	}
}

// TestParallelRandomCSV loads random CSV (mostly well-formed, quotes and
// line breaks everywhere, some bad records) both ways.
func TestParallelRandomCSV(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	fields := []string{"", "a", "bc", `"q"`, `"a,b"`, "\"l1\nl2\"", "\"cr\r\nlf\"", `"x""y"`, `""`, "\"\n\""}
	malformed := []string{`a"b`, `"a"b`, `"open`, `"`}
	iterations := 60
	if testing.Short() {
		iterations = 10
	}
	for range iterations {
		var b strings.Builder
		b.WriteString("h1,h2\n")
		for range r.IntN(60) {
			width := 2
			if r.IntN(15) == 0 {
				width = 3
			}
			for k := range width {
				if k > 0 {
					b.WriteByte(',')
				}
				if r.IntN(30) == 0 {
					b.WriteString(malformed[r.IntN(len(malformed))])
				} else {
					b.WriteString(fields[r.IntN(len(fields))])
				}
			}
			if r.IntN(3) == 0 {
				b.WriteString("\r\n")
			} else {
				b.WriteByte('\n')
			}
		}
		store := memStore{"r.csv": []byte(b.String())}
		cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 1 + r.IntN(5)}, SkipRecords: r.IntN(3) > 0, MaxRejects: -1}
		if r.IntN(3) == 0 {
			cfg.MaxRejects = r.IntN(3)
		}
		checkLoad(t, store, "r.csv", pusher.Position{}, cfg, []int{2 + r.IntN(3)}, []int{1 + r.IntN(50), 0})
	}
}

// TestParallelStop: a push error, a cancelled context and a target that
// stops pushing end the load with every goroutine gone (TestMain checks
// for leaks; each case checks on its own too).
func TestParallelStop(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,v\n")
	for i := range 200_000 {
		fmt.Fprintf(&b, "%d,\"v\n%d\"\n", i, i)
	}
	store := memStore{"big.csv": []byte(b.String())}
	cfg := Config{Format: format.Options{Format: "csv", Header: true, BatchRows: 1000}, MaxRejects: -1, ParseWorkers: 3}

	t.Run("push error", func(t *testing.T) {
		r := &recorder{failAt: 5}
		_, err := File(t.Context(), store, pusher.Object{Key: "big.csv"}, pusher.Position{}, cfg, r)
		if err == nil || !strings.Contains(err.Error(), "target down") || len(r.chunks) != 5 {
			t.Fatalf("err %v, chunks %d", err, len(r.chunks))
		}
		goleak.VerifyNone(t)
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		n := 0
		p := &funcPusher{push: func(c *pusher.Chunk) error {
			if n++; n == 3 {
				cancel()
			}
			return nil
		}}
		_, err := File(ctx, store, pusher.Object{Key: "big.csv"}, pusher.Position{}, cfg, p)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		goleak.VerifyNone(t)
	})
	t.Run("blocked push, cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p := &blockPusher{}
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		_, err := File(ctx, store, pusher.Object{Key: "big.csv"}, pusher.Position{}, cfg, p)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v", err)
		}
		goleak.VerifyNone(t)
	})
}

// blockPusher blocks every Push until its context is done.
type blockPusher struct{}

func (blockPusher) Push(ctx context.Context, c *pusher.Chunk) error {
	<-ctx.Done()
	return ctx.Err()
}
func (blockPusher) Finish(_ pusher.Object, err error, done func(pusher.FileResult)) {
	done(pusher.FileResult{Err: err})
}
