package s3

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	parquetgo "github.com/parquet-go/parquet-go"

	"github.com/ferrydata/ferry/pusher"
)

// testParquetSchema is the fileSchema of a Parquet manifest, as AWS
// writes it (the columns of invRow).
const testParquetSchema = "message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); }"

// invRow is a row of a Parquet report, with AWS's column names and types.
type invRow struct {
	Bucket         string  `parquet:"bucket"`
	Key            string  `parquet:"key"`
	VersionID      *string `parquet:"version_id,optional"`
	IsLatest       *bool   `parquet:"is_latest,optional"`
	IsDeleteMarker *bool   `parquet:"is_delete_marker,optional"`
	Size           *int64  `parquet:"size,optional"`
	LastModified   *int64  `parquet:"last_modified_date,optional,timestamp(millisecond:utc)"`
	ETag           *string `parquet:"e_tag,optional"`
	StorageClass   *string `parquet:"storage_class,optional"`
}

func ptr[T any](v T) *T { return &v }

// newInvRow is the row of a current object.
func newInvRow(bucket, key string, size int64, mod time.Time, etag string) invRow {
	return invRow{Bucket: bucket, Key: key, IsLatest: ptr(true), IsDeleteMarker: ptr(false), Size: ptr(size),
		LastModified: ptr(mod.UnixMilli()), ETag: ptr(etag), StorageClass: ptr("STANDARD")}
}

// inventoryParquet writes rows as a Parquet file with row groups of at most
// groupRows rows (0: one group) and small pages.
func inventoryParquet[T any](t testing.TB, rows []T, groupRows int64) []byte {
	t.Helper()
	var b bytes.Buffer
	opts := []parquetgo.WriterOption{parquetgo.PageBufferSize(4 << 10)}
	if groupRows > 0 {
		opts = append(opts, parquetgo.MaxRowsPerRowGroup(groupRows))
	}
	w := parquetgo.NewGenericWriter[T](&b, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readParquetBytes(data []byte, bucket, prefix string) ([]pusher.Object, error) {
	var got []pusher.Object
	err := readInventoryParquet(bytes.NewReader(data), int64(len(data)), bucket, prefix, func(page []pusher.Object) error {
		got = append(got, page...)
		return nil
	})
	return got, err
}

func TestParseManifestParquet(t *testing.T) {
	m, err := ParseManifest(strings.NewReader(`{"sourceBucket":"src","fileFormat":"Parquet","fileSchema":"` + testParquetSchema + `",
		"files":[{"key":"inv/src/data/1.parquet","size":10,"MD5checksum":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !m.parquet() || len(m.Files) != 1 {
		t.Errorf("manifest %+v", m)
	}
	// The schema as newer reports write it.
	if _, err := ParseManifest(strings.NewReader(`{"sourceBucket":"src","fileFormat":"Parquet","fileSchema":"message s3.inventory {  required binary bucket (STRING);  required binary key (STRING);  optional int64 size;  optional int64 last_modified_date (TIMESTAMP(MILLIS,true));  optional binary e_tag (STRING);}"}`)); err != nil {
		t.Error(err)
	}
	for _, c := range []struct{ json, want string }{
		{`{"sourceBucket":"s","fileFormat":"Parquet","fileSchema":"message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); }"}`, "has no e_tag column"},
		{`{"sourceBucket":"s","fileFormat":"Parquet","fileSchema":"` + testSchema + `"}`, "has no key column"},
		{`{"sourceBucket":"s","fileFormat":"Parquet","fileSchema":"` + testParquetSchema + `","files":[{"size":3}]}`, "file 1 has no key"},
	} {
		if _, err := ParseManifest(strings.NewReader(c.json)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.json, err, c.want)
		}
	}
}

func TestReadInventoryParquet(t *testing.T) {
	mod := time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)
	old := newInvRow("src", "in/old.csv", 3, mod, "old")
	old.IsLatest = ptr(false)
	deleted := newInvRow("src", "in/deleted.csv", 0, mod, "")
	deleted.IsDeleteMarker, deleted.Size, deleted.ETag = ptr(true), nil, nil
	rows := []invRow{
		newInvRow("src", "in/a.csv", 10, mod, "0cc175b9c0f1b6a831c399e269772661"),
		// Keys are not URL-encoded in Parquet reports.
		newInvRow("src", "in/with space+plus%20.csv", 3, mod.Add(time.Second), `"abc-2"`),
		old, deleted,
		newInvRow("other", "in/b.csv", 1, mod, "b"),
		newInvRow("src", "out/c.csv", 1, mod, "c"),
	}
	got, err := readParquetBytes(inventoryParquet(t, rows, 0), "src", "in/")
	if err != nil {
		t.Fatal(err)
	}
	want := []pusher.Object{
		{Key: "in/a.csv", Size: 10, ETag: "0cc175b9c0f1b6a831c399e269772661", LastModified: mod},
		{Key: "in/with space+plus%20.csv", Size: 3, ETag: "abc-2", LastModified: mod.Add(time.Second)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("objects\n%v\nwant\n%v", got, want)
	}

	// Many rows over several row groups and pages, columns read side by
	// side whatever their page boundaries; a report without the optional
	// columns.
	type minimal struct {
		Key          string `parquet:"key"`
		Size         int64  `parquet:"size"`
		LastModified int64  `parquet:"last_modified_date,timestamp(microsecond)"`
		ETag         string `parquet:"e_tag"`
	}
	var many []minimal
	for i := range 5000 {
		many = append(many, minimal{Key: fmt.Sprintf("in/%05d", i), Size: int64(i), LastModified: mod.UnixMicro() + int64(i), ETag: strings.Repeat("e", i%50)})
	}
	got, err = readParquetBytes(inventoryParquet(t, many, 1500), "src", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(many) {
		t.Fatalf("%d objects, want %d", len(got), len(many))
	}
	for i, o := range got {
		if o.Key != many[i].Key || o.Size != int64(i) || o.ETag != many[i].ETag || !o.LastModified.Equal(mod.Add(time.Duration(i)*time.Microsecond)) {
			t.Fatalf("object %d: %+v, want %+v", i, o, many[i])
		}
	}
}

func TestReadInventoryParquetErrors(t *testing.T) {
	mod := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	good := inventoryParquet(t, []invRow{newInvRow("src", "in/a.csv", 10, mod, "e")}, 0)
	type noETag struct {
		Key          string `parquet:"key"`
		Size         int64  `parquet:"size"`
		LastModified int64  `parquet:"last_modified_date,timestamp"`
	}
	type textSize struct {
		Key          string `parquet:"key"`
		Size         string `parquet:"size"`
		LastModified int64  `parquet:"last_modified_date,timestamp"`
		ETag         string `parquet:"e_tag"`
	}
	type emptyKey struct {
		Key          string `parquet:"key"`
		Size         int64  `parquet:"size"`
		LastModified int64  `parquet:"last_modified_date,timestamp"`
		ETag         string `parquet:"e_tag"`
	}
	// The first half of a larger file (its pages) overwritten.
	var rows []invRow
	for i := range 1000 {
		rows = append(rows, newInvRow("src", fmt.Sprintf("in/%04d", i), 10, mod, "e"))
	}
	corrupt := inventoryParquet(t, rows, 0)
	for i := 4; i < len(corrupt)/2; i++ {
		corrupt[i] = 0xff
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"no e_tag", inventoryParquet(t, []noETag{{"k", 1, 1}}, 0), "no e_tag column (ferry needs key, size, last_modified_date and e_tag)"},
		{"size as text", inventoryParquet(t, []textSize{{"k", "1", 1, "e"}}, 0), "column size is STRING, want INT64"},
		{"empty key", inventoryParquet(t, []emptyKey{{"", 1, 1, "e"}}, 0), "row 1: no key"},
		{"not parquet", gzipped(t, "a,b\n"), "not a Parquet file"},
		{"truncated", good[:len(good)-10], "not a Parquet file"},
		{"corrupt pages", corrupt, `row group 0, column "key", page 0: `},
	} {
		_, err := readParquetBytes(c.data, "src", "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// BenchmarkInventoryParquetMillion reads a Parquet report file of 10^6
// objects (AWS's columns, row groups of 128Ki rows): the heap grows by
// about a page of each column read and one page of objects, whatever the
// file holds.
func BenchmarkInventoryParquetMillion(b *testing.B) {
	const n = 1_000_000
	mod := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	var data []byte
	{
		var raw bytes.Buffer
		w := parquetgo.NewGenericWriter[invRow](&raw, parquetgo.MaxRowsPerRowGroup(128<<10), parquetgo.Compression(&parquetgo.Snappy))
		rows := make([]invRow, 0, 10_000)
		for i := range n {
			rows = append(rows, newInvRow("src", fmt.Sprintf("logs/2024/05/01/app-%07d.log.gz", i), int64(1000+i), mod, fmt.Sprintf("%032x", i)))
			if len(rows) == cap(rows) {
				if _, err := w.Write(rows); err != nil {
					b.Fatal(err)
				}
				rows = rows[:0]
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		data = raw.Bytes()
	}
	b.SetBytes(int64(len(data)))
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	cpu0 := cpuTime()
	var peak uint64
	for range b.N {
		got := 0
		err := readInventoryParquet(bytes.NewReader(data), int64(len(data)), "src", "logs/", func(page []pusher.Object) error {
			got += len(page)
			if got%50_000 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
			return nil
		})
		if err != nil || got != n {
			b.Fatalf("%d objects, %v", got, err)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "objects/s")
	cpu := cpuTime() - cpu0
	b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(b.N)*n/cpu.Seconds(), "objects/cpu-s")
	// The heap beyond what it held before (the file itself).
	b.ReportMetric(float64(peak-min(peak, ms0.HeapInuse))/(1<<20), "heap-growth-MiB")
}

// FuzzReadInventoryParquet: whatever the bytes, reading a report file
// returns objects or an error, and never panics.
func FuzzReadInventoryParquet(f *testing.F) {
	mod := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	var rows []invRow
	for i := range 300 {
		rows = append(rows, newInvRow("src", fmt.Sprintf("in/%04d", i), int64(i), mod, fmt.Sprint(i)))
	}
	f.Add(inventoryParquet(f, rows, 100))
	f.Add(inventoryParquet(f, rows[:1], 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := readParquetBytes(data, "src", "")
		if err == nil {
			for _, o := range got {
				if o.Key == "" {
					t.Fatalf("an object without a key: %+v", o)
				}
			}
		}
	})
}
