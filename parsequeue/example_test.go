package parsequeue_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferrydata/ferry/parsequeue"
)

// A consumer pulls the parsed items in order on its own goroutine: Push
// sends them on an unbuffered channel, and the consumer receives until the
// queue's Context is done; Err is then nil when every item came through.
func ExampleQueue_consumer() {
	out := make(chan string)
	q := parsequeue.New(context.Background(), parsequeue.Config[string, string]{
		Workers: 4,
		Parse:   func(_ context.Context, in string) (string, error) { return strings.ToUpper(in), nil },
		Push: func(ctx context.Context, s string) error {
			select {
			case out <- s:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		},
	})
	go func() { // the producer; Close waits until the consumer has received everything
		for _, w := range []string{"one", "two", "three", "four", "five"} {
			if q.Add(context.Background(), w) != nil {
				break
			}
		}
		_ = q.Close(context.Background())
	}()
	for done := false; !done; {
		select {
		case s := <-out:
			fmt.Println(s)
		case <-q.Context().Done():
			done = true
		}
	}
	fmt.Println("end:", q.Err())
	// Output:
	// ONE
	// TWO
	// THREE
	// FOUR
	// FIVE
	// end: <nil>
}
