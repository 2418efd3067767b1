package remote

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The names of what lives on the server (see the package documentation).
const (
	JobStream     = "SPLITNAS_JOBS"
	JobSubject    = "splitnas.jobs"
	DoneSubject   = "splitnas.done" // + "." + job key
	WorkerGroup   = "splitnas-workers"
	ResultsBucket = "splitnas-results"
	DataBucket    = "splitnas-data"
)

// DefaultAckWait is how long a job may go without an acknowledgement or a
// progress notice before it is delivered to another worker. Workers send
// progress every AckWait/3, so it only elapses when a worker is gone (or
// cut off from the server for that long).
const DefaultAckWait = 30 * time.Second

// dedupWindow is how long the job stream remembers message ids to drop
// duplicate publications of a job.
const dedupWindow = time.Hour

// bus holds the JetStream handles both sides use.
type bus struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	results jetstream.KeyValue
	data    jetstream.ObjectStore
}

// open creates (or finds) the job stream, the results bucket and the data
// bucket, with file storage, on the server nc is connected to. It is
// idempotent: coordinator and workers all call it.
func open(ctx context.Context, nc *nats.Conn) (*bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        JobStream,
		Description: "splitnas candidate trainings",
		Subjects:    []string{JobSubject},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  dedupWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: job stream %s: %w", JobStream, err)
	}
	results, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      ResultsBucket,
		Description: "splitnas training results by job key",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: results bucket %s: %w", ResultsBucket, err)
	}
	data, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      DataBucket,
		Description: "splitnas datasets and teacher targets by content hash",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: data bucket %s: %w", DataBucket, err)
	}
	return &bus{nc: nc, js: js, results: results, data: data}, nil
}

// consumer creates (or updates) the workers' shared pull consumer.
func (b *bus) consumer(ctx context.Context, ackWait time.Duration) (jetstream.Consumer, error) {
	c, err := b.js.CreateOrUpdateConsumer(ctx, JobStream, jetstream.ConsumerConfig{
		Durable:       WorkerGroup,
		Description:   "splitnas workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxDeliver:    -1,
		MaxAckPending: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: consumer %s: %w", WorkerGroup, err)
	}
	return c, nil
}
