package inspect

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/state"
	"github.com/ferrydata/ferry/state/filestore"
)

// TestRetryLeavesOthers: Retry changes the failed file it is named, and
// returns one error for each key it left: not failed, or not there.
func TestRetryLeavesOthers(t *testing.T) {
	st, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	bad, good := pusher.Object{Key: "bad.csv", ETag: "e"}, pusher.Object{Key: "good.csv", ETag: "e"}
	for _, o := range []pusher.Object{bad, good} {
		if _, err := st.Start(ctx, "p", o); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Fail(ctx, "p", bad, errors.New("record 1: bad")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	left, err := Retry(ctx, st, "p", []string{bad.Key, good.Key, "gone.csv"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "retry bad.csv (etag e): 1 attempts, error: record 1: bad") || !strings.Contains(out.String(), `1 files of pipeline "p"`) {
		t.Errorf("output %q", out.String())
	}
	want := []string{`"good.csv": not failed (loading), left as it is`, `"gone.csv": no such file in pipeline "p"`}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("left %v, want %v", left, want)
	}
	fs, err := st.Files(ctx, state.FileQuery{Pipeline: "p", Keys: []string{bad.Key}})
	if err != nil || len(fs) != 1 || fs[0].Attempts != 0 {
		t.Errorf("bad.csv after retry: %+v, %v; want 0 attempts", fs, err)
	}
}
