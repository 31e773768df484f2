//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	parquetgo "github.com/parquet-go/parquet-go"
)

func TestCloudTrailMultiMemberGzip(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "ct")+` ("eventTime" timestamptz, "eventName" text, "awsRegion" text, "sourceIPAddress" text, "userIdentity" jsonb, "requestParameters" jsonb)`)
	doc := `{"Records":[` +
		`{"eventVersion":"1.08","eventTime":"2024-05-01T10:00:00Z","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.1","userIdentity":{"type":"IAMUser","userName":"alice"},"requestParameters":{"bucketName":"b","key":"k"}},` +
		`{"eventVersion":"1.08","eventTime":"2024-05-01T10:00:01Z","eventName":"PutObject","awsRegion":"eu-west-1","sourceIPAddress":"10.0.0.2","userIdentity":{"type":"AssumedRole"},"requestParameters":null}` +
		`]}`
	half := len(doc) / 2 // the second gzip member starts mid-document
	put(t, bucket, "AWSLogs/123/CloudTrail/eu-west-1/2024/05/01/trail.json.gz", gz(t, doc[:half], doc[half:]))
	r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/AWSLogs/", "--s3-path-style", "--target", databaseURL,
		"--table", schema+".ct", "--json-records-field", "Records", "--unknown-fields", "ignore")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, `SELECT "eventTime", "eventName", "awsRegion", "sourceIPAddress", "userIdentity"::text, "requestParameters"::text FROM `+table(schema, "ct")+` ORDER BY 1`), []string{
		`2024-05-01T10:00:00Z|GetObject|eu-west-1|10.0.0.1|{"type": "IAMUser", "userName": "alice"}|{"key": "k", "bucketName": "b"}`,
		`2024-05-01T10:00:01Z|PutObject|eu-west-1|10.0.0.2|{"type": "AssumedRole"}|NULL`,
	})
}

const albLines = `https 2024-05-01T10:00:00.186641Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET https://www.example.com:443/path?q=1 HTTP/1.1" "curl/8.0 \"quoted\"" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2024-05-01T10:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90
http 2024-05-01T10:00:01.000000Z app/my-lb/50dc6c495c0c9188 [2001:db8::1]:50000 - -1 -1 -1 503 - 0 326 "GET http://www.example.com:80/ HTTP/1.1" "-" - - - "Root=1-58337262-36d228ad5d99923122bbe355" "-" "-" 0 2024-05-01T10:00:01.000000Z "-" "-" "-" "-" "-" "-" "-"
`

func TestALBLogPreset(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	bucket := newBucket(t)
	put(t, bucket, "alb/2024/05/01/elb.log.gz", gz(t, albLines+"this is not an ALB line\n"))
	r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/alb/", "--s3-path-style", "--target", databaseURL,
		"--table", schema+".alb", "--lines-preset", "alb", "--on-error", "skip-record", "--pipeline", schema)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	rows := queryRows(t, `SELECT type, client_ip, client_port, target_ip, elb_status_code, target_status_code, request_method, request_url, user_agent, trace_id FROM `+table(schema, "alb")+` ORDER BY time`)
	equal(t, "rows", rows, []string{
		`https|192.168.131.39|2817|10.0.0.1|200|200|GET|https://www.example.com:443/path?q=1|curl/8.0 \"quoted\"|Root=1-58337262-36d228ad5d99923122bbe354`,
		`http|2001:db8::1|50000|NULL|503|NULL|GET|http://www.example.com:80/|NULL|Root=1-58337262-36d228ad5d99923122bbe355`,
	})
	equal(t, "rejects", queryRows(t, `SELECT record, raw FROM ferry.rejects WHERE pipeline = $1`, schema), []string{"3|this is not an ALB line"})
}

func TestPlainLines(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	dir := writeDir(t, map[string][]byte{"app.log": []byte("first line\r\n\nsecond, with \"quotes\"\nlast without newline")})
	r := ferry(t, "snapshot", "--source", dir, "--target", databaseURL, "--table", schema+".lines", "--system-columns")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	equal(t, "rows", queryRows(t, `SELECT _ferry_record, line FROM `+table(schema, "lines")+` ORDER BY 1`), []string{
		"1|first line", `2|second, with "quotes"`, "3|last without newline"})
}

type parquetRow struct {
	ID      int64             `parquet:"id"`
	Name    *string           `parquet:"name,optional"`
	Price   float64           `parquet:"price"`
	OK      bool              `parquet:"ok"`
	At      time.Time         `parquet:"at,timestamp(microsecond)"`
	Day     int32             `parquet:"day,date"` // days since 1970 (the writer mangles time.Time dates)
	Tags    []string          `parquet:"tags,list"`
	Attrs   map[string]string `parquet:"attrs"`
	Comment string            `parquet:"comment"`
}

func TestParquetFromMinIO(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	bucket := newBucket(t)
	name := "widget"
	var rows []parquetRow
	for i := range 2500 {
		r := parquetRow{ID: int64(i), Price: float64(i) / 4, OK: i%2 == 0,
			At:      time.Date(2024, 5, 1, 0, 0, i, 500_000, time.UTC),
			Day:     int32(time.Date(2024, 5, 1+i%28, 0, 0, 0, 0, time.UTC).Unix() / 86400),
			Tags:    []string{"a", fmt.Sprint(i)},
			Attrs:   map[string]string{"k": "v"},
			Comment: "café ñ",
		}
		if i%3 != 0 {
			r.Name = &name
		}
		rows = append(rows, r)
	}
	var buf bytes.Buffer
	w := parquetgo.NewGenericWriter[parquetRow](&buf, parquetgo.MaxRowsPerRowGroup(1000))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	put(t, bucket, "pq/part-0.parquet", buf.Bytes())
	put(t, bucket, "pq/broken.parquet", []byte("PAR1 this is not really parquet"))
	r := ferry(t, "snapshot", "--source", "s3://"+bucket+"/pq/", "--s3-path-style", "--target", databaseURL, "--table", schema+".pq",
		"--on-error", "skip-file", "--pipeline", schema, "--batch-rows", "700")
	if r.code != 1 || !strings.Contains(r.stderr, `file "pq/broken.parquet"`) {
		t.Fatalf("exit %d (want 1 for the broken file)", r.code)
	}
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "pq")); n != 2500 {
		t.Fatalf("rows = %d", n)
	}
	equal(t, "types", queryRows(t, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'pq' ORDER BY ordinal_position`, schema),
		[]string{"id|bigint", "name|text", "price|double precision", "ok|boolean", "at|timestamp with time zone", "day|date", "tags|jsonb", "attrs|jsonb", "comment|text"})
	equal(t, "rows", queryRows(t, `SELECT id, name, price, ok, at, day::text, tags::text, attrs::text, comment FROM `+table(schema, "pq")+` WHERE id IN (0, 1, 2499) ORDER BY id`), []string{
		`0|NULL|0|true|2024-05-01T00:00:00.0005Z|2024-05-01|["a", "0"]|{"k": "v"}|café ñ`,
		`1|widget|0.25|false|2024-05-01T00:00:01.0005Z|2024-05-02|["a", "1"]|{"k": "v"}|café ñ`,
		`2499|NULL|624.75|false|2024-05-01T00:41:39.0005Z|2024-05-08|["a", "2499"]|{"k": "v"}|café ñ`,
	})
	equal(t, "state", queryRows(t, `SELECT key, status FROM ferry.files WHERE pipeline = $1 ORDER BY key`, schema), []string{"pq/broken.parquet|failed", "pq/part-0.parquet|done"})
}

// TestLargeJSONArrayBoundedMemory loads a generated JSON array of
// FERRY_TEST_BIG_JSON_MB (default 1024) MB from MinIO, and one of a
// sixteenth of that, and asserts that ferry's peak resident memory does not
// grow with the input: the peak's growth between the two loads is at most
// half the input's growth (asserted when the input grows by 480 MiB or
// more, FERRY_TEST_BIG_JSON_MB >= 512).
//
// It asserts no absolute figure: the race detector, the garbage
// collector's timing and a loaded machine move the peak (by about 130 MiB
// between two runs of the same load), and one run took 538 MiB for 1 GiB
// of JSON under -race, another 422 MiB for 64 MB. No-leak growth is that
// noise, about 0.15 of the input's growth of 960 MB; a memory that kept
// even half of what it read would cross 0.5. The absolute peak RSS is measured by the benchmarks
// (make bench's RSS column, make bench-replicate's big part) and logged
// here.
func TestLargeJSONArrayBoundedMemory(t *testing.T) {
	t.Parallel()
	mb := 1024
	if v := os.Getenv("FERRY_TEST_BIG_JSON_MB"); v != "" {
		mb, _ = strconv.Atoi(v)
	}
	const (
		maxGrowth = 0.5 // peak RSS growth / input growth
		// Below this input growth, half of it is not clear of the noise:
		// the growth is logged, not asserted.
		minInputGrowth = 480 << 20
	)
	smallPeak, smallSize := loadJSONArray(t, max(mb/16, 1))
	bigPeak, bigSize := loadJSONArray(t, mb)
	growth := float64(bigPeak-smallPeak) / float64(bigSize-smallSize)
	t.Logf("peak RSS %.1f MiB for %.1f MB of JSON, %.1f MiB for %.1f MB: it grew by %.2f of the input's growth (at most %.2f)",
		float64(smallPeak)/(1<<20), float64(smallSize)/1e6, float64(bigPeak)/(1<<20), float64(bigSize)/1e6, growth, maxGrowth)
	if bigSize-smallSize < minInputGrowth {
		t.Logf("FERRY_TEST_BIG_JSON_MB=%d: the input grows by less than %d MiB, too little to tell growth from noise; not asserted", mb, minInputGrowth>>20)
		return
	}
	if growth > maxGrowth {
		t.Fatalf("peak RSS grew by %.0f MiB (%.2f of the input's growth of %.0f MB, at most %.2f allowed): memory grows with the file",
			float64(bigPeak-smallPeak)/(1<<20), growth, float64(bigSize-smallSize)/1e6, maxGrowth)
	}
}

// loadJSONArray loads one JSON document of about mb MB, an array of
// records under "Records", from MinIO, checks every row landed, and
// returns ferry's peak RSS and the document's size, in bytes. The peak is
// the kernel's high-water mark (VmHWM), read every 50 ms: it only grows, so
// the last reading misses at most the last 50 ms of ferry's life.
func loadJSONArray(t *testing.T, mb int) (peak, size int64) {
	t.Helper()
	schema := newSchema(t)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "big")+` (id bigint, "eventTime" timestamptz, "eventName" text, detail jsonb)`)
	path := filepath.Join(t.TempDir(), "big.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(`{"Records":[`)
	var n int64
	for size := 0; size < mb<<20; n++ {
		if n > 0 {
			w.WriteByte(',')
		}
		k, _ := fmt.Fprintf(w, `{"id":%d,"eventTime":"2024-05-01T10:%02d:%02dZ","eventName":"GetObject","detail":{"bucket":"logs","key":"2024/05/01/%08d.gz","bytes":%d,"tags":["a","b","c"]}}`, n, n/60%60, n%60, n, n*7)
		size += k + 1
	}
	w.WriteString("]}")
	w.Flush()
	f.Close()
	body, _ := os.Open(path)
	defer body.Close()
	st, _ := body.Stat()
	if _, err := s3Client.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("big/big.json"), Body: body, ContentLength: aws.Int64(st.Size())}); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)

	cmd := exec.Command(ferryBin, "snapshot", "--source", "s3://"+bucket+"/big/", "--s3-path-style", "--target", databaseURL,
		"--table", schema+".big", "--json-records-field", "Records", "--batch-bytes", "16MiB", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+s3Endpoint)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for waiting := true; waiting; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ferry: %v\n%s", err, stderr.String())
			}
			waiting = false
		case <-time.After(50 * time.Millisecond):
			if hwm := vmHWM(cmd.Process.Pid); hwm > peak {
				peak = hwm
			}
		}
	}
	t.Logf("loaded %d records, %d MB of JSON; ferry peak RSS %.1f MiB (race detector on)\n%s", n, st.Size()>>20, float64(peak)/(1<<20), stderr.String())
	if got := queryInt(t, "SELECT count(*) FROM "+table(schema, "big")); got != n {
		t.Fatalf("rows = %d, want %d", got, n)
	}
	return peak, st.Size()
}

// vmHWM is a process's peak resident set size so far, in bytes.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
