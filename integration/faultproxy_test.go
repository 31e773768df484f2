//go:build integration

package integration

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultProxy is an S3 endpoint in front of MinIO that fails on purpose:
// an httputil.ReverseProxy on a loopback port whose script decides, for
// each request, to pass it, answer 503 SlowDown, cut the body short at a
// random offset, or stall it mid-body, with some latency on everything.
// Faults are bounded per object (faultsPerKey), so every load ends.
type faultProxy struct {
	URL string

	stall time.Duration // how long a stalled body sends nothing

	// script, when set, decides instead of decide's S3 script (under mu).
	script func(fp *faultProxy, r *http.Request) fault
	// downUntil: until then every request is reset (an outage).
	downUntil time.Time
	// maxFaults, when > 0, bounds the object-GET faults in all;
	// quietListing spares listings their 503 bursts.
	maxFaults    int
	quietListing bool
	// outageAt, when > 0, starts an outage of outageFor at that object
	// GET (which is reset, as the rest of the outage).
	outageAt  int
	outageFor time.Duration

	mu      sync.Mutex
	rng     *rand.Rand
	perKey  map[string]int // object GETs faulted so far
	burst   int            // requests left to answer 503
	listN   int            // listing requests seen
	counts  map[string]int // faults injected, by kind
	objGETs int
	faulted int // object GETs faulted
}

// faultsPerKey bounds the faults injected into the GETs of one object.
const faultsPerKey = 3

func newFaultProxy(t *testing.T, upstream string, stall time.Duration) *faultProxy {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	fp := &faultProxy{stall: stall, rng: rand.New(rand.NewPCG(1, 2)), perKey: map[string]int{}, counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = nil
	rp.ModifyResponse = func(resp *http.Response) error {
		if f, ok := resp.Request.Context().Value(faultKey{}).(bodyFault); ok && resp.StatusCode/100 == 2 && resp.ContentLength > 1 {
			resp.Body = f.wrap(resp.Request.Context(), resp.Body, resp.ContentLength)
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fault := fp.decide(r)
		if fault.latency > 0 {
			time.Sleep(fault.latency)
		}
		if fault.reset {
			// The connection is reset: nothing of the request reaches
			// the upstream, and the client reads an error.
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					tc.SetLinger(0)
				}
				conn.Close()
			}
			return
		}
		if fault.slowDown {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><Resource>%s</Resource><RequestId>fault</RequestId></Error>`, r.URL.Path)
			return
		}
		if fault.body != nil {
			r = r.WithContext(context.WithValue(r.Context(), faultKey{}, *fault.body))
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	fp.URL = "http://" + ln.Addr().String()
	return fp
}

type faultKey struct{}

type fault struct {
	latency  time.Duration
	slowDown bool
	reset    bool
	body     *bodyFault
}

// configure changes the proxy's script under its lock (it is serving).
func (fp *faultProxy) configure(fn func(fp *faultProxy)) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	fn(fp)
}

// bodyFault cuts (or stalls) a body after a fraction of its length.
type bodyFault struct {
	stall    time.Duration // 0: cut
	fraction float64
}

func (f bodyFault) wrap(ctx context.Context, body io.ReadCloser, size int64) io.ReadCloser {
	at := max(1, int64(f.fraction*float64(size)))
	return &faultBody{ReadCloser: body, left: at, stall: f.stall, ctx: ctx}
}

// faultBody passes left bytes, then fails: the ReverseProxy, whose copy
// fails, aborts the connection (the client sees a body cut short); or,
// for a stall, sends nothing more until the client gives up.
type faultBody struct {
	io.ReadCloser
	left  int64
	stall time.Duration
	ctx   context.Context
}

func (b *faultBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		if b.stall > 0 {
			select {
			case <-time.After(b.stall):
			case <-b.ctx.Done():
			}
		}
		return 0, fmt.Errorf("fault proxy: body cut")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// decide is the script. Listing requests: every other one starts a
// 503 burst.
// Object GETs, up to faultsPerKey faulted per object: a 503 burst (this
// and the next 3 requests, beyond the SDK's own 3 attempts), a body cut
// at a random offset, or a stall; then they pass. Every request gets
// 0-20ms of latency.
func (fp *faultProxy) decide(r *http.Request) fault {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if time.Now().Before(fp.downUntil) {
		fp.counts["outage reset"]++
		return fault{reset: true}
	}
	if fp.script != nil {
		return fp.script(fp, r)
	}
	f := fault{latency: time.Duration(fp.rng.IntN(20)) * time.Millisecond}
	if fp.burst > 0 {
		fp.burst--
		fp.counts["slowdown"]++
		f.slowDown = true
		return f
	}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	if r.Method == http.MethodHead && len(parts) == 2 {
		// The first HEADs of each object fail as many times as the SDK
		// attempts (3), so that ferry retries: counted per key, as a
		// shared burst could be spent by other requests under way.
		if key := "HEAD " + parts[1]; fp.perKey[key] < 3 {
			fp.perKey[key]++
			fp.counts["head slowdown"]++
			f.slowDown = true
		}
		return f
	}
	if r.Method != http.MethodGet {
		return f
	}
	if len(parts) < 2 || parts[1] == "" {
		if r.URL.Query().Get("list-type") != "" && !fp.quietListing {
			// Every other listing starts a burst longer than the SDK's
			// own attempts.
			if fp.listN++; fp.listN%2 == 1 {
				fp.burst = 3
				fp.counts["slowdown"]++
				f.slowDown = true
			}
		}
		return f
	}
	key := parts[1]
	fp.objGETs++
	if fp.objGETs == fp.outageAt {
		fp.downUntil = time.Now().Add(fp.outageFor)
		fp.counts["outage"]++
		fp.counts["outage reset"]++
		return fault{reset: true}
	}
	n := fp.perKey[key]
	if n >= faultsPerKey || fp.maxFaults > 0 && fp.faulted >= fp.maxFaults {
		return f
	}
	fp.perKey[key] = n + 1
	fp.faulted++
	switch (fp.objGETs + n) % 4 {
	case 0:
		fp.burst = 3
		fp.counts["slowdown"]++
		f.slowDown = true
	case 1, 2:
		fp.counts["cut"]++
		f.body = &bodyFault{fraction: 0.1 + 0.8*fp.rng.Float64()}
	case 3:
		if fp.stall > 0 {
			fp.counts["stall"]++
			f.body = &bodyFault{fraction: 0.1 + 0.8*fp.rng.Float64(), stall: fp.stall}
		}
	}
	return f
}

// injected returns the faults injected so far, by kind.
func (fp *faultProxy) injected() map[string]int {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	out := map[string]int{}
	for k, v := range fp.counts {
		out[k] = v
	}
	return out
}

// sqsScript faults an SQS endpoint (JSON protocol: the operation is in
// X-Amz-Target), with 0-20ms of latency on everything:
//   - receives: every 3rd starts a 503 burst (this and the next 3 SQS
//     requests, beyond the SDK's own attempts), every 5th is reset, every
//     7th has its answer cut short (its messages are lost to ferry until
//     their visibility timeout ends);
//   - deletes: answered 503 for failDeletes from the first one, longer
//     than a delete's retry budget, so that some give up for good and
//     their messages come back;
//   - visibility changes: every 4th is answered 503.
func sqsScript(failDeletes time.Duration) func(fp *faultProxy, r *http.Request) fault {
	var receives, visibility int
	var deletesFrom time.Time
	return func(fp *faultProxy, r *http.Request) fault {
		f := fault{latency: time.Duration(fp.rng.IntN(20)) * time.Millisecond}
		if fp.burst > 0 {
			fp.burst--
			fp.counts["sqs 503"]++
			f.slowDown = true
			return f
		}
		switch strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.") {
		case "ReceiveMessage":
			receives++
			switch {
			case receives%3 == 0:
				fp.burst = 3
				fp.counts["sqs 503"]++
				f.slowDown = true
			case receives%5 == 0:
				fp.counts["sqs reset"]++
				f.reset = true
			case receives%7 == 0:
				fp.counts["sqs cut"]++
				f.body = &bodyFault{fraction: 0.5}
			}
		case "DeleteMessageBatch":
			if deletesFrom.IsZero() {
				deletesFrom = time.Now()
			}
			if time.Since(deletesFrom) < failDeletes {
				fp.counts["sqs delete 503"]++
				f.slowDown = true
			}
		case "ChangeMessageVisibilityBatch":
			if visibility++; visibility%4 == 0 {
				fp.counts["sqs 503"]++
				f.slowDown = true
			}
		}
		return f
	}
}
