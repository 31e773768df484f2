package job

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	for receives, want := range map[int]time.Duration{0: 2 * time.Second, 1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 6: time.Minute, 100: time.Minute} {
		if got := retryDelay(receives); got != want {
			t.Errorf("retryDelay(%d) = %v, want %v", receives, got, want)
		}
	}
}

func TestKeepMessage(t *testing.T) {
	for _, tc := range []struct {
		onError  string
		max      int
		o        outcome
		wantKeep bool
	}{
		{OnErrorSkipFile, 3, outcome{kind: outLoaded}, false},
		{OnErrorSkipFile, 3, outcome{kind: outSkipped}, false},
		{OnErrorSkipFile, 3, outcome{kind: outRetry}, true},
		{OnErrorSkipFile, 3, outcome{kind: outFailed, attempts: 1}, true},
		{OnErrorSkipFile, 3, outcome{kind: outFailed, attempts: 3}, false},
		{OnErrorSkipFile, 0, outcome{kind: outFailed, attempts: 9}, true},
		{OnErrorAbort, 3, outcome{kind: outFailed, attempts: 3}, true},
	} {
		j := &Job{cfg: Config{OnError: tc.onError, MaxAttempts: tc.max}}
		if got := j.keep(tc.o); got != tc.wantKeep {
			t.Errorf("on-error %s, max-attempts %d, %+v: keep = %v, want %v", tc.onError, tc.max, tc.o, got, tc.wantKeep)
		}
	}
}
