//go:build integration

package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricsAddr is a free loopback HOST:PORT for --metrics-addr.
func metricsAddr(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", freePort(t))
}

// httpGet returns the status and body of a GET, or 0 and the error's text
// when the server does not answer (yet).
func httpGet(url string) (int, string) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue finds the sample of name whose labels contain every one of
// labels (`status="loaded"`) in a Prometheus text exposition; ok is false
// when there is none.
func metricValue(body, name string, labels ...string) (float64, bool) {
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		return v, err == nil
	}
	return 0, false
}

// scrape returns name's value (with labels) from ferry's /metrics at addr,
// failing the test when it is missing.
func scrapeMetric(t *testing.T, addr, name string, labels ...string) float64 {
	t.Helper()
	code, body := httpGet("http://" + addr + "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	v, ok := metricValue(body, name, labels...)
	if !ok {
		t.Fatalf("/metrics has no %s%v:\n%s", name, labels, body)
	}
	return v
}

// TestMetricsReplicate scrapes /metrics of a polling replication from
// MinIO into PostgreSQL while files arrive: the counters move, and the
// files loaded and the rows agree with ferry.files; /healthz and /readyz
// answer 200.
func TestMetricsReplicate(t *testing.T) {
	t.Parallel()
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("repl-metrics-")
	addr := metricsAddr(t)
	put(t, bucket, "in/a.csv", idsCSV(1, 100, "a"))
	put(t, bucket, "in/b.csv", idsCSV(101, 350, "b"))
	r := startReplicate(t, append(pgArgs("s3://"+bucket+"/in/", schema, pipeline),
		"--metrics-addr", addr, "--inflight-bytes", "32MiB")...)
	label := fmt.Sprintf(`pipeline=%q`, pipeline)
	doneSQL := `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`
	rowsSQL := `SELECT coalesce(sum(loaded), 0)::bigint FROM ferry.files WHERE pipeline = $1 AND status = 'done'`

	// agree waits until /metrics and ferry.files agree on files and rows,
	// and returns them.
	agree := func(wantFiles int64) (files, rows float64) {
		t.Helper()
		r.waitCount(wantFiles, doneSQL, pipeline)
		r.waitFor("/metrics to agree with ferry.files", func() bool {
			code, body := httpGet("http://" + addr + "/metrics")
			if code != 200 {
				return false
			}
			files, _ = metricValue(body, "ferry_files_total", label, `status="loaded"`)
			rows, _ = metricValue(body, "ferry_rows_total", label)
			return int64(files) == queryInt(t, doneSQL, pipeline) && int64(rows) == queryInt(t, rowsSQL, pipeline)
		})
		return files, rows
	}
	files, rows := agree(2)
	if files != 2 || rows != 350 {
		t.Fatalf("/metrics: %v files loaded, %v rows; want 2 and 350", files, rows)
	}
	bytes1 := scrapeMetric(t, addr, "ferry_bytes_total", label)
	if bytes1 <= 0 {
		t.Errorf("ferry_bytes_total = %v after two files", bytes1)
	}

	put(t, bucket, "in/c.csv", idsCSV(351, 1000, "c"))
	files, rows = agree(3)
	if files != 3 || rows != 1000 {
		t.Fatalf("/metrics: %v files loaded, %v rows; want 3 and 1000", files, rows)
	}
	if b := scrapeMetric(t, addr, "ferry_bytes_total", label); b <= bytes1 {
		t.Errorf("ferry_bytes_total did not move with c.csv: %v, then %v", bytes1, b)
	}
	for _, m := range []struct {
		name   string
		labels []string
		check  func(float64) bool
		want   string
	}{
		{"ferry_files_total", []string{`status="failed"`}, func(v float64) bool { return v == 0 }, "0"},
		{"ferry_files_total", []string{`status="skipped"`}, func(v float64) bool { return v >= 2 }, ">= 2 (the loaded files listed again)"},
		{"ferry_load_seconds_count", nil, func(v float64) bool { return v == 3 }, "3"},
		{"ferry_file_lag_seconds_count", nil, func(v float64) bool { return v == 3 }, "3"},
		{"ferry_commit_seconds_count", nil, func(v float64) bool { return v >= 1 }, ">= 1"},
		{"ferry_inflight_bytes_limit", nil, func(v float64) bool { return v == 32<<20 }, "32 MiB"},
		{"ferry_backlog_files", nil, func(v float64) bool { return v == 0 }, "0"},
		{"ferry_last_success_timestamp_seconds", nil, func(v float64) bool {
			return v > float64(time.Now().Add(-time.Hour).Unix()) && v <= float64(time.Now().Unix()+1)
		}, "within the last hour"},
	} {
		if v := scrapeMetric(t, addr, m.name, append(m.labels, label)...); !m.check(v) {
			t.Errorf("%s%v = %v, want %s", m.name, m.labels, v, m.want)
		}
	}
	if code, body := httpGet("http://" + addr + "/healthz"); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	r.waitFor("/readyz 200", func() bool { code, _ := httpGet("http://" + addr + "/readyz"); return code == 200 })
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
}

// TestMetricsReadyzPostgresDown: /readyz turns 503, with a reason naming
// the state, while the PostgreSQL server is stopped, and 200 once it is
// back; replicate rides it out.
func TestMetricsReadyzPostgresDown(t *testing.T) {
	t.Parallel()
	srv := startPGServer(t)
	dir := writeDir(t, map[string][]byte{"a.csv": idsCSV(1, 10, "a")})
	addr := metricsAddr(t)
	r := startReplicate(t, "--source", dir, "--target", srv.url("ferry"), "--table", "public.t",
		"--pipeline", "readyz", "--metrics-addr", addr)
	readyz := func() (int, string) { return httpGet("http://" + addr + "/readyz") }
	r.waitFor("/readyz 200 with the file loaded", func() bool {
		code, _ := readyz()
		return code == 200 && srv.queryInt("ferry", `SELECT count(*) FROM pg_tables WHERE schemaname = 'ferry' AND tablename = 'files'`) == 1 &&
			srv.queryInt("ferry", `SELECT count(*) FROM ferry.files WHERE status = 'done'`) == 1
	})
	srv.stop("fast")
	var body string
	r.waitFor("/readyz 503 while PostgreSQL is down", func() bool {
		var code int
		code, body = readyz()
		return code == 503
	})
	body = strings.TrimSuffix(body, "\n")
	t.Logf("/readyz while PostgreSQL is down: 503 %s", body)
	if !strings.HasPrefix(body, "state/target: ") || strings.Contains(body, "\n") {
		t.Errorf("/readyz body %q: want one line naming the state/target", body)
	}
	if code, _ := httpGet("http://" + addr + "/healthz"); code != 200 {
		t.Errorf("/healthz %d while PostgreSQL is down, want 200 (the process runs)", code)
	}
	srv.start()
	r.waitFor("/readyz 200 once PostgreSQL is back", func() bool { code, _ := readyz(); return code == 200 })
	// The loop goes on: a new file loads.
	if err := os.WriteFile(filepath.Join(dir, "b.csv"), idsCSV(11, 20, "b"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.waitFor("b.csv loaded after the restart", func() bool {
		return srv.queryInt("ferry", `SELECT count(*) FROM ferry.files WHERE status = 'done'`) == 2
	})
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
}

// TestMetricsAddrInUse: a --metrics-addr port already in use fails the
// start with one line and exit 1, before anything loads; an address that
// is not HOST:PORT is a usage error (exit 2).
func TestMetricsAddrInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := writeDir(t, map[string][]byte{"a.csv": idsCSV(1, 10, "a")})
	work := t.TempDir()
	state, out := filepath.Join(work, "state"), filepath.Join(work, "out.jsonl")
	for _, command := range []string{"snapshot", "replicate"} {
		res := ferry(t, command, "--source", dir, "--target", "file:"+out, "--state", state, "--metrics-addr", l.Addr().String())
		lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
		if res.code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "--metrics-addr "+l.Addr().String()) ||
			!strings.Contains(lines[0], "address already in use") {
			t.Errorf("%s with the port in use: exit %d, stderr %q; want exit 1 and one line naming the address and why", command, res.code, res.stderr)
		}
		for _, p := range []string{state, out} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s with the port in use created %s (stat: %v): it must fail before loading", command, p, err)
			}
		}
	}
	res := ferry(t, "snapshot", "--source", dir, "--target", "file:"+out, "--state", state, "--metrics-addr", "9090")
	if res.code != 2 || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 || !strings.Contains(res.stderr, "HOST:PORT") {
		t.Errorf("--metrics-addr 9090: exit %d, stderr %q; want exit 2 and one line asking for HOST:PORT", res.code, res.stderr)
	}
}

// TestMetricsSQS scrapes the SQS metrics of a replication from
// notifications: a notification whose object loads and a body that is not
// a notification (rejected at its first receive) are both received and
// deleted, and nothing stays in flight.
func TestMetricsSQS(t *testing.T) {
	t.Parallel()
	c := newSQSClient(t)
	queue := newQueue(t, c)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("sqs-metrics-")
	addr := metricsAddr(t)
	good := putObject(t, bucket, "in/good.csv", idsCSV(1, 5, "good"))
	send(t, c, queue, s3Notification("ObjectCreated:Put", bucket, good))
	send(t, c, queue, "not a notification")
	r := startReplicate(t, sqsArgs(bucket, "in", queue, schema, pipeline, "--sqs-max-receives", "1", "--backfill=false",
		"--metrics-addr", addr)...)
	r.waitCount(5, countSQL(schema))
	waitQueueEmpty(r, c, queue)
	label := fmt.Sprintf(`pipeline=%q`, pipeline)
	want := map[string]float64{
		"ferry_sqs_messages_received_total": 2,
		"ferry_sqs_messages_deleted_total":  2,
		"ferry_sqs_messages_rejected_total": 1,
		"ferry_sqs_messages_inflight":       0,
		"ferry_rows_total":                  5,
	}
	r.waitFor("the SQS metrics to settle", func() bool {
		code, body := httpGet("http://" + addr + "/metrics")
		if code != 200 {
			return false
		}
		for name, v := range want {
			if got, ok := metricValue(body, name, label); !ok || got != v {
				return false
			}
		}
		return true
	})
	if v := scrapeMetric(t, addr, "ferry_files_total", label, `status="loaded"`); v != 1 {
		t.Errorf(`ferry_files_total{status="loaded"} = %v, want 1`, v)
	}
	scrapeMetric(t, addr, "ferry_sqs_visibility_extensions_total", label) // served (fails the test when missing)
	r.waitFor("/readyz 200", func() bool { code, _ := httpGet("http://" + addr + "/readyz"); return code == 200 })
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
}
