package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// leaseModes are part 7's two ways of running N processes on one bucket:
// each lists, looks up and claims every file (the per-file claim decides
// who loads it), or each only its hash ranges (--lease-ranges).
var leaseModes = []string{"claims", "leases"}

// leases is part 7: files/s of 1, 2, 3... processes polling one bucket,
// without and with --lease-ranges, and how long a killed process's
// ranges take to be taken over and a joining process's to be given.
func (e *env) leases(ctx context.Context, out io.Writer) error {
	n := e.cfg.leaseFiles
	bucket := "benchrep-leases-" + e.cfg.runID
	const prefix = "small/"
	wantRows := int64(n) * int64(rowsPerSmallFile)
	fmt.Fprintf(out, "\n7. leases: %s files of %d bytes (%d rows each), uploaded before ferry starts; %v processes replicating one bucket\n"+
		"   (--poll-interval 1s, default --workers each), %s: without leases (every process lists, looks up and claims\n"+
		"   every file; the per-file claim decides) and with --lease-ranges %d (each only its ranges' keys); %d runs, alternating\n",
		thousands(int64(n)), smallFileBytes, rowsPerSmallFile, e.cfg.leaseProcs, strings.Join(leaseModes, " and "), e.cfg.leaseRanges, e.cfg.leaseRuns)
	if err := e.s3.createBucket(ctx, bucket); err != nil {
		return err
	}
	if !e.cfg.keep {
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := e.s3.removeBucket(ctx, bucket); err != nil {
				logf("cleanup: %v", err)
			}
		}()
	}
	logf("leases: uploading %d files, %d at a time", n, uploadParallel)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadParallel)
	for i := range n {
		g.Go(func() error { return e.s3.put(gctx, bucket, fmt.Sprintf("%sf%06d.csv", prefix, i), smallFile(i)) })
	}
	if err := g.Wait(); err != nil {
		return err
	}

	type key struct {
		procs int
		mode  string
	}
	results := map[key][]leaseRun{}
	for run := 1; run <= e.cfg.leaseRuns; run++ {
		var line []string
		for _, procs := range e.cfg.leaseProcs {
			for _, mode := range leaseModes {
				r, err := e.leaseRun(ctx, bucket, prefix, procs, mode, n, wantRows)
				if err != nil {
					return fmt.Errorf("%d processes, %s: %w", procs, mode, err)
				}
				results[key{procs, mode}] = append(results[key{procs, mode}], r)
				line = append(line, fmt.Sprintf("%d×%s %.0f/s", procs, mode, r.filesPerSec))
			}
		}
		fmt.Fprintf(out, "   run %d: %s (load avg %s)\n", run, strings.Join(line, ", "), loadAvg())
	}
	fmt.Fprintf(out, "   medians:  processes  mode    files/s  vs 1 process  claims lost  lookups of others' files  ferry CPU (user+sys, all processes)\n")
	for _, procs := range e.cfg.leaseProcs {
		for _, mode := range leaseModes {
			rs := results[key{procs, mode}]
			one := medianOf(results[key{e.cfg.leaseProcs[0], mode}], func(r leaseRun) float64 { return r.filesPerSec })
			fps := medianOf(rs, func(r leaseRun) float64 { return r.filesPerSec })
			fmt.Fprintf(out, "             %-9d  %-6s  %7.0f  %11.2f×  %11.0f  %24s  %.2f s\n", procs, mode, fps, fps/one,
				medianOf(rs, func(r leaseRun) float64 { return float64(r.claimed) }),
				map[string]string{"claims": "yes", "leases": "no"}[mode],
				medianOf(rs, func(r leaseRun) float64 { return r.cpu.Seconds() }))
		}
	}

	for _, expiry := range e.cfg.leaseExpiries {
		if err := e.leaseTakeover(ctx, out, bucket, expiry); err != nil {
			return fmt.Errorf("takeover with --lease-expiry %v: %w", expiry, err)
		}
	}
	return nil
}

// leaseRun is one timed run of part 7.
type leaseRun struct {
	filesPerSec float64
	claimed     int64         // files a process found claimed by another (ferry_retries_total{reason="claimed"})
	cpu         time.Duration // user+sys of every process
}

func medianOf(rs []leaseRun, f func(leaseRun) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

func (e *env) leaseRun(ctx context.Context, bucket, prefix string, procs int, mode string, n int, wantRows int64) (leaseRun, error) {
	table := fmt.Sprintf("benchrep_leases_%s_%d", mode, procs)
	pipeline := fmt.Sprintf("benchrep-leases-%s-%d-%s", mode, procs, e.cfg.runID)
	if err := e.db.freshTable(ctx, table, "(id bigint, note text)"); err != nil {
		return leaseRun{}, err
	}
	if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
		return leaseRun{}, err
	}
	if !e.cfg.keep {
		defer e.cleanupTable(table, pipeline)
	}
	e.db.checkpoint(ctx)
	var ps []*ferryProc
	var addrs []string
	defer func() {
		for _, p := range ps {
			p.cleanup()
		}
	}()
	started := time.Now()
	for range procs {
		addr, err := freeAddr()
		if err != nil {
			return leaseRun{}, err
		}
		extra := []string{"--metrics-addr", addr}
		if mode == "leases" {
			extra = append(extra, "--lease-ranges", strconv.Itoa(e.cfg.leaseRanges))
		}
		p, err := e.startFerry(e.replicateArgs("s3://"+bucket+"/"+prefix, table, pipeline, extra...))
		if err != nil {
			return leaseRun{}, err
		}
		ps, addrs = append(ps, p), append(addrs, addr)
	}
	logf("leases: %d × ferry replicate (%s) started", procs, mode)
	doneAt, err := e.waitFilesAll(ctx, ps, pipeline, n)
	if err != nil {
		return leaseRun{}, err
	}
	r := leaseRun{filesPerSec: float64(n) / doneAt.Sub(started).Seconds()}
	for _, addr := range addrs {
		c, err := scrapeClaimed(ctx, addr)
		if err != nil {
			return r, err
		}
		r.claimed += c
	}
	for _, p := range ps {
		if _, err := p.stopChecked(); err != nil {
			return r, err
		}
		r.cpu += p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
		if n, first := p.problems(); n > 0 {
			logf("leases: ferry logged %d warning/error line(s), the first: %.300s", n, first)
		}
	}
	rows, distinct, err := e.db.countRows(ctx, table, true)
	if err != nil {
		return r, err
	}
	if rows != wantRows || distinct != rows {
		return r, fmt.Errorf("table %s has %d rows (%d distinct ids), want %d", table, rows, distinct, wantRows)
	}
	return r, nil
}

// cleanupTable drops a run's table and forgets its pipeline.
func (e *env) cleanupTable(table, pipeline string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.db.dropTable(ctx, table); err != nil {
		logf("cleanup: drop table %s: %v", table, err)
	}
	if err := e.db.forgetPipeline(ctx, pipeline); err != nil {
		logf("cleanup: %v", err)
	}
}

// waitFilesAll is waitFiles for several processes: any of them exiting
// stops the wait.
func (e *env) waitFilesAll(ctx context.Context, ps []*ferryProc, pipeline string, want int) (time.Time, error) {
	deadline := time.Now().Add(filesWaitTimeout)
	for {
		done, failed, failure, err := e.db.fileStates(ctx, pipeline)
		now := time.Now()
		switch {
		case err != nil:
			return now, fmt.Errorf("read ferry.files: %w", err)
		case failed > 0:
			return now, fmt.Errorf("%d file(s) failed, e.g. %s", failed, failure)
		case done >= want:
			return now, nil
		case now.After(deadline):
			return now, fmt.Errorf("only %d of %d files done after %v", done, want, filesWaitTimeout)
		}
		for _, p := range ps {
			if p.exited() {
				return now, p.exitError()
			}
		}
		select {
		case <-ctx.Done():
			return now, ctx.Err()
		case <-time.After(filesPollEvery):
		}
	}
}

// freeAddr is a free loopback HOST:PORT.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// scrapeClaimed reads ferry_retries_total{reason="claimed"} from a
// process's /metrics.
func scrapeClaimed(ctx context.Context, addr string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ferry_retries_total{") && strings.Contains(line, `reason="claimed"`) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			return int64(v), err
		}
	}
	return 0, fmt.Errorf("scrape %s: no ferry_retries_total{reason=\"claimed\"}", addr)
}

// leaseHolders returns how many unexpired ranges each owner of pipeline
// holds.
func (e *env) leaseHolders(ctx context.Context, pipeline string) (map[string]int, error) {
	rows, err := e.db.pool.Query(ctx, `SELECT owner, count(*) FROM ferry.leases
		WHERE pipeline = $1 AND owner IS NOT NULL AND expires_at > now() GROUP BY owner`, pipeline)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var o string
		var n int
		if err := rows.Scan(&o, &n); err != nil {
			return nil, err
		}
		out[o] = n
	}
	return out, rows.Err()
}

// ownerPID is the pid in an owner name (host/pid/random).
func ownerPID(owner string) int {
	f := strings.Split(owner, "/")
	if len(f) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(f[len(f)-2])
	return pid
}

// leaseTakeover measures, with three processes on a prefix of one file, how
// long after a kill -9 the others hold the killed process's ranges, and
// how long a fourth process that joins takes to hold ranges and to have
// its share.
func (e *env) leaseTakeover(ctx context.Context, out io.Writer, bucket string, expiry time.Duration) error {
	table := "benchrep_leases_takeover"
	pipeline := fmt.Sprintf("benchrep-leases-takeover-%v-%s", expiry, e.cfg.runID)
	if err := e.db.freshTable(ctx, table, "(id bigint, note text)"); err != nil {
		return err
	}
	defer e.cleanupTable(table, pipeline)
	// One small file, so that no process warns of an empty prefix.
	if err := e.s3.put(ctx, bucket, "takeover/one.csv", smallFile(0)); err != nil {
		return err
	}
	ranges := e.cfg.leaseRanges
	args := func() []string {
		return e.replicateArgs("s3://"+bucket+"/takeover/", table, pipeline,
			"--lease-ranges", strconv.Itoa(ranges), "--lease-expiry", expiry.String())
	}
	var ps []*ferryProc
	defer func() {
		for _, p := range ps {
			p.cleanup()
		}
	}()
	for range 3 {
		p, err := e.startFerry(args())
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	// balanced waits until the processes of pids hold every range, each
	// its share, and returns when it saw that.
	balanced := func(what string, pids ...int) (time.Time, error) {
		deadline := time.Now().Add(3*expiry + time.Minute)
		for {
			held, err := e.leaseHolders(ctx, pipeline)
			if err != nil {
				return time.Time{}, err
			}
			total, ok := 0, true
			for _, pid := range pids {
				k := 0
				for o, n := range held {
					if ownerPID(o) == pid {
						k = n
					}
				}
				total += k
				ok = ok && k >= ranges/len(pids) && k <= (ranges+len(pids)-1)/len(pids)
			}
			now := time.Now()
			if ok && total == ranges {
				return now, nil
			}
			if now.After(deadline) {
				return now, fmt.Errorf("%s: leases %v after %v", what, held, 3*expiry+time.Minute)
			}
			select {
			case <-ctx.Done():
				return now, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	pid := func(p *ferryProc) int { return p.cmd.Process.Pid }
	if _, err := balanced("three processes", pid(ps[0]), pid(ps[1]), pid(ps[2])); err != nil {
		return err
	}
	// Let a heartbeat or two pass, so that the kill lands anywhere in the
	// heartbeat period.
	time.Sleep(expiry / 2)
	if err := ps[1].cmd.Process.Kill(); err != nil {
		return err
	}
	killed := time.Now()
	seen, err := balanced("after the kill", pid(ps[0]), pid(ps[2]))
	if err != nil {
		return err
	}
	takeover := seen.Sub(killed)
	p4, err := e.startFerry(args())
	if err != nil {
		return err
	}
	ps = append(ps, p4)
	started := time.Now()
	var first time.Duration
	deadline := time.Now().Add(3*expiry + time.Minute)
	for first == 0 {
		held, err := e.leaseHolders(ctx, pipeline)
		if err != nil {
			return err
		}
		for o, n := range held {
			if ownerPID(o) == pid(p4) && n > 0 {
				first = time.Since(started)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the joining process holds no range after %v", 3*expiry+time.Minute)
		}
		time.Sleep(20 * time.Millisecond)
	}
	share, err := balanced("after the join", pid(ps[0]), pid(ps[2]), pid(p4))
	if err != nil {
		return err
	}
	// ferry beats every third of the expiry, or every poll interval (1 s
	// here) when that is shorter.
	fmt.Fprintf(out, "   --lease-expiry %v (heartbeat %v), %d ranges: a kill -9'd process's ranges held by the other two %s after the kill;\n"+
		"      a process started beside them held ranges %s after its start, the three their shares %s after it\n",
		expiry, min(expiry/3, time.Second), ranges, sec(takeover), sec(first), sec(share.Sub(started)))
	for i, p := range ps {
		if i == 1 {
			continue // killed
		}
		if _, err := p.stopChecked(); err != nil {
			return err
		}
	}
	return nil
}
