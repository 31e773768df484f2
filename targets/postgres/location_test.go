package postgres

import (
	"strings"
	"testing"
)

func TestLocation(t *testing.T) {
	t.Setenv("PGHOST", "envhost")
	t.Setenv("PGPORT", "6000")
	t.Setenv("PGDATABASE", "envdb")
	t.Setenv("PGPASSWORD", "envsecret")
	for _, tc := range []struct{ conn, want string }{
		{"postgres://loader:s3cret@db.example:5433/warehouse?sslmode=disable", "postgres://db.example:5433/warehouse"},
		{"postgresql://loader:s3cret@db.example/warehouse", "postgres://db.example:6000/warehouse"}, // PGPORT
		{"postgres://loader@[::1]:5433/w?password=s3cret", "postgres://[::1]:5433/w"},
		{"postgres://a:s3cret@h1:5001,h2:5002/multi", "postgres://h1:5001/multi"},
		{"host=kw.example port=5434 dbname=kwdb user=loader password=s3cret", "postgres://kw.example:5434/kwdb"},
		{"postgres:///", "postgres://envhost:6000/envdb"}, // the environment's, as a connection resolves it
		{"postgres://loader:s3cret@h/", "postgres://h:6000/envdb"},
	} {
		got, err := Location(tc.conn)
		if err != nil {
			t.Errorf("Location(%q): %v", tc.conn, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Location(%q) = %q, want %q", tc.conn, got, tc.want)
		}
		for _, secret := range []string{"s3cret", "envsecret", "loader"} {
			if strings.Contains(got, secret) {
				t.Errorf("Location(%q) = %q holds %q", tc.conn, got, secret)
			}
		}
	}
	if _, err := Location("postgres://loader:s3cret@h:notaport/db"); err == nil {
		t.Error("a bad port parsed")
	} else if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("the error holds the password: %v", err)
	}
}
