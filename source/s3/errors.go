package s3

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ferrydata/ferry/pusher"
)

// classify marks err as pusher.ClassUnavailable when it says that S3 is
// unavailable or overloaded (a 5xx or 429 answer, SlowDown or another
// throttling code, a request timeout, a network error, an answer cut
// short) rather than something about the object; other errors are
// returned as they are.
func classify(err error) error {
	if err == nil || !transient(err) {
		return err
	}
	return pusher.Unavailable(err)
}

func transient(err error) bool {
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		if code := respErr.HTTPStatusCode(); code >= 500 || code == http.StatusTooManyRequests {
			return true
		}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
			"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests":
			return true
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// A response cut short: the connection broke, not the object.
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// body classifies the errors of an object's body as classify does: a
// connection reset while reading, or a body cut short, is S3's failure,
// not the file's. size is the body's length as announced (Content-Length;
// -1 when unknown): a body that ends before it is cut short too.
type body struct {
	io.ReadCloser
	size int64
	n    int64
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case err == nil:
	case err == io.EOF:
		if b.size >= 0 && b.n < b.size {
			err = pusher.Unavailable(fmt.Errorf("object body cut short after %d of %d bytes: %w", b.n, b.size, io.ErrUnexpectedEOF))
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = pusher.Unavailable(fmt.Errorf("object body cut short after %d of %d bytes: %w", b.n, b.size, err))
	default:
		err = classify(err)
	}
	return n, err
}
