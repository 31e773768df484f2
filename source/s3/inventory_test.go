package s3

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
)

const testSchema = "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass"

func TestParseManifest(t *testing.T) {
	ok := `{"sourceBucket":"src","destinationBucket":"arn:aws:s3:::inv","version":"2016-11-30","creationTimestamp":"1514944800000",
		"fileFormat":"CSV","fileSchema":"` + testSchema + `","files":[{"key":"inv/src/data/1.csv.gz","size":10,"MD5checksum":"x"}]}`
	m, err := ParseManifest(strings.NewReader(ok))
	if err != nil {
		t.Fatal(err)
	}
	if m.SourceBucket != "src" || len(m.Files) != 1 || m.Files[0].Key != "inv/src/data/1.csv.gz" {
		t.Errorf("manifest %+v", m)
	}
	if got, want := m.Created(), time.Date(2018, 1, 3, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("created %v, want %v", got, want)
	}
	for _, c := range []struct{ json, want string }{
		{`not json`, "not an inventory manifest"},
		{`{"fileFormat":"CSV","fileSchema":"Key"}`, "no sourceBucket"},
		{`{"sourceBucket":"s","fileFormat":"ORC","fileSchema":"` + testSchema + `"}`, `"ORC" format: only CSV and Parquet reports are read`},
		{`{"sourceBucket":"s","fileFormat":"CSV","fileSchema":"Bucket, Key, Size, LastModifiedDate"}`, "has no ETag field"},
		{`{"sourceBucket":"s","fileFormat":"CSV","fileSchema":"Bucket, Size, ETag, LastModifiedDate"}`, "has no Key field"},
		{`{"sourceBucket":"s","fileFormat":"CSV","fileSchema":"` + testSchema + `","files":[{"size":3}]}`, "file 1 has no key"},
	} {
		if _, err := ParseManifest(strings.NewReader(c.json)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.json, err, c.want)
		}
	}
}

func gzipped(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadInventoryCSV(t *testing.T) {
	sc, err := parseSchema(testSchema)
	if err != nil {
		t.Fatal(err)
	}
	rows := `"src","in/a.csv","","true","false","10","2024-05-01T10:00:00.000Z","0cc175b9c0f1b6a831c399e269772661","STANDARD"
"src","in/with%20space%2Bplus.csv","v2","true","false","3","2024-05-01T10:00:01.000Z","abc-2","STANDARD"
"src","in/old.csv","v1","false","false","3","2024-05-01T09:00:00.000Z","old","STANDARD"
"src","in/deleted.csv","v3","true","true","","2024-05-01T11:00:00.000Z","","STANDARD"
"other","in/b.csv","","true","false","1","2024-05-01T10:00:00.000Z","b","STANDARD"
"src","out/c.csv","","true","false","1","2024-05-01T10:00:00.000Z","c","STANDARD"
`
	var got []pusher.Object
	err = readInventoryCSV(bytes.NewReader(gzipped(t, rows)), true, sc, "src", "in/", func(page []pusher.Object) error {
		got = append(got, page...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []pusher.Object{
		{Key: "in/a.csv", Size: 10, ETag: "0cc175b9c0f1b6a831c399e269772661", LastModified: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)},
		{Key: "in/with space+plus.csv", Size: 3, ETag: "abc-2", LastModified: time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("objects\n%v\nwant\n%v", got, want)
	}

	for _, c := range []struct{ rows, want string }{
		{`"src","in/a.csv","","true","false","ten","2024-05-01T10:00:00Z","e","S"` + "\n", `row 1: key "in/a.csv": bad Size "ten"`},
		{`"src","in/a.csv","","true","false","1","yesterday","e","S"` + "\n" + `x`, `row 1: key "in/a.csv": bad LastModifiedDate "yesterday"`},
		{`"src","in/a.csv","","true","false","1","2024-05-01T10:00:00Z","e","S"` + "\n" + `"src","in/b.csv"` + "\n", "row 2: record on line 2: wrong number of fields"},
		{`"src","in/%zz","","true","false","1","2024-05-01T10:00:00Z","e","S"` + "\n", `row 1: bad key "in/%zz"`},
	} {
		err := readInventoryCSV(strings.NewReader(c.rows), false, sc, "src", "", func([]pusher.Object) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	if err := readInventoryCSV(bytes.NewReader(gzipped(t, rows)[:20]), true, sc, "src", "", func([]pusher.Object) error { return nil }); err == nil {
		t.Error("a truncated gzip file read without an error")
	}
}

// BenchmarkInventoryMillion reads a report file of 10^6 objects: the heap
// grows by about one page and the readers' buffers, whatever the file
// holds.
func BenchmarkInventoryMillion(b *testing.B) {
	sc, _ := parseSchema(testSchema)
	var raw bytes.Buffer
	zw := gzip.NewWriter(&raw)
	for i := range 1_000_000 {
		fmt.Fprintf(zw, "\"src\",\"logs/2024/05/01/app-%07d.log.gz\",\"\",\"true\",\"false\",\"%d\",\"2024-05-01T10:00:00.000Z\",\"%032x\",\"STANDARD\"\n", i, 1000+i, i)
	}
	zw.Close()
	data := raw.Bytes()
	b.SetBytes(int64(len(data)))
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	b.ResetTimer()
	cpu0 := cpuTime()
	var peak uint64
	for range b.N {
		n := 0
		err := readInventoryCSV(bytes.NewReader(data), true, sc, "src", "logs/", func(page []pusher.Object) error {
			n += len(page)
			if n%100_000 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
			return nil
		})
		if err != nil || n != 1_000_000 {
			b.Fatalf("%d objects, %v", n, err)
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(b.N), "cpu-ms/op")
	// The heap beyond what it held before (the compressed file itself).
	b.ReportMetric(float64(peak-min(peak, ms0.HeapInuse))/(1<<20), "heap-growth-MiB")
}

// cpuTime is the CPU time the process has used (user and system), to
// report benchmarks on a machine too busy for wall times.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
