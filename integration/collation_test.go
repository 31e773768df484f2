//go:build integration

package integration

import (
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// newDatabase creates a database on the test server with the given
// locale clause and drops it at the end of the test. It returns its URL
// and a pool on it. Call it before starting ferry on the database, so the
// drop runs after ferry is stopped.
func newDatabase(t *testing.T, locale string) (string, *pgxpool.Pool) {
	t.Helper()
	name := randomName("it_db_")
	if _, err := pool.Exec(context.Background(), "CREATE DATABASE "+name+" TEMPLATE template0 "+locale); err != nil {
		skipUnlessCI(t, "cannot create a database with %s: %v", locale, err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	p, err := pgxpool.New(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return u.String(), p
}

func dbInt(t *testing.T, p *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := p.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestReplicateStartAfterKeyCollation: --start-after-key compares keys as
// S3 lists them, byte by byte (UTF-8 binary order), whatever the collation
// of the database that holds ferry.files. Many databases are created with
// a linguistic default collation (en_US.UTF-8 is the default on most Linux
// installs and on Amazon RDS), under which 'a' < 'B' although 'B' < 'a' in
// S3's order.
//
// Keys are CloudTrail-like: a timestamp, then a random mixed-case suffix.
// With --lookback-keys 1 and "…T1000Z_Bq" and "…T1000Z_aX" loaded (in S3
// order Bq < aX: aX is the newest), the listing must start after Bq, so the
// late "…T1000Z_Cz" (Bq < Cz < aX) is listed. It arrives together with two
// newer keys (T1001Z); with the window computed in the database's collation
// the listing starts after aX instead, the two newer keys load, the window
// moves past Cz, and Cz is never loaded.
func TestReplicateStartAfterKeyCollation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, locale string }{
		{"C", "LOCALE 'C'"},
		{"ICU en-US", "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbURL, db := newDatabase(t, tc.locale)
			if _, err := db.Exec(context.Background(), "CREATE TABLE t (id bigint PRIMARY KEY, note text)"); err != nil {
				t.Fatal(err)
			}
			ensureState(t, db)
			bucket := newBucket(t)
			pipeline := randomName("repl-coll-")
			key := func(s string) string { return "ct/20240501" + s + ".csv" }
			args := []string{"--source", "s3://" + bucket + "/ct/", "--s3-path-style", "--target", dbURL, "--table", "public.t",
				"--pipeline", pipeline, "--start-after-key", "--lookback-keys", "1"}
			doneIn := func(keys ...string) int64 {
				return dbInt(t, db, `SELECT count(*) FROM ferry.files WHERE pipeline = $1 AND status = 'done' AND key = ANY($2)`, pipeline, keys)
			}

			put(t, bucket, key("T1000Z_Bq"), idsCSV(1, 1, "Bq"))
			put(t, bucket, key("T1000Z_aX"), idsCSV(2, 2, "aX"))
			r := startReplicate(t, args...)
			r.waitFor("Bq and aX loaded", func() bool { return doneIn(key("T1000Z_Bq"), key("T1000Z_aX")) == 2 })
			if code := r.stop(); code != 0 {
				t.Fatalf("SIGTERM: exit %d", code)
			}
			// Uploaded while ferry is stopped, so its first poll sees all three.
			put(t, bucket, key("T1000Z_Cz"), idsCSV(3, 3, "Cz"))
			put(t, bucket, key("T1001Z_aa"), idsCSV(4, 4, "1001aa"))
			put(t, bucket, key("T1001Z_bb"), idsCSV(5, 5, "1001bb"))
			r = startReplicate(t, args...)
			r.waitFor("the T1001Z keys loaded", func() bool { return doneIn(key("T1001Z_aa"), key("T1001Z_bb")) == 2 })
			// One more key, loaded in a later poll than the T1001Z ones.
			put(t, bucket, key("T1002Z_aa"), idsCSV(6, 6, "1002aa"))
			r.waitFor("T1002Z loaded", func() bool { return doneIn(key("T1002Z_aa")) == 1 })
			var after []string
			for _, m := range r.logs("poll") {
				after = append(after, fmt.Sprint(m["start_after"]))
			}
			if n := doneIn(key("T1000Z_Cz")); n != 1 {
				t.Fatalf("database %s: %s (late, but after the 2nd newest key %s in S3 order) was never listed; start_after of the polls: %q",
					tc.locale, key("T1000Z_Cz"), key("T1000Z_Bq"), after)
			}
			if n := dbInt(t, db, "SELECT count(*) FROM t"); n != 6 {
				t.Fatalf("%d rows, want 6", n)
			}
		})
	}
}
