// Package remote trains a search's candidates on other machines through
// NATS JetStream (https://docs.nats.io/nats-concepts/jetstream): Engine is
// an nn.Engine that hands each training to whichever worker takes it, and
// Worker is the loop a worker machine runs. Package search knows nothing
// of it: a search given an Engine (search.Config.Engine) trains through it
// exactly as through the local one, and because a worker runs the same
// native engine on the same data with the same configuration, it gets the
// same model, bit for bit — a remote search gives the result a local one
// with the same seed gives.
//
// What lives on the server (all JetStream file storage, created by
// whichever side connects first; Open):
//
//	stream  SPLITNAS_JOBS      subject splitnas.jobs, work-queue retention:
//	                           one message per training, removed when a
//	                           worker acknowledges it; duplicates (same
//	                           Nats-Msg-Id) suppressed for an hour
//	consumer splitnas-workers  durable pull consumer the workers share;
//	                           explicit acks, a job not acknowledged (nor
//	                           marked in progress) within AckWait is
//	                           delivered again to another worker
//	KV      splitnas-results   result of each training, keyed by the job's
//	                           key: SHA-256 of everything the training
//	                           depends on (data, settings, architecture)
//	objects splitnas-data      datasets and teacher targets, named by the
//	                           SHA-256 of their content
//	subject splitnas.done.KEY  core NATS notice a worker sends after
//	                           storing the result for KEY
//
// One training, step by step. The coordinator (Engine.Train) computes the
// job and its key; if the results bucket already holds a valid result for
// the key (a repeated or resumed search, on any machine) it returns that
// and sends nothing. Otherwise it uploads the data once per content hash,
// publishes the job with the key as message id, and waits for the result
// (woken by the notice, re-reading the bucket every Poll in case a notice
// was lost). A worker fetches the job, verifies it (the key is the hash of
// its content; the data's hashes are their names), trains it — sending an
// in-progress acknowledgement every AckWait/3 so that a long training is
// not delivered again while its worker lives —, stores the result in the
// bucket, sends the notice, and only then acknowledges the job. A worker
// killed mid-training never acknowledges: the job goes to another worker
// after AckWait. The coordinator checks every result it reads against its
// job (the key it names, the model's architecture, the validation score
// its history records against the model itself) and ignores one that does
// not fit, deletes it and publishes the job again; a notice for a key it
// is not waiting for is ignored.
//
// Nothing is lost when the server restarts: the job stream, the consumer's
// pending acknowledgements, the results and the data are all on disk, and
// clients reconnect (Connect retries forever). A training in flight when
// the server went away is delivered again after AckWait if its worker's
// acknowledgement did not get through; the repeated training stores the
// same result.
package remote
