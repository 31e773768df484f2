package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source/runner"
)

// TestEndpoint: what the endpoint's Metrics observe before Watch counts;
// /readyz says "starting" until Watch, then answers from the health with
// the window and ping given (a snapshot's: any age of listing); the
// runner's counters are served under the pipeline's label.
func TestEndpoint(t *testing.T) {
	e, err := Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + e.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	e.Metrics.FileEnded(pusher.Object{Key: "a"}, runner.FileLoaded, 0)
	e.Metrics.SourceRoundTrip(nil)
	if code, body := get("/readyz"); code != 503 || body != "starting\n" {
		t.Errorf("/readyz before Watch = %d %q, want 503 starting", code, body)
	}
	var c runner.Counters
	c.Records.Add(42)
	down := errors.New("connection refused")
	e.Watch("p", &c, &fakeEngine{}, -1, func(context.Context) error { return down })
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "connection refused") {
		t.Errorf("/readyz with the state down = %d %q", code, body)
	}
	if e.Health.SourceWindow != -1 {
		t.Errorf("source window %v, want -1", e.Health.SourceWindow)
	}
	code, body := get("/metrics")
	for _, want := range []string{`ferry_rows_total{pipeline="p"} 42`, `ferry_files_total{pipeline="p",status="loaded"} 1`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics = %d, no %s", code, want)
		}
	}
}
