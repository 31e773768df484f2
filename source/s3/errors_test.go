package s3

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ferrydata/ferry/pusher"
	"github.com/ferrydata/ferry/source"
)

func TestClassify(t *testing.T) {
	status := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("x")}
	}
	for _, tc := range []struct {
		err  error
		want pusher.Class
	}{
		{status(503), pusher.ClassUnavailable},
		{status(500), pusher.ClassUnavailable},
		{status(403), pusher.ClassData},
		{&smithy.GenericAPIError{Code: "SlowDown"}, pusher.ClassUnavailable},
		{&smithy.GenericAPIError{Code: "AccessDenied"}, pusher.ClassData},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, pusher.ClassUnavailable},
		{io.ErrUnexpectedEOF, pusher.ClassData}, // a truncated body: issue of its own
		{fmt.Errorf("open: %w", source.ErrNotFound), pusher.ClassGone},
		{fmt.Errorf("open: %w", ErrChanged), pusher.ClassGone},
	} {
		if got := pusher.ClassOf(classify(tc.err)); got != tc.want {
			t.Errorf("class of %v = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A body whose read fails on the network is S3's failure.
	b := body{io.NopCloser(io.MultiReader(strings.NewReader("ab"), errReader{&net.OpError{Op: "read", Err: errors.New("reset")}}))}
	if _, err := io.ReadAll(b); pusher.ClassOf(err) != pusher.ClassUnavailable {
		t.Errorf("body read error class %v", pusher.ClassOf(err))
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
