package parquet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	parquetgo "github.com/parquet-go/parquet-go"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/format"
)

type groupRow struct {
	ID   int64    `parquet:"id"`
	Name *string  `parquet:"name,optional"`
	Tags []string `parquet:"tags,list"`
}

// groupRows returns n rows; every 7th name is null.
func groupRows(n int) []groupRow {
	rows := make([]groupRow, n)
	for i := range rows {
		rows[i].ID = int64(i + 1)
		if i%7 != 3 {
			rows[i].Name = ptr(fmt.Sprintf("name %d", i+1))
		}
		for k := range i % 4 {
			rows[i].Tags = append(rows[i].Tags, fmt.Sprint("t", k))
		}
	}
	return rows
}

func groupRowText(r groupRow) []string {
	name := "null"
	if r.Name != nil {
		name = "s:" + *r.Name
	}
	tags := "j:["
	for k, s := range r.Tags {
		if k > 0 {
			tags += ","
		}
		tags += `"` + s + `"`
	}
	return []string{fmt.Sprint("n:", r.ID), name, tags + "]"}
}

// manyGroups is a file of 1000 rows in row groups of 97 rows, with pages
// of a few rows.
func manyGroups(t testing.TB) ([]byte, [][]string) {
	rows := groupRows(1000)
	data := writeRows(t, rows, parquetgo.MaxRowsPerRowGroup(97), parquetgo.PageBufferSize(256))
	var want [][]string
	for _, r := range rows {
		want = append(want, groupRowText(r))
	}
	return data, want
}

func TestRowGroups(t *testing.T) {
	data, want := manyGroups(t)
	r := open(t, data, opts(), pusher.Position{})
	if n := len(r.groups); n != 11 {
		t.Fatalf("%d row groups, want 11", n)
	}
	if n := r.md.RowGroups[0].Columns[0].MetaData.NumValues; n != 97 {
		t.Fatalf("%d values in the first column chunk", n)
	}
	diff(t, dump(t, r), want)
	if p := r.Pos(); p != (pusher.Position{Records: 1000}) {
		t.Errorf("Pos() at the end = %+v", p)
	}
	var b pusher.Batch
	if err := r.Next(&b); err != io.EOF || b.Len() != 0 {
		t.Errorf("Next after EOF = %v, %d records", err, b.Len())
	}
}

// TestResume reads in small batches, then reopens at every batch boundary
// and checks that the rest is the same.
func TestResume(t *testing.T) {
	data, want := manyGroups(t)
	for _, batchRows := range []int{1, 33, 97, 250, 100_000} {
		t.Run(fmt.Sprint("batch", batchRows), func(t *testing.T) {
			o := opts(func(o *format.Options) { o.BatchRows = batchRows })
			r := open(t, data, o, pusher.Position{})
			var b pusher.Batch
			var all [][]string
			positions := []pusher.Position{{}}
			for {
				err := r.Next(&b)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if b.Len() > batchRows {
					t.Fatalf("batch of %d records", b.Len())
				}
				all = append(all, records(&b)...)
				if got := r.Pos(); got.Records != int64(len(all)) || got.Offset != 0 {
					t.Fatalf("Pos() = %+v after %d records", got, len(all))
				}
				positions = append(positions, r.Pos())
			}
			diff(t, all, want)
			step := 1
			if len(positions) > 200 {
				step = 7 // batches of one row: every 7th boundary, and the ends
			}
			for i, p := range positions {
				if i%step != 0 && i != len(positions)-1 && i != 1 {
					continue
				}
				got := dump(t, open(t, data, o, p))
				if len(got) != len(want)-int(p.Records) {
					t.Fatalf("resumed at %d: %d records, want %d", p.Records, len(got), len(want)-int(p.Records))
				}
				if len(got) > 0 && strings.Join(got[0], "|") != strings.Join(want[p.Records], "|") {
					t.Fatalf("resumed at %d: first record %q, want %q", p.Records, got[0], want[p.Records])
				}
				diff(t, got, want[p.Records:])
			}
		})
	}
}

// TestResumeSeeks checks that resuming skips row groups and pages without
// reading them.
func TestResumeSeeks(t *testing.T) {
	rows := groupRows(20_000)
	data := writeRows(t, rows, parquetgo.MaxRowsPerRowGroup(5000), parquetgo.PageBufferSize(4096))
	full := newCounting(data)
	r, err := newReader(full, int64(len(data)), opts(), pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(dump(t, r)); n != 20_000 {
		t.Fatalf("%d records", n)
	}
	for _, at := range []int64{15_000, 19_990} {
		c := newCounting(data)
		r, err := newReader(c, int64(len(data)), opts(), pusher.Position{Records: at})
		if err != nil {
			t.Fatal(err)
		}
		got := dump(t, r)
		if len(got) != 20_000-int(at) || got[0][0] != fmt.Sprint("n:", at+1) {
			t.Fatalf("resumed at %d: %d records, first %q", at, len(got), got[0])
		}
		t.Logf("resume at %d read %d of %d bytes (a full read reads %d)", at, c.read(), len(data), full.read())
		if c.read() > full.read()/3 {
			t.Errorf("resume at %d read %d bytes, a full read %d", at, c.read(), full.read())
		}
	}
}

func TestResumeBounds(t *testing.T) {
	data, _ := manyGroups(t)
	r := open(t, data, opts(), pusher.Position{Records: 1000})
	var b pusher.Batch
	if err := r.Next(&b); err != io.EOF {
		t.Errorf("resumed at the end: %v", err)
	}
	if p := r.Pos(); p.Records != 1000 {
		t.Errorf("Pos() = %+v", p)
	}
	for _, p := range []pusher.Position{{Records: 1001}, {Records: -1}} {
		if _, err := newReader(bytes.NewReader(data), int64(len(data)), opts(), p); err == nil {
			t.Errorf("start %+v: no error", p)
		} else {
			t.Log(err)
		}
	}
	// Offset is not used.
	got := dump(t, open(t, data, opts(), pusher.Position{Records: 998, Offset: 12345}))
	if len(got) != 2 {
		t.Errorf("%d records", len(got))
	}
}

func TestBatchBytes(t *testing.T) {
	data, want := manyGroups(t)
	o := opts(func(o *format.Options) { o.BatchBytes = 200 })
	r := open(t, data, o, pusher.Position{})
	var b pusher.Batch
	var all [][]string
	for {
		err := r.Next(&b)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		// A batch stops at the record that reaches the limit.
		if b.Len() > 1 {
			b2 := pusher.Batch{}
			for i := range b.Len() - 1 {
				b2.StartRecord()
				for _, f := range b.Record(i) {
					b2.AddField(f.Kind, b.Value(f))
				}
			}
			if b2.Size() >= 200 {
				t.Fatalf("batch of %d records, %d bytes, went past the limit", b.Len(), b.Size())
			}
		}
		all = append(all, records(&b)...)
	}
	diff(t, all, want)
}

type longRow struct {
	ID int32  `parquet:"id"`
	S  string `parquet:"s"`
}

func TestMaxRecordBytes(t *testing.T) {
	rows := []longRow{{1, "a"}, {2, strings.Repeat("x", 200)}, {3, "c"}, {4, strings.Repeat("y", 101)}}
	data := writeRows(t, rows)
	o := opts(func(o *format.Options) { o.MaxRecordBytes = 100 })
	r := open(t, data, o, pusher.Position{})
	var b pusher.Batch
	type step struct {
		recs string
		err  string
		pos  int64
	}
	var got []step
	for range 6 {
		err := r.Next(&b)
		s := step{recs: fmt.Sprint(records(&b)), pos: r.Pos().Records}
		if err != nil {
			s.err = err.Error()
			var re *pusher.RecordError
			if errors.As(err, &re) && (re.Offset != -1 || re.Raw != nil) {
				t.Errorf("RecordError %+v", re)
			}
		}
		got = append(got, s)
	}
	want := []step{
		{"[[n:1 s:a]]", "", 1},
		{"[]", "record 2: record longer than 100 bytes", 1},
		{"[[n:3 s:c]]", "", 3},
		{"[]", "record 4: record longer than 100 bytes", 3},
		{"[]", "EOF", 3},
		{"[]", "EOF", 3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestNotParquet(t *testing.T) {
	data, _ := manyGroups(t)
	footerLen := int(data[len(data)-8]) | int(data[len(data)-7])<<8 | int(data[len(data)-6])<<16
	garbled := bytes.Clone(data)
	for i := len(data) - 8 - footerLen; i < len(data)-8; i++ {
		garbled[i] = 0xee
	}
	longFooter := bytes.Clone(data)
	longFooter[len(data)-5] = 0x7f
	encrypted := bytes.Clone(data)
	copy(encrypted, "PARE")
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a Parquet file: 0 bytes is too short"},
		{"short", []byte("PAR1PAR1"), "not a Parquet file: 8 bytes is too short"},
		{"csv", []byte("id,name\n1,a\n2,b\n3,c\n"), "not a Parquet file (no PAR1 magic at the start)"},
		{"truncated", data[:len(data)-100], "not a Parquet file, or truncated: no PAR1 magic at the end"},
		{"cut in half", data[:len(data)/2], "not a Parquet file, or truncated: no PAR1 magic at the end"},
		{"garbled footer", garbled, "invalid Parquet footer: "},
		{"footer longer than the file", longFooter, "invalid Parquet footer: 2130"},
		{"encrypted", encrypted, "encrypted Parquet files are not supported"},
		{"negative row count", readTestdata(t, "negative_row_group_num_rows.parquet"), "invalid Parquet footer: "},
	} {
		_, err := NewAt(bytes.NewReader(tt.data), int64(len(tt.data)), opts(), pusher.Position{})
		if err == nil || !strings.HasPrefix(err.Error(), "parquet: "+tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		} else {
			t.Logf("%s: %v", tt.name, err)
		}
	}
	// A read error is reported as such.
	boom := errors.New("boom")
	c := newCounting(data)
	c.failFrom, c.failTo, c.failWith = 0, int64(len(data)), boom
	if _, err := NewAt(c, int64(len(data)), opts(), pusher.Position{}); !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// chunkRange returns the byte range of a column chunk.
func chunkRange(t testing.TB, data []byte, group, column int) (int64, int64) {
	t.Helper()
	f, err := parquetgo.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	md := f.Metadata().RowGroups[group].Columns[column].MetaData
	start := md.DataPageOffset
	if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
		start = md.DictionaryPageOffset
	}
	return start, start + md.TotalCompressedSize
}

// TestCorrupt checks that a damaged page mid-file gives an error naming
// the row group and column, after the rows before it, and that the error
// is final.
func TestCorrupt(t *testing.T) {
	data, want := manyGroups(t)
	start, end := chunkRange(t, data, 2, 1) // row group 2, column "name"
	for _, tt := range []struct {
		name   string
		damage func([]byte)
	}{
		{"page header", func(d []byte) {
			for i := start; i < start+8; i++ {
				d[i] = 0xff
			}
		}},
		{"page data", func(d []byte) {
			for i := start + 20; i < end; i++ {
				d[i] = 0xff
			}
		}},
		{"zeroes", func(d []byte) {
			for i := start; i < end; i++ {
				d[i] = 0
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := bytes.Clone(data)
			tt.damage(d)
			r := open(t, d, opts(), pusher.Position{})
			var b pusher.Batch
			var got [][]string
			var err error
			for err == nil {
				err = r.Next(&b)
				got = append(got, records(&b)...)
			}
			if err == io.EOF {
				t.Fatalf("no error; %d records", len(got))
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "row group 2") {
				t.Errorf("error %q does not name row group 2", err)
			}
			if strings.Contains(err.Error(), "row group 2, column") && !strings.Contains(err.Error(), `row group 2, column "name"`) {
				t.Errorf("error %q names another column", err)
			}
			var re *pusher.RecordError
			if errors.As(err, &re) {
				t.Errorf("a corrupt page is a RecordError: %v", err)
			}
			if len(got) < 2*97 {
				t.Errorf("%d records before the error, want at least the first two row groups", len(got))
			}
			diff(t, got, want[:len(got)])
			if r.Pos().Records != int64(len(got)) {
				t.Errorf("Pos() = %+v after %d records", r.Pos(), len(got))
			}
			if err2 := r.Next(&b); err2 == nil || err2.Error() != err.Error() || b.Len() != 0 {
				t.Errorf("Next after the error = %v, %d records", err2, b.Len())
			}
		})
	}
}

func TestReadError(t *testing.T) {
	data, want := manyGroups(t)
	start, end := chunkRange(t, data, 5, 2) // row group 5, column "tags"
	boom := errors.New("boom")
	c := newCounting(data)
	r, err := newReader(c, int64(len(data)), opts(func(o *format.Options) { o.BatchRows = 50 }), pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	c.failFrom, c.failTo, c.failWith = start, end, boom
	var b pusher.Batch
	var got [][]string
	for err == nil {
		err = r.Next(&b)
		got = append(got, records(&b)...)
	}
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `row group 5, column "tags.list.element"`) {
		t.Errorf("error %v, want boom naming row group 5 and the column", err)
	}
	t.Log(err)
	if len(got) != 5*97 {
		t.Errorf("%d records before the error, want %d", len(got), 5*97)
	}
	diff(t, got, want[:len(got)])
}

func TestMalformed(t *testing.T) {
	for _, name := range []string{"negative_page_size.parquet", "num_values_exceeds_data.parquet"} {
		data := readTestdata(t, name)
		r := open(t, data, opts(), pusher.Position{})
		var b pusher.Batch
		err := r.Next(&b)
		if err == nil || !strings.Contains(err.Error(), `row group 0, column "id"`) {
			t.Errorf("%s: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}

func TestClose(t *testing.T) {
	data, _ := manyGroups(t)
	r := open(t, data, opts(func(o *format.Options) { o.BatchRows = 10 }), pusher.Position{})
	var b pusher.Batch
	if err := r.Next(&b); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Next(&b); err == nil || err == io.EOF {
		t.Errorf("Next after Close = %v", err)
	}
}

func TestRegistered(t *testing.T) {
	if !format.RandomAccess(format.Parquet) {
		t.Fatal("parquet is not registered as a random-access format")
	}
	data, want := manyGroups(t)
	r, err := format.NewAt(bytes.NewReader(data), int64(len(data)), format.Options{Format: format.Parquet}, pusher.Position{})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, dump(t, r), want)
}

// TestEmptyFile reads a file with a schema and no rows.
func TestEmptyFile(t *testing.T) {
	data := writeRows[groupRow](t, nil)
	r := open(t, data, opts(), pusher.Position{})
	var b pusher.Batch
	if err := r.Next(&b); err != io.EOF {
		t.Errorf("Next = %v", err)
	}
	if fmtCols(b.Columns) != "[id name tags]" {
		t.Errorf("columns %v", b.Columns)
	}
}
