package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/source/sqs"
)

// fakeEngine and fakeQueue stand for a runner and an SQS feed.
type fakeEngine struct{ files, bytes, limit, backlog int64 }

func (e *fakeEngine) Inflight() (int64, int64, int64) { return e.files, e.bytes, e.limit }
func (e *fakeEngine) BacklogFiles() int64             { return e.backlog }

type fakeQueue struct {
	inflight int
	extended int64
}

func (q *fakeQueue) InFlight() int   { return q.inflight }
func (q *fakeQueue) Extended() int64 { return q.extended }

// TestMetricsMove: the observed events and the counters and gauges read
// show in the registry, labelled with the pipeline.
func TestMetricsMove(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(NewHealth())
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	m.now = func() time.Time { return now }
	// Observed before Register: it counts.
	m.FileEnded(pusher.Object{Key: "a", LastModified: now.Add(-90 * time.Second)}, runner.FileLoaded, 2*time.Second)
	m.Register(reg, "p1")
	var c runner.Counters
	e := &fakeEngine{files: 3, bytes: 1000, limit: 4096, backlog: 7}
	m.WatchRunner(&c, e)
	var qc sqs.Counters
	q := &fakeQueue{inflight: 2, extended: 5}
	m.WatchQueue(&qc, q)
	m.WatchLeases(&c)
	c.LeaseRanges.Store(16)
	c.LeasesHeld.Store(6)

	m.FileEnded(pusher.Object{Key: "b"}, runner.FileSkipped, 0)
	m.FileEnded(pusher.Object{Key: "c"}, runner.FileFailed, time.Second)
	m.FileEnded(pusher.Object{Key: "d"}, runner.FileQuarantined, time.Second)
	m.Committed(30 * time.Millisecond)
	m.Retried(runner.RetryUnavailable)
	m.Retried(runner.RetryUnavailable)
	c.Records.Add(10)
	c.ReadBytes.Add(300)
	c.Rejected.Add(1)
	qc.Received.Add(4)
	qc.Deleted.Add(3)
	qc.Garbage.Add(1)

	want := map[string]float64{
		`ferry_files_total{pipeline="p1",status="loaded"}`:        1,
		`ferry_files_total{pipeline="p1",status="skipped"}`:       1,
		`ferry_files_total{pipeline="p1",status="failed"}`:        1,
		`ferry_files_total{pipeline="p1",status="quarantined"}`:   1,
		`ferry_retries_total{pipeline="p1",reason="unavailable"}`: 2,
		`ferry_retries_total{pipeline="p1",reason="claimed"}`:     0,
		`ferry_rows_total{pipeline="p1"}`:                         10,
		`ferry_bytes_total{pipeline="p1"}`:                        300,
		`ferry_rejected_records_total{pipeline="p1"}`:             1,
		`ferry_files_inflight{pipeline="p1"}`:                     3,
		`ferry_inflight_bytes{pipeline="p1"}`:                     1000,
		`ferry_inflight_bytes_limit{pipeline="p1"}`:               4096,
		`ferry_backlog_files{pipeline="p1"}`:                      7,
		`ferry_load_seconds_sum{pipeline="p1"}`:                   2,
		`ferry_load_seconds_count{pipeline="p1"}`:                 1,
		`ferry_file_lag_seconds_sum{pipeline="p1"}`:               90,
		`ferry_commit_seconds_count{pipeline="p1"}`:               1,
		`ferry_last_success_timestamp_seconds{pipeline="p1"}`:     float64(now.Unix()),
		`ferry_sqs_messages_received_total{pipeline="p1"}`:        4,
		`ferry_sqs_messages_deleted_total{pipeline="p1"}`:         3,
		`ferry_sqs_messages_inflight{pipeline="p1"}`:              2,
		`ferry_sqs_visibility_extensions_total{pipeline="p1"}`:    5,
		`ferry_sqs_messages_rejected_total{pipeline="p1"}`:        1,
		`ferry_lease_ranges_owned{pipeline="p1"}`:                 6,
		`ferry_lease_ranges{pipeline="p1"}`:                       16,
	}
	got := scrape(t, reg)
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// The rows step back for a moment (the target's rejects are known
	// after the reader's count): the counter does not.
	c.Records.Add(-2)
	if g := scrape(t, reg)[`ferry_rows_total{pipeline="p1"}`]; g != 10 {
		t.Errorf("rows after a step back = %v, want 10", g)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// scrape gathers reg into name{labels} -> value (histograms as _sum and
// _count).
func scrape(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := func(suffix string) string { return mf.GetName() + suffix + "{" + strings.Join(labels, ",") + "}" }
			switch {
			case mt.Counter != nil:
				out[key("")] = mt.Counter.GetValue()
			case mt.Gauge != nil:
				out[key("")] = mt.Gauge.GetValue()
			case mt.Histogram != nil:
				out[key("_sum")] = mt.Histogram.GetSampleSum()
				out[key("_count")] = float64(mt.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// TestReadyReasons: ready once both services answered within their
// windows; a failed or old round trip says why, in one line.
func TestReadyReasons(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := NewHealth()
	h.now = func() time.Time { return now }
	ctx := t.Context()
	check := func(wantOK bool, wantWhy string) {
		t.Helper()
		ok, why := h.Ready(ctx)
		if ok != wantOK || !strings.Contains(why, wantWhy) || strings.Contains(why, "\n") {
			t.Errorf("Ready = %v, %q; want %v, containing %q, one line", ok, why, wantOK, wantWhy)
		}
	}
	check(false, "state/target: no successful round trip yet")
	h.State(nil)
	check(false, "source (listing or queue receive): no successful round trip yet")
	h.Source(nil)
	check(true, "ready")
	now = now.Add(5 * time.Second)
	h.State(errors.New("dial tcp 127.0.0.1:5432: connection refused\nsecond line"))
	check(false, "state/target: last round trip failed 0s ago: dial tcp 127.0.0.1:5432: connection refused")
	h.State(nil)
	check(true, "ready")
	now = now.Add(2 * time.Minute)
	check(false, "state/target: no successful round trip for 2m0s")
	h.State(nil)
	check(false, "source (listing or queue receive): no successful round trip for 2m")
	h.SourceWindow = -1 // a snapshot: any age
	check(true, "ready")
	h.Source(errors.New("list: access denied"))
	check(false, "last round trip failed 0s ago: list: access denied")
}

// TestReadyPings: an idle or failing state is pinged (at most every
// PingEvery) and the ping's outcome decides.
func TestReadyPings(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := NewHealth()
	h.now = func() time.Time { return now }
	pingErr, pings := errors.New("connection refused"), 0
	h.Ping = func(context.Context) error { pings++; return pingErr }
	h.Source(nil)
	if ok, why := h.Ready(t.Context()); ok || !strings.Contains(why, "connection refused") || pings != 1 {
		t.Fatalf("Ready = %v, %q after %d pings; want not ready for the failed ping, 1 ping", ok, why, pings)
	}
	pingErr = nil
	if ok, _ := h.Ready(t.Context()); ok || pings != 1 {
		t.Fatalf("Ready = %v after %d pings; want no ping within PingEvery", ok, pings)
	}
	now = now.Add(h.PingEvery)
	if ok, why := h.Ready(t.Context()); !ok || pings != 2 {
		t.Fatalf("Ready = %v, %q after %d pings; want ready after the second ping", ok, why, pings)
	}
	now = now.Add(h.PingEvery)
	h.Source(nil)
	if ok, _ := h.Ready(t.Context()); !ok || pings != 2 {
		t.Fatalf("Ready = %v after %d pings; want a fresh state left alone", ok, pings)
	}
	now = now.Add(2 * h.PingEvery)
	h.Source(nil)
	if ok, _ := h.Ready(t.Context()); !ok || pings != 3 {
		t.Fatalf("Ready = %v after %d pings; want an idle state pinged", ok, pings)
	}
}

// TestServer: the endpoints answer; /readyz says "starting" until
// SetReady, then the reason; a second Listen on the same port fails with
// one line; a bad address is an AddrError.
func TestServer(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 503 || body != "starting\n" {
		t.Errorf("/readyz = %d %q, want 503 starting", code, body)
	}
	s.SetReady(func(context.Context) (bool, string) { return false, "state/target: down" })
	if code, body := get("/readyz"); code != 503 || body != "state/target: down\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	s.SetReady(func(context.Context) (bool, string) { return true, "ready" })
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	m := New(NewHealth())
	m.Register(s.Registry, "p")
	m.Retried(runner.RetryPass)
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `ferry_retries_total{pipeline="p",reason="pass"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d, missing the retry or the Go metrics:\n%s", code, body)
	}

	_, err = Listen(s.Addr())
	if err == nil || !strings.Contains(err.Error(), "address already in use") || strings.Contains(err.Error(), "\n") {
		t.Errorf("second Listen on %s: %v, want one line saying the address is in use", s.Addr(), err)
	}
	var ae *AddrError
	if _, err := Listen("9090"); !errors.As(err, &ae) {
		t.Errorf("Listen(9090): %v, want an AddrError", err)
	}
	if _, err := net.Dial("tcp", s.Addr()); err != nil {
		t.Errorf("the server stopped after a failed second Listen: %v", err)
	}
}
