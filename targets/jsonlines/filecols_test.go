package jsonlines

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
)

func TestMetadataAndPartitionFields(t *testing.T) {
	b := &pusher.Batch{Columns: []string{"id"}}
	for _, v := range []string{"7", "8"} {
		b.StartRecord()
		b.AddField(pusher.Number, []byte(v))
	}
	var out bytes.Buffer
	tg := Writer("test", &out)
	tg.Metadata = []string{pusher.MetaLoadedAt, pusher.MetaSize, pusher.MetaModified, pusher.MetaETag, pusher.MetaRecord}
	tg.Partitions, _ = pusher.NewPartitions(true, "", func(k string) string { return strings.TrimPrefix(k, "in/") })
	mod := time.Date(2024, 5, 1, 10, 0, 0, 5000, time.UTC)
	c := &pusher.Chunk{File: pusher.Object{Key: `in/dt=2024-05-01/re"g=__HIVE_DEFAULT_PARTITION__/f.csv`, ETag: "e1", Size: 99, LastModified: mod},
		End: pusher.Position{Records: 2}, Batch: b}
	if err := tg.Write(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %q", out.String())
	}
	var loadedAt []string
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d %s: %v", i, line, err)
		}
		loadedAt = append(loadedAt, m["_ferry_loaded_at"].(string))
		// loaded_at is the same for the chunk's records; check the rest exactly.
		line = strings.Replace(line, `"_ferry_loaded_at":"`+loadedAt[i]+`"`, `"_ferry_loaded_at":"T"`, 1)
		want := `{"id":` + []string{"7", "8"}[i] + `,"_ferry_record":` + []string{"1", "2"}[i] +
			`,"_ferry_etag":"e1","_ferry_modified":"2024-05-01T10:00:00.000005Z","_ferry_size":99,"_ferry_loaded_at":"T","dt":"2024-05-01","re\"g":null}`
		if line != want {
			t.Errorf("line %d:\ngot  %s\nwant %s", i, line, want)
		}
	}
	if loadedAt[0] != loadedAt[1] {
		t.Errorf("loaded_at differs within a chunk: %v", loadedAt)
	}

	// A partition named like a field fails the chunk, naming the key.
	b.Columns = []string{"dt"}
	err := tg.Write(t.Context(), c)
	if err == nil || !strings.Contains(err.Error(), `partition "dt" has the name of a field of the file`) || !strings.Contains(err.Error(), strconv.Quote(c.File.Key)) {
		t.Errorf("clash: %v", err)
	}
}
