package sqs

import (
	"testing"
	"time"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/runner"
	"github.com/ferrydata/ferry/state"
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
		onError  runner.OnError
		max      int
		res      runner.Result
		wantKeep bool
	}{
		{runner.OnErrorSkipFile, 3, runner.Result{Outcome: runner.Loaded}, false},
		{runner.OnErrorSkipFile, 3, runner.Result{Outcome: runner.Skipped}, false},
		{runner.OnErrorSkipFile, 3, runner.Result{Outcome: runner.Retry}, true},
		{runner.OnErrorSkipFile, 3, runner.Result{Outcome: runner.Failed, Attempts: 1}, true},
		{runner.OnErrorSkipFile, 3, runner.Result{Outcome: runner.Failed, Attempts: 3}, false},
		{runner.OnErrorSkipFile, 0, runner.Result{Outcome: runner.Failed, Attempts: 9}, true},
		{runner.OnErrorAbort, 3, runner.Result{Outcome: runner.Failed, Attempts: 3}, true},
	} {
		r, err := runner.New(runner.Config{Store: stubStore{}, Target: stubTarget{}, State: stubState{},
			Options: runner.Options{OnError: tc.onError, MaxAttempts: tc.max}})
		if err != nil {
			t.Fatal(err)
		}
		f := NewFeed(FeedConfig{Quarantined: r.Quarantined})
		if got := f.keep(tc.res); got != tc.wantKeep {
			t.Errorf("on-error %s, max-attempts %d, %+v: keep = %v, want %v", tc.onError, tc.max, tc.res, got, tc.wantKeep)
		}
	}
}

type stubStore struct{ source.Store }
type stubTarget struct{ pusher.Target }
type stubState struct{ state.Store }
