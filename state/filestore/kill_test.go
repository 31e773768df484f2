package filestore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
)

// TestKilledProcessKeepsReturnedSteps runs steps in a child process (this
// test binary again), kills it with SIGKILL while it writes, and checks
// that every step it saw return is in the state it left.
func TestKilledProcessKeepsReturnedSteps(t *testing.T) {
	if dir := os.Getenv("FILESTORE_CHILD_DIR"); dir != "" {
		withCompaction(t, 64, 2) // compactions under way too
		s := mustNew(t, dir)
		out := bufio.NewWriter(os.Stdout)
		ctx := context.Background()
		for i := 0; ; i++ {
			// Resume where the killed rounds left each file.
			p, err := s.Start(ctx, "p", obj(i))
			if err != nil {
				t.Fatal(err)
			}
			for r := p.Pos.Records; p.Status != state.Done && r < 2; r++ {
				c := &pusher.Chunk{File: obj(i), Start: pusher.Position{Records: r}, End: pusher.Position{Records: r + 1}, Last: r == 1}
				if err := s.Advance(ctx, "p", c); err != nil {
					t.Fatal(err)
				}
			}
			fmt.Fprintln(out, i)
			out.Flush()
		}
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledProcessKeepsReturnedSteps$")
		cmd.Env = append(os.Environ(), "FILESTORE_CHILD_DIR="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(stdout)
		returned := -1
		deadline := time.Now().Add(time.Duration(200+100*round) * time.Millisecond)
		for lines.Scan() {
			if n, err := strconv.Atoi(lines.Text()); err == nil {
				returned = n
			}
			if time.Now().After(deadline) && returned >= 0 {
				break
			}
		}
		cmd.Process.Kill()
		cmd.Wait()
		if returned < 0 {
			t.Fatal("the child returned no step")
		}
		// Each round starts again from file 0 (done files stay done) and
		// goes further.
		var objs []pusher.Object
		for i := 0; i <= returned; i++ {
			objs = append(objs, obj(i))
		}
		got := lookup(t, mustNew(t, dir), "p", objs...)
		for _, o := range objs {
			if p := got[state.ID(o)]; p.Status != state.Done || p.Pos.Records != 2 {
				t.Fatalf("round %d: %s returned done, state has %+v", round, o.Key, p)
			}
		}
		t.Logf("round %d: %d files done before the kill", round, returned+1)
	}
}
