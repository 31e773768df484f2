package sqs

import (
	"errors"
	"flag"
	"time"
)

// AddFlags binds c and f to the flags of replicate --sqs-queue-url.
func AddFlags(fs *flag.FlagSet, c *Config, f *FeedConfig) {
	fs.StringVar(&c.QueueURL, "sqs-queue-url", "", "follow S3 event notifications on this SQS queue instead of polling (the source must be the s3:// bucket they come from)")
	fs.StringVar(&c.Endpoint, "sqs-endpoint", "", "SQS endpoint URL (default: AWS, or AWS_ENDPOINT_URL_SQS)")
	fs.DurationVar(&c.Wait, "sqs-wait", 20*time.Second, "long-polling wait of each receive (at most 20s)")
	fs.IntVar(&f.Receivers, "sqs-receivers", 2, "concurrent receive loops (each asks for one message after an empty receive, up to 10 otherwise)")
	fs.DurationVar(&c.Visibility, "sqs-visibility", time.Minute, "visibility timeout set on receive, extended at half of it while the message's objects load; also how long a message whose receive was lost stays hidden")
	fs.IntVar(&f.MaxReceives, "sqs-max-receives", 5, "a message that is not an S3 notification is recorded as rejected and deleted once received this many times (0: leave it to the queue's dead-letter redrive)")
	fs.IntVar(&f.MaxMessages, "sqs-max-messages", 100, "messages in flight (received and not yet deleted or released) at most")
	fs.BoolVar(&f.DeleteOnRemove, "delete-on-remove", false, "with --sqs-queue-url: an ObjectRemoved notification deletes the rows loaded from its key (PostgreSQL, fills _ferry_file) and marks it removed")
}

// Validate checks the feed's bounds.
func (f FeedConfig) Validate() error {
	if f.Receivers < 1 || f.MaxMessages < 1 || f.MaxReceives < 0 {
		return errors.New("--sqs-receivers and --sqs-max-messages must be at least 1, --sqs-max-receives at least 0")
	}
	return nil
}
