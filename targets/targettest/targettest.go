// Package targettest is the acceptance suite every pusher.Target passes.
//
// The suite writes records with two fields, id (an integer) and name
// (text, NULL, or missing), with the system columns (_ferry_file,
// _ferry_record) on, through pusher.NewSync as the engine does: the file is
// started in the state store, each chunk is written, and progress is
// advanced by the target (when it CommitsProgress) or right after it.
//
// What it checks:
//   - chunks land in full, each record once, values as written;
//   - a file resumes at its committed position: a target that commits
//     progress refuses a chunk from before it (pusher.ClassRetry) and never
//     holds a record twice; an at-least-once target repeats at most the
//     chunks written after the last committed position, and loses none;
//   - a chunk's rejects (the reader's, and the target's own under
//     skip-record) are recorded with the chunk, and more rejects than
//     Chunk.RejectLimit fail the chunk (pusher.ClassData) with nothing of it
//     landed;
//   - a value that does not convert, without skip-record, fails the chunk
//     with a *pusher.RecordError naming the record (pusher.ClassData), and
//     nothing of the chunk lands; a target that takes values as read writes
//     it as read;
//   - a write under a cancelled context is pusher.ClassCanceled when it
//     fails; a write while the target's service is unavailable is
//     pusher.ClassUnavailable, and the file resumes once it is back.
package targettest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// Columns are the batch columns the suite writes.
var Columns = []string{"id", "name"}

// Options for opening a target.
type Options struct {
	// SkipRecords: a value that does not convert (or a row the target
	// refuses) is a reject of the chunk, not a failure of it.
	SkipRecords bool
}

// Record is one record as the destination holds it.
type Record struct {
	File   string // _ferry_file
	Record int64  // _ferry_record
	ID     string // the id field as text (a number as written)
	Name   *string
}

func (r Record) String() string {
	name := "NULL"
	if r.Name != nil {
		name = strconv.Quote(*r.Name)
	}
	return fmt.Sprintf("%s#%d id=%s name=%s", r.File, r.Record, r.ID, name)
}

// Reject is one rejected record as the destination recorded it.
type Reject struct {
	File   string
	Record int64
	Error  string
	Raw    string
}

// Env is one fresh, empty destination for one test.
type Env struct {
	// Open returns a target writing into the destination for Pipeline.
	// Each call is a process (re)starting: the destination is the same.
	// The suite closes the targets it opens.
	Open func(t *testing.T, o Options) pusher.Target
	// State keeps the progress of Pipeline: the store the target commits
	// progress into when it CommitsProgress, else the store the pusher
	// advances after each write.
	State    state.Store
	Pipeline string
	// Records returns every record the destination holds, in any order.
	Records func(t *testing.T) []Record
	// Rejects returns the rejects recorded for Pipeline, in any order.
	Rejects func(t *testing.T) []Reject
	// Converts: the destination's id column takes integers only (and is
	// not widened), so the string "x" does not convert. When false, the
	// target writes every value as read.
	Converts bool
	// Unavailable, when set, takes away the service the target writes to,
	// as a database that is down: connections break and new ones are
	// refused until restore is called. nil when there is no such service
	// (a local file).
	Unavailable func(t *testing.T) (restore func())
}

// Run runs the suite; open returns a fresh Env for each test.
func Run(t *testing.T, open func(t *testing.T) Env) {
	t.Run("chunks land once, values as written", func(t *testing.T) { testWrite(t, open(t)) })
	t.Run("resume at the committed position", func(t *testing.T) { testResume(t, open(t)) })
	t.Run("rejects commit with the chunk, up to its limit", func(t *testing.T) { testRejects(t, open(t)) })
	if open(t).Converts { // a target that converts values can meet one that does not
		t.Run("a bad value fails the chunk, nothing of it lands", func(t *testing.T) { testBadValue(t, open(t)) })
	}
	t.Run("failures are classified", func(t *testing.T) { testClasses(t, open(t)) })
	t.Run("a group commits files together, a bad chunk is named", func(t *testing.T) { testGroup(t, open(t)) })
}

// testGroup: a pusher.GroupTarget commits chunks of several files in one
// transaction (progress too), all or nothing; a failing chunk is named by
// a *pusher.ChunkError with its class; under skip-record each chunk keeps
// its own rejects.
func testGroup(t *testing.T, e Env) {
	tg, ok := e.Open(t, Options{}).(pusher.GroupTarget)
	if !ok {
		t.Fatal("the target is not a pusher.GroupTarget: every target here commits groups of small files together")
	}
	t.Cleanup(func() { tg.Close() })
	file := func(name string) pusher.Object { return pusher.Object{Key: "group/" + name, ETag: "e1", Size: 100} }
	a, b, c, d := file("a"), file("b"), file("c"), file("d")
	for _, o := range []pusher.Object{a, b, c, d} {
		start(t, e, o)
	}
	if err := tg.WriteGroup(t.Context(), []*pusher.Chunk{chunk(a, 0, 3, true, nil), chunk(b, 0, 4, false, nil)}); err != nil {
		t.Fatalf("group of a and b: %v", err)
	}
	landed := [][]Record{want(a, span(1, 3)), want(b, span(1, 4))}
	checkRecords(t, e, landed...)
	if tg.CommitsProgress() {
		checkProgress(t, e, a, 3, state.Done)
		checkProgress(t, e, b, 4, state.Loading)
	}

	if e.Converts {
		// d's record 2 does not convert: the group fails naming d, and
		// nothing of c lands either.
		err := tg.WriteGroup(t.Context(), []*pusher.Chunk{chunk(c, 0, 3, true, nil), chunk(d, 0, 3, true, nil, 2)})
		var ce *pusher.ChunkError
		if !errors.As(err, &ce) || ce.Index != 1 {
			t.Fatalf("group with a bad value in its second chunk: %v; want a *pusher.ChunkError for chunk 1", err)
		}
		checkClass(t, err, pusher.ClassData)
		checkRecords(t, e, landed...)
		if tg.CommitsProgress() {
			checkProgress(t, e, c, 0, state.Loading)
		}
	}
	if tg.CommitsProgress() {
		// a is done: a chunk of it from the start conflicts, and the
		// group fails naming it, with nothing of c landed.
		err := tg.WriteGroup(t.Context(), []*pusher.Chunk{chunk(c, 0, 3, true, nil), chunk(a, 0, 3, true, nil)})
		var ce *pusher.ChunkError
		if !errors.As(err, &ce) || ce.Index != 1 {
			t.Fatalf("group with a done file: %v; want a *pusher.ChunkError for chunk 1", err)
		}
		checkClass(t, err, pusher.ClassRetry)
		checkRecords(t, e, landed...)
	}

	// Under skip-record, each chunk of a group keeps its own rejects.
	sk := e.Open(t, Options{SkipRecords: true}).(pusher.GroupTarget)
	t.Cleanup(func() { sk.Close() })
	cc, dc := chunk(c, 0, 3, true, nil), chunk(d, 0, 3, true, []int64{1}, 3)
	if err := sk.WriteGroup(t.Context(), []*pusher.Chunk{cc, dc}); err != nil {
		t.Fatalf("group under skip-record: %v", err)
	}
	var got []string
	for _, r := range dc.Rejects {
		got = append(got, strconv.FormatInt(r.Record, 10))
	}
	wantRejects, dWant := []string{"1"}, want(d, span(2, 3))
	if e.Converts {
		wantRejects, dWant = []string{"1", "3"}, want(d, span(2, 2))
	}
	if len(cc.Rejects) != 0 || !slices.Equal(got, wantRejects) {
		t.Fatalf("rejects: c %v, d %v; want none and records %v", cc.Rejects, got, wantRejects)
	}
	if !e.Converts {
		dWant = want(d, span(2, 3), 3)
	}
	checkRecords(t, e, append(landed, want(c, span(1, 3)), dWant)...)
}

var (
	fileA = pusher.Object{Key: "dir/a.jsonl", ETag: "e1", Size: 100}
	fileB = pusher.Object{Key: "dir/b \"quoted\".jsonl", ETag: "e1", Size: 100}
)

// names holds the names that are not "name N": text a target must keep
// exactly; nameNull and nameMissing are NULL.
var names = map[int64]string{
	2: "",
	3: "tab\there, quote \" backslash \\ newline\n",
	4: "é, 日本, 😀",
	5: nameNull,
	6: nameMissing,
	7: "NULL",
}

const (
	nameNull    = "\x00null"
	nameMissing = "\x00missing"
)

func idOf(obj pusher.Object, n int64) string {
	if obj == fileB {
		return strconv.FormatInt(2_000_000+n, 10)
	}
	return strconv.FormatInt(1_000_000+n, 10)
}

func nameOf(n int64) string {
	if s, ok := names[n]; ok {
		return s
	}
	return "name " + strconv.FormatInt(n, 10)
}

// chunk builds the chunk of obj from record from (exclusive) to to: the
// reader rejected the records in rejects (which come first: they precede
// the batch), and the ids in bad are "x", which converts to no integer.
func chunk(obj pusher.Object, from, to int64, last bool, rejects []int64, bad ...int64) *pusher.Chunk {
	c := &pusher.Chunk{File: obj, Start: pusher.Position{Records: from, Offset: from * 100},
		End: pusher.Position{Records: to, Offset: to * 100}, Last: last, RejectLimit: -1}
	for _, n := range rejects {
		c.Rejects = append(c.Rejects, &pusher.RecordError{Record: n, Offset: (n - 1) * 100,
			Err: errors.New("unterminated string"), Raw: []byte(fmt.Sprintf(`{"id": %d, "name": "`, n))})
	}
	b := &pusher.Batch{Columns: Columns}
	for n := from + 1 + int64(len(rejects)); n <= to; n++ {
		b.StartRecord()
		if slices.Contains(bad, n) {
			b.AddField(pusher.String, []byte("x"))
		} else {
			b.AddField(pusher.Number, []byte(idOf(obj, n)))
		}
		switch name := nameOf(n); name {
		case nameNull:
			b.AddNull()
		case nameMissing:
		default:
			b.AddField(pusher.String, []byte(name))
		}
	}
	c.Batch = b
	return c
}

// want returns the records of obj numbered in ns as the destination holds
// them; ids in bad are "x".
func want(obj pusher.Object, ns []int64, bad ...int64) []Record {
	var out []Record
	for _, n := range ns {
		r := Record{File: obj.Key, Record: n, ID: idOf(obj, n)}
		if slices.Contains(bad, n) {
			r.ID = "x"
		}
		if name := nameOf(n); name != nameNull && name != nameMissing {
			r.Name = &name
		}
		out = append(out, r)
	}
	return out
}

func span(from, to int64) []int64 {
	var ns []int64
	for n := from; n <= to; n++ {
		ns = append(ns, n)
	}
	return ns
}

func without(ns []int64, drop ...int64) []int64 {
	return slices.DeleteFunc(slices.Clone(ns), func(n int64) bool { return slices.Contains(drop, n) })
}

func sorted(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	slices.Sort(out)
	return out
}

// checkRecords fails unless the destination holds exactly wants.
func checkRecords(t *testing.T, e Env, wants ...[]Record) {
	t.Helper()
	got, w := sorted(e.Records(t)), sorted(slices.Concat(wants...))
	if !slices.Equal(got, w) {
		t.Fatalf("destination holds:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
	}
}

// start starts obj in the state, as the engine does before reading it,
// and returns its committed position.
func start(t *testing.T, e Env, obj pusher.Object) pusher.Position {
	t.Helper()
	p, err := e.State.Start(t.Context(), e.Pipeline, obj)
	if err != nil {
		t.Fatalf("start %s: %v", obj.Key, err)
	}
	return p.Pos
}

// push writes c as the sync pusher does (the target, then the state when
// the target does not commit progress) and returns the rejects the chunk
// committed with.
func push(ctx context.Context, e Env, tg pusher.Target, c *pusher.Chunk) ([]*pusher.RecordError, error) {
	err := pusher.NewSync(tg, e.State, e.Pipeline).Push(ctx, c)
	return c.Rejects, err
}

func mustPush(t *testing.T, e Env, tg pusher.Target, c *pusher.Chunk) []*pusher.RecordError {
	t.Helper()
	rejects, err := push(t.Context(), e, tg, c)
	if err != nil {
		t.Fatalf("write %s records %d..%d: %v", c.File.Key, c.Start.Records+1, c.End.Records, err)
	}
	return rejects
}

func openTarget(t *testing.T, e Env, o Options) pusher.Target {
	t.Helper()
	tg := e.Open(t, o)
	t.Cleanup(func() { tg.Close() })
	return tg
}

func checkProgress(t *testing.T, e Env, obj pusher.Object, records int64, status state.Status) {
	t.Helper()
	got, err := e.State.Lookup(t.Context(), e.Pipeline, []pusher.Object{obj})
	if err != nil {
		t.Fatal(err)
	}
	if p := got[state.ID(obj)]; p.Pos.Records != records || p.Status != status {
		t.Fatalf("progress of %s = %s at record %d; want %s at %d", obj.Key, p.Status, p.Pos.Records, status, records)
	}
}

func checkClass(t *testing.T, err error, want pusher.Class) {
	t.Helper()
	if err == nil {
		t.Fatalf("write succeeded; want a %v error", want)
	}
	if got := pusher.ClassOf(err); got != want {
		t.Fatalf("ClassOf(%v) = %v, want %v", err, got, want)
	}
}

func testWrite(t *testing.T, e Env) {
	tg := openTarget(t, e, Options{})
	start(t, e, fileA)
	start(t, e, fileB)
	mustPush(t, e, tg, chunk(fileA, 0, 4, false, nil))
	mustPush(t, e, tg, chunk(fileB, 0, 8, true, nil))
	mustPush(t, e, tg, chunk(fileA, 4, 9, false, nil))
	mustPush(t, e, tg, chunk(fileA, 9, 9, true, nil)) // a last chunk with no records
	checkRecords(t, e, want(fileA, span(1, 9)), want(fileB, span(1, 8)))
	checkProgress(t, e, fileA, 9, state.Done)
	checkProgress(t, e, fileB, 8, state.Done)
	if rejects := e.Rejects(t); len(rejects) != 0 {
		t.Fatalf("rejects recorded: %+v", rejects)
	}
}

func testResume(t *testing.T, e Env) {
	tg := openTarget(t, e, Options{})
	start(t, e, fileA)
	mustPush(t, e, tg, chunk(fileA, 0, 5, false, nil))
	if tg.CommitsProgress() {
		// The process stops after the chunk committed, and starts again.
		tg2 := openTarget(t, e, Options{})
		if pos := start(t, e, fileA); pos.Records != 5 {
			t.Fatalf("restart resumes at record %d, want 5", pos.Records)
		}
		// A chunk from before the committed position (another process,
		// or a stale one) is refused and lands nothing.
		_, err := push(t.Context(), e, tg2, chunk(fileA, 0, 5, false, nil))
		checkClass(t, err, pusher.ClassRetry)
		checkRecords(t, e, want(fileA, span(1, 5)))
		mustPush(t, e, tg2, chunk(fileA, 5, 10, true, nil))
		checkRecords(t, e, want(fileA, span(1, 10)))
		checkProgress(t, e, fileA, 10, state.Done)
		return
	}
	// At-least-once: the process dies after the target has records 6..8,
	// before their progress is recorded.
	if err := tg.Write(t.Context(), chunk(fileA, 5, 8, false, nil)); err != nil {
		t.Fatal(err)
	}
	tg2 := openTarget(t, e, Options{})
	pos := start(t, e, fileA)
	if pos.Records != 5 {
		t.Fatalf("restart resumes at record %d, want 5 (the last recorded position)", pos.Records)
	}
	mustPush(t, e, tg2, chunk(fileA, 5, 8, false, nil))
	mustPush(t, e, tg2, chunk(fileA, 8, 10, true, nil))
	checkProgress(t, e, fileA, 10, state.Done)
	// Every record is there; those committed before the restart once, the
	// replayed chunk's at most twice.
	count := map[int64]int{}
	for _, r := range e.Records(t) {
		count[r.Record]++
	}
	for n := int64(1); n <= 10; n++ {
		switch c := count[n]; {
		case c == 0:
			t.Errorf("record %d lost", n)
		case n <= 5 && c != 1:
			t.Errorf("record %d, committed before the restart, is there %d times", n, c)
		case c > 2:
			t.Errorf("record %d is there %d times", n, c)
		}
	}
}

func testRejects(t *testing.T, e Env) {
	tg := openTarget(t, e, Options{SkipRecords: true})
	start(t, e, fileA)
	// The reader rejected record 1; records 2..6 are in the batch, and the
	// id of 4 is "x".
	var bad, first, last []int64 // ids that do not convert; each chunk's rejects
	if e.Converts {
		bad, first, last = []int64{4, 9}, []int64{1, 4}, []int64{7, 9}
	} else {
		first, last = []int64{1}, []int64{7}
	}
	rejects := mustPush(t, e, tg, chunk(fileA, 0, 6, false, []int64{1}, 4))
	checkRejects(t, e, rejects, first, first)
	checkRecords(t, e, want(fileA, without(span(2, 6), bad...), 4))
	checkProgress(t, e, fileA, 6, state.Loading)

	// The reader rejected record 7; the id of 9 is "x". With one reject
	// more than its limit, the chunk fails, and nothing of it lands:
	// neither its records nor its rejects.
	over := chunk(fileA, 6, 10, true, []int64{7}, 9)
	over.RejectLimit = len(last) - 1
	_, err := push(t.Context(), e, tg, over)
	checkClass(t, err, pusher.ClassData)
	checkRecords(t, e, want(fileA, without(span(2, 6), bad...), 4))
	checkProgress(t, e, fileA, 6, state.Loading)
	checkRejects(t, e, nil, nil, first)

	// Within its limit, it commits.
	c := chunk(fileA, 6, 10, true, []int64{7}, 9)
	c.RejectLimit = len(last)
	rejects = mustPush(t, e, tg, c)
	checkRejects(t, e, rejects, last, slices.Concat(first, last))
	checkRecords(t, e, want(fileA, without(slices.Concat(span(2, 6), span(8, 10)), bad...), 4, 9))
	checkProgress(t, e, fileA, 10, state.Done)
}

// checkRejects checks the rejects a chunk committed with (in c.Rejects:
// its reader's, then the target's own) and all the rejects recorded, by
// record number. A reader's reject keeps its error and raw record; the
// target's keeps the record as it was (its id "x").
func checkRejects(t *testing.T, e Env, chunkRejects []*pusher.RecordError, inChunk, all []int64) {
	t.Helper()
	readers := func(n int64, err, raw string) bool {
		return err == "unterminated string" && raw == fmt.Sprintf(`{"id": %d, "name": "`, n)
	}
	var got []int64
	for _, r := range chunkRejects {
		if !readers(r.Record, r.Err.Error(), string(r.Raw)) && !strings.Contains(string(r.Raw), `"x"`) {
			t.Errorf("the chunk's reject of record %d does not keep the record: %v, raw %q", r.Record, r, r.Raw)
		}
		got = append(got, r.Record)
	}
	if !slices.Equal(got, inChunk) {
		t.Fatalf("the chunk committed with rejects of records %v, want %v", got, inChunk)
	}
	got = nil
	for _, r := range e.Rejects(t) {
		if r.File != fileA.Key || r.Error == "" {
			t.Errorf("reject %+v: want file %q and an error", r, fileA.Key)
		}
		if !readers(r.Record, r.Error, r.Raw) && !strings.Contains(r.Raw, `"x"`) {
			t.Errorf("the recorded reject of record %d does not keep the record: %+v", r.Record, r)
		}
		got = append(got, r.Record)
	}
	slices.Sort(got)
	if !slices.Equal(got, all) {
		t.Fatalf("rejects recorded for records %v, want %v", got, all)
	}
}

func testBadValue(t *testing.T, e Env) {
	tg := openTarget(t, e, Options{})
	start(t, e, fileA)
	mustPush(t, e, tg, chunk(fileA, 0, 3, false, nil))
	_, err := push(t.Context(), e, tg, chunk(fileA, 3, 8, true, nil, 6))
	var re *pusher.RecordError
	if !errors.As(err, &re) || re.Record != 6 {
		t.Fatalf("write of a chunk with a bad id in record 6: %v; want a *pusher.RecordError for record 6", err)
	}
	if !strings.Contains(err.Error(), "id") {
		t.Errorf("error %q does not name the column", err)
	}
	checkClass(t, err, pusher.ClassData)
	checkRecords(t, e, want(fileA, span(1, 3)))
	checkProgress(t, e, fileA, 3, state.Loading)
	if got := e.Rejects(t); len(got) != 0 {
		t.Fatalf("rejects recorded without skip-record: %+v", got)
	}
	// The file resumes at its committed position once the value is fixed.
	mustPush(t, e, tg, chunk(fileA, 3, 8, true, nil))
	checkRecords(t, e, want(fileA, span(1, 8)))
}

func testClasses(t *testing.T, e Env) {
	tg := openTarget(t, e, Options{})
	start(t, e, fileA)
	mustPush(t, e, tg, chunk(fileA, 0, 3, false, nil))

	// Stopping: a write under a cancelled context either fails as
	// cancelled or (a target that does not wait) goes through.
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := push(cancelled, e, tg, chunk(fileA, 3, 6, false, nil)); err != nil {
		checkClass(t, err, pusher.ClassCanceled)
		if tg.CommitsProgress() {
			checkRecords(t, e, want(fileA, span(1, 3)))
		}
	}
	pos := start(t, e, fileA).Records

	if e.Unavailable == nil {
		t.Log("the target needs no service that can be unavailable")
		checkAtLeastOnce(t, e, want(fileA, span(1, pos)))
		return
	}
	restore := e.Unavailable(t)
	_, err := push(t.Context(), e, tg, chunk(fileA, pos, 10, true, nil))
	checkClass(t, err, pusher.ClassUnavailable)
	restore()
	if tg.CommitsProgress() {
		checkRecords(t, e, want(fileA, span(1, pos)))
	}
	checkProgress(t, e, fileA, pos, state.Loading)
	// Once the service is back, the file resumes at its committed position
	// (the engine retries a ClassUnavailable failure after a pause, until
	// it goes through).
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := push(t.Context(), e, tg, chunk(fileA, pos, 10, true, nil))
		if err == nil {
			break
		}
		checkClass(t, err, pusher.ClassUnavailable)
		if time.Now().After(deadline) {
			t.Fatalf("the target still fails after the service is back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if tg.CommitsProgress() {
		checkRecords(t, e, want(fileA, span(1, 10)))
	} else {
		checkAtLeastOnce(t, e, want(fileA, span(1, 10)))
	}
	checkProgress(t, e, fileA, 10, state.Done)
}

// checkAtLeastOnce fails unless the destination holds each of wants, and
// nothing else.
func checkAtLeastOnce(t *testing.T, e Env, wants []Record) {
	t.Helper()
	got := slices.Compact(sorted(e.Records(t)))
	if w := sorted(wants); !slices.Equal(got, w) {
		t.Fatalf("destination holds (without repeats):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
	}
}
