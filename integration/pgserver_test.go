//go:build integration

package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is a throwaway PostgreSQL server a test owns: its own data
// directory and port, so the test may stop and start it at will.
type pgServer struct {
	t       *testing.T
	bin     string // directory of initdb, pg_ctl
	dir     string // owned by the server's OS user: data/, log, socket
	port    int
	asUser  string // run the server's programs as this OS user ("" = as we are)
	baseURL string // without the database
}

// pgBinDir finds the PostgreSQL server programs: $FERRY_TEST_PG_BIN, else
// the newest /usr/lib/postgresql/*/bin (Debian and Ubuntu).
func pgBinDir() string {
	if d := os.Getenv("FERRY_TEST_PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	if len(dirs) == 0 {
		return ""
	}
	return dirs[len(dirs)-1]
}

// freePort returns a loopback TCP port nothing listens on (something else
// may still take it before the server binds it; the start then fails).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startPGServer initialises and starts a PostgreSQL server on a free
// loopback port with trust authentication, creates database "ferry", and
// stops the server (immediate mode) and removes its directory at the end
// of the test. initdb and postgres refuse to run as root: as root, they run
// as the "postgres" OS user through runuser.
func startPGServer(t *testing.T) *pgServer {
	t.Helper()
	bin := pgBinDir()
	if _, err := os.Stat(filepath.Join(bin, "initdb")); bin == "" || err != nil {
		skipUnlessCI(t, "no PostgreSQL server programs (initdb, pg_ctl) in /usr/lib/postgresql/*/bin; set FERRY_TEST_PG_BIN")
	}
	s := &pgServer{t: t, bin: bin}
	dir, err := os.MkdirTemp("", "ferry-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			skipUnlessCI(t, "running as root and there is no postgres OS user to run initdb and postgres as (they refuse root): %v", err)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			skipUnlessCI(t, "running as root and no runuser to run initdb and postgres as the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.asUser = "postgres"
	}
	s.run("initdb", "-D", s.data(), "--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	s.port = freePort(t)
	s.baseURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/", s.port)
	s.start()
	t.Cleanup(func() {
		// Immediate: no checkpoint; the data is thrown away.
		if out, err := s.pgCtl("stop", "-m", "immediate"); err != nil && !strings.Contains(out, "PID file") && !strings.Contains(out, "Is server running?") {
			t.Logf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	conn := s.connect("postgres")
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE ferry"); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return s
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

// url is a connection URL for database db.
func (s *pgServer) url(db string) string { return s.baseURL + db + "?sslmode=disable" }

func (s *pgServer) command(prog string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, prog)
	if s.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", s.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (s *pgServer) run(prog string, args ...string) {
	s.t.Helper()
	cmd := s.command(prog, args...)
	cmd.Dir = s.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
}

func (s *pgServer) pgCtl(args ...string) (string, error) {
	cmd := s.command("pg_ctl", append([]string{"-D", s.data()}, args...)...)
	cmd.Dir = s.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// start starts the server and waits until it accepts connections.
func (s *pgServer) start() {
	s.t.Helper()
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50", s.dir, s.port)
	if out, err := s.pgCtl("start", "-w", "-t", "60", "-l", filepath.Join(s.dir, "log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		s.t.Fatalf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, log)
	}
}

// stop stops the server in mode (smart, fast, immediate) and waits.
func (s *pgServer) stop(mode string) {
	s.t.Helper()
	if out, err := s.pgCtl("stop", "-w", "-t", "60", "-m", mode); err != nil {
		s.t.Fatalf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
}

// connect opens a connection to database db (fatal on failure).
func (s *pgServer) connect(db string) *pgx.Conn {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.url(db))
	if err != nil {
		s.t.Fatalf("connect to the test server: %v", err)
	}
	return conn
}

// queryInt runs a one-number query in database db on its own connection
// (a pool would hand out connections the last restart broke).
func (s *pgServer) queryInt(db, sql string, args ...any) int64 {
	s.t.Helper()
	conn := s.connect(db)
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (s *pgServer) queryRows(db, sql string, args ...any) []string {
	s.t.Helper()
	conn := s.connect(db)
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			s.t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	return out
}

// TestReplicatePostgresRestart restarts the target PostgreSQL server while
// replicate is loading many files: replicate must ride it out (retry, not
// exit, not fail files) and end with every row exactly once.
func TestReplicatePostgresRestart(t *testing.T) {
	t.Parallel()
	testPostgresStop(t, "fast")
}

// TestFaultPostgresImmediate: the same with the server stopped with
// -m immediate (no shutdown checkpoint, every session killed, commits
// under way lost or not, crash recovery at the start) while small files
// commit chunk after chunk and a big one is half loaded.
func TestFaultPostgresImmediate(t *testing.T) {
	t.Parallel()
	testPostgresStop(t, "immediate")
}

// testPostgresStop stops the target server with pg_ctl -m mode under
// load and starts it again: every row exactly once, no file failed and
// each with one attempt, the retries in the logs and in
// ferry_retries_total.
func testPostgresStop(t *testing.T, mode string) {
	const files, perFile = 200, 2000
	srv := startPGServer(t)
	conn := srv.connect("ferry")
	// The primary key makes a row written twice an error, not a silent
	// duplicate.
	if _, err := conn.Exec(context.Background(), "CREATE TABLE t (id bigint PRIMARY KEY, note text)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	src := map[string][]byte{}
	for i := range files {
		src[fmt.Sprintf("f%03d.csv", i)] = idsCSV(i*perFile+1, (i+1)*perFile, fmt.Sprintf("f%03d", i))
	}
	// Sorts first, loads alongside the small files, and is far from done
	// when the server stops.
	const bigRows = 300_000
	src["a-big.csv"] = idsCSV(files*perFile+1, files*perFile+bigRows, "big")
	total := int64(files*perFile + bigRows)
	dir := writeDir(t, src)
	pipeline := randomName("repl-pgrestart-")
	addr := metricsAddr(t)
	r := startReplicate(t, "--source", dir, "--target", srv.url("ferry"), "--table", "public.t",
		"--pipeline", pipeline, "--batch-rows", "500", "--metrics-addr", addr)

	doneSQL := `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done'`
	r.waitFor("10 files done", func() bool {
		return srv.queryInt("ferry", `SELECT count(*) FROM pg_tables WHERE schemaname = 'ferry' AND tablename = 'files'`) == 1 &&
			srv.queryInt("ferry", doneSQL, pipeline) >= 10
	})
	before := srv.queryInt("ferry", doneSQL, pipeline)
	srv.stop(mode)
	t.Logf("stopped the server (-m %s) with %d of %d files done", mode, before, files+1)
	if before >= files+1 {
		t.Fatalf("every file was done before the server stopped; make the load bigger")
	}
	time.Sleep(2 * time.Second)
	if r.exited() {
		t.Fatalf("ferry replicate exited while the server was down: %s\n%s", r.status(), r.stderr.String())
	}
	srv.start()
	t.Logf("server started again")

	deadline := time.Now().Add(2 * waitDeadline)
	for srv.queryInt("ferry", doneSQL, pipeline) < files+1 {
		if r.exited() {
			t.Fatalf("ferry replicate exited: %s\n%s", r.status(), r.stderr.String())
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every file done %v after the restart: %v", 2*waitDeadline,
				srv.queryRows("ferry", `SELECT status, count(*), sum(attempts) FROM ferry.files WHERE pipeline = $1 GROUP BY status`, pipeline))
		}
		time.Sleep(200 * time.Millisecond)
	}
	equal(t, "rows", srv.queryRows("ferry", "SELECT count(*), count(DISTINCT id), min(id), max(id) FROM t"),
		[]string{fmt.Sprintf("%d|%d|1|%d", total, total, total)})
	equal(t, "state", srv.queryRows("ferry", `SELECT status, count(*), sum(rows)::bigint FROM ferry.files WHERE pipeline = $1 GROUP BY status`, pipeline),
		[]string{fmt.Sprintf("done|%d|%d", files+1, total)})
	// The outage is counted as retries (a file or a pass left for later
	// because the database was unavailable) and logged as such.
	if n := scrapeMetric(t, addr, "ferry_retries_total", `reason="unavailable"`) + scrapeMetric(t, addr, "ferry_retries_total", `reason="pass"`); n == 0 {
		t.Errorf("ferry_retries_total: no unavailable or pass retry counted for the outage")
	}
	if !strings.Contains(r.stderr.String(), "(will retry)") {
		t.Errorf("no retry in the logs")
	}
	if r.exited() {
		t.Fatalf("ferry replicate exited: %s", r.status())
	}
	// Files interrupted by the restart resumed: a resume is no attempt.
	equal(t, "files with more than one attempt",
		srv.queryRows("ferry", `SELECT key, attempts FROM ferry.files WHERE pipeline = $1 AND attempts <> 1 ORDER BY key`, pipeline), nil)
	if code := r.stop(); code != 0 {
		t.Fatalf("SIGTERM: exit %d", code)
	}
	// The server going away is not the files' fault (README: "the store or
	// the database is unavailable: not the file's fault ... the next poll
	// resumes it"): no file may be counted or logged as failed for it.
	var errs []string
	for _, m := range r.logs("") {
		if m["level"] == "error" {
			errs = append(errs, fmt.Sprint(m["file"], ": ", m["message"]))
		}
	}
	var failed float64
	for _, m := range r.logs("poll") {
		f, _ := m["failed"].(float64)
		failed += f
	}
	if len(errs) > 0 || failed > 0 {
		t.Errorf("the restart made files fail: %.0f files counted failed by polls, %d error log lines; the first: %q",
			failed, len(errs), errs[:min(3, len(errs))])
	}
}
