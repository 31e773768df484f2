package pgcpu

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestHexPort(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"0100007F:1538", 5432},
		{"00000000000000000000000001000000:D431", 54321},
		{"0100007F", -1},
		{"0100007F:XYZ", -1},
	} {
		if got := hexPort(tc.in); got != tc.want {
			t.Errorf("hexPort(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestSocketPorts(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:D431 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 2002 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D432 0100007F:2382 01 00000000:00000000 00:00000000 00000000     0        0 3003 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:D433 0100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 4004 1 0000000000000000 20 4 30 10 -1
`
	path := filepath.Join(t.TempDir(), "tcp")
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	// 2002 goes to 5432; 3003 goes elsewhere (9090); 4004 is not the process's.
	got := socketPorts(path, map[string]bool{"1001": true, "2002": true, "3003": true}, 5432)
	if !slices.Equal(got, []uint16{0xD431}) {
		t.Fatalf("socketPorts = %v, want [%d]", got, 0xD431)
	}
}

func TestProcReadings(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no /proc (required when CI=true)")
		}
		t.Skip("no /proc")
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatalf("procCPU(self): %v", err)
	}
	if VmHWM(os.Getpid()) <= 0 {
		t.Fatal("VmHWM(self) is 0")
	}
	if idle, total := MachineCPU(); total <= 0 || idle < 0 || idle > total {
		t.Fatalf("MachineCPU = %d idle of %d", idle, total)
	}
}

func TestServerPort(t *testing.T) {
	p, err := ServerPort("postgres://u@127.0.0.1:5433/db?sslmode=disable")
	if err != nil || p != 5433 {
		t.Fatalf("ServerPort = %d, %v; want 5433", p, err)
	}
	if _, err := ServerPort("postgres:///db?host=/var/run/postgresql"); err == nil {
		t.Fatal("ServerPort of a Unix socket URL: no error")
	}
}
