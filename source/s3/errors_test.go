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
		{status(429), pusher.ClassUnavailable},
		{status(404), pusher.ClassData},
		{&smithy.GenericAPIError{Code: "Throttling"}, pusher.ClassUnavailable},
		{&smithy.GenericAPIError{Code: "NoSuchKey"}, pusher.ClassData},
		{fmt.Errorf("deserialize: %w", io.ErrUnexpectedEOF), pusher.ClassUnavailable},
		{fmt.Errorf("open: %w", source.ErrNotFound), pusher.ClassGone},
		{fmt.Errorf("open: %w", ErrChanged), pusher.ClassGone},
	} {
		if got := pusher.ClassOf(classify(tc.err)); got != tc.want {
			t.Errorf("class of %v = %v, want %v", tc.err, got, tc.want)
		}
	}
	// A body whose read fails on the network is S3's failure.
	b := &body{ReadCloser: io.NopCloser(io.MultiReader(strings.NewReader("ab"), errReader{&net.OpError{Op: "read", Err: errors.New("reset")}})), size: -1}
	if _, err := io.ReadAll(b); pusher.ClassOf(err) != pusher.ClassUnavailable {
		t.Errorf("body read error class %v", pusher.ClassOf(err))
	}
}

func TestBodyCutShort(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    io.Reader
		size int64
		want pusher.Class // of the error; ClassData with ok for none
		ok   bool
	}{
		{"complete", strings.NewReader("abcd"), 4, 0, true},
		{"unknown size", strings.NewReader("ab"), -1, 0, true},
		// net/http's body when the connection closes before Content-Length.
		{"unexpected EOF", io.MultiReader(strings.NewReader("ab"), errReader{io.ErrUnexpectedEOF}), 4, pusher.ClassUnavailable, false},
		// A body that ends early without saying so.
		{"early EOF", strings.NewReader("ab"), 4, pusher.ClassUnavailable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := io.ReadAll(&body{ReadCloser: io.NopCloser(tc.r), size: tc.size})
			if tc.ok {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if err == nil || pusher.ClassOf(err) != tc.want {
				t.Fatalf("error %v, class %v; want class %v", err, pusher.ClassOf(err), tc.want)
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("error %v does not wrap io.ErrUnexpectedEOF", err)
			}
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
