//go:build integration

package integration

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ownerOf returns the lease owner name of a ferry process (host/pid/random).
func ownerOf(t *testing.T, pipeline string, r *replicator) string {
	t.Helper()
	var owner string
	r.waitFor("the process's lease owner row", func() bool {
		rows := queryRows(t, `SELECT owner FROM ferry.lease_owners WHERE pipeline = $1 AND owner LIKE '%/' || $2 || '/%'`,
			pipeline, strconv.Itoa(r.cmd.Process.Pid))
		if len(rows) == 1 {
			owner = rows[0]
		}
		return owner != ""
	})
	return owner
}

// TestReplicateLeases: three `ferry replicate --lease-ranges 16` poll one
// bucket while files are uploaded throughout; one is killed with SIGKILL
// and its ranges are taken over by the others within the lease expiry
// and a heartbeat; a fourth joins mid-run and gets its share. Every row
// loads exactly once (primary key, each file done at its first attempt),
// and the leases table shows the 16 ranges shared among the live
// processes.
func TestReplicateLeases(t *testing.T) {
	t.Parallel()
	const (
		ranges    = 16
		expiry    = 6 * time.Second
		heartbeat = time.Second // ferry beats every --poll-interval (1s) when shorter than a third of the expiry
		files     = 400
		perFile   = 10
	)
	schema := newSchema(t)
	ensureState(t, pool)
	bucket := newBucket(t)
	exec1(t, "CREATE TABLE "+table(schema, "t")+" (id bigint PRIMARY KEY, note text)")
	pipeline := randomName("repl-lease-")
	key := func(i int) string { return fmt.Sprintf("in/%03d/f%04d.csv", i%7, i) }
	body := func(i int) []byte { return idsCSV(i*perFile+1, i*perFile+perFile, strconv.Itoa(i)) }
	for i := range 100 {
		put(t, bucket, key(i), body(i))
	}
	addr := metricsAddr(t)
	args := append(pgArgs("s3://"+bucket+"/in/", schema, pipeline), "--lease-ranges", strconv.Itoa(ranges),
		"--lease-expiry", expiry.String(), "--workers", "2")
	p1 := startReplicate(t, append(args, "--metrics-addr", addr)...)
	p2 := startReplicate(t, args...)
	p3 := startReplicate(t, args...)

	// Files keep arriving throughout.
	var wg sync.WaitGroup
	uploading := make(chan struct{})
	wg.Go(func() {
		defer close(uploading)
		for i := 100; i < files; i++ {
			if _, err := s3Client.PutObject(t.Context(), putInput(bucket, key(i), body(i))); err != nil {
				t.Errorf("put %s: %v", key(i), err)
				return
			}
			time.Sleep(40 * time.Millisecond)
		}
	})
	defer wg.Wait()

	owners := map[*replicator]string{p1: ownerOf(t, pipeline, p1), p2: ownerOf(t, pipeline, p2), p3: ownerOf(t, pipeline, p3)}
	// shared says whether the live processes hold every range between
	// them, each its share (16 among 3: 5 or 6).
	shared := func(live ...*replicator) bool {
		held := leaseHeld(t, pipeline)
		n := 0
		for _, r := range live {
			k := len(held[owners[r]])
			if k < ranges/len(live) || k > (ranges+len(live)-1)/len(live) {
				return false
			}
			n += k
		}
		return n == ranges
	}
	p1.waitFor("the 16 ranges shared among 3 processes", func() bool { return shared(p1, p2, p3) })
	if n := queryInt(t, "SELECT count(*) FROM "+table(schema, "t")); n == 0 {
		t.Log("no row loaded yet when the ranges were shared")
	}

	// kill -9: p2's leases expire, the others take them over.
	lost := leaseHeld(t, pipeline)[owners[p2]]
	if err := p2.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if code := p2.exitCode(waitDeadline); code != -1 {
		t.Fatalf("after SIGKILL: exit %d, want -1", code)
	}
	p1.waitFor("p2's ranges taken over by p1 and p3", func() bool { return shared(p1, p3) })
	takeover := time.Since(killed)
	t.Logf("the killed process's %d ranges %v taken over %v after SIGKILL (expiry %v, heartbeat %v)", len(lost), lost, takeover.Round(10*time.Millisecond), expiry, heartbeat)
	// The bound is the expiry and a heartbeat; the slack is for the
	// race-built processes on a loaded 2-CPU machine (the check polls
	// every 50 ms).
	if limit := expiry + heartbeat + 5*time.Second; takeover > limit {
		t.Errorf("takeover took %v, want within %v (the expiry, a heartbeat and slack)", takeover, limit)
	}

	// A fourth process joins mid-run and gets its share.
	p4 := startReplicate(t, args...)
	owners[p4] = ownerOf(t, pipeline, p4)
	joined := time.Now()
	p1.waitFor("p4 holding ranges", func() bool { return len(leaseHeld(t, pipeline)[owners[p4]]) > 0 })
	t.Logf("the joining process held ranges %v after its lease owner row appeared", time.Since(joined).Round(10*time.Millisecond))
	p1.waitFor("the 16 ranges shared among p1, p3 and p4", func() bool { return shared(p1, p3, p4) })

	<-uploading
	p1.waitCount(files*perFile, countSQL(schema))
	p1.waitCount(files, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`, pipeline)
	equal(t, "rows", queryRows(t, "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM "+table(schema, "t")),
		[]string{fmt.Sprintf("%d|%d|1|%d", files*perFile, files*perFile, files*perFile)})
	equal(t, "files not done at their first attempt", queryRows(t, `SELECT key, status, attempts FROM ferry.files
		WHERE pipeline = $1 AND (status <> 'done' OR attempts <> 1 OR retries IS NOT NULL)`, pipeline), nil)
	if !shared(p1, p3, p4) {
		t.Fatalf("ranges not shared at the end: %v", leaseHeld(t, pipeline))
	}

	// The gauge says what the table does; ferry status shows the owners.
	want := float64(len(leaseHeld(t, pipeline)[owners[p1]]))
	if got := scrapeMetric(t, addr, "ferry_lease_ranges_owned", fmt.Sprintf("pipeline=%q", pipeline)); got != want {
		t.Errorf("ferry_lease_ranges_owned = %v, want %v", got, want)
	}
	st := ferry(t, "status", "--target", databaseURL, "--pipeline", pipeline)
	if st.code != 0 || !strings.Contains(st.stdout, "16 hash ranges") || !strings.Contains(st.stdout, "3 processes alive") ||
		!strings.Contains(st.stdout, owners[p4]) {
		t.Errorf("ferry status: exit %d\n%s", st.code, st.stdout)
	}

	// A graceful stop frees the ranges at once.
	for _, r := range []*replicator{p1, p3, p4} {
		if code := r.stop(); code != 0 {
			t.Fatalf("SIGTERM: exit %d", code)
		}
	}
	if held := leaseHeld(t, pipeline); len(held) != 0 {
		t.Fatalf("leases held after every process stopped: %v", held)
	}
}
